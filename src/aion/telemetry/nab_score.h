// The Numenta Anomaly Benchmark (NAB) scoring rules, implemented from their description
// (Lavin & Ahmad 2015, and the README of the NAB repository), as pure functions over in-memory
// data, plus loaders for NAB's files (series CSV, combined_windows.json, profiles.json).
//
// Conventions. A file's rows are scored from its probationary length on. A row is a detection
// when its score is >= the threshold. Row k (0-based) of a window of W rows sits at the
// relative position y = -1 + k / W (the start at -1, the last row just before 0); a row j rows
// after the end of the preceding window sits at y = j / (W - 1) of that window. The scaled
// sigmoid sigma(y) = 2 / (1 + e^(5y)) - 1, taken as -1 for y > 3. Inside a window only the
// earliest detection counts, worth tp * sigma(y) / sigma(-1); a window with none costs -fn;
// a detection outside every window costs fp * sigma(y) after a window and -fp before any.
//
// All functions are thread-safe: they share no state (the loaders read only their files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion::telemetry::nab {

// A labeled anomaly window, both ends inclusive.
struct Window {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

// One cost matrix of config/profiles.json.
struct Profile {
  std::string name;
  double tp_weight = 1;
  double fp_weight = 0.11;
  double fn_weight = 1;
};

// One series with a detector's scores, rows in file order (NAB files repeat or step back a
// few timestamps at clock changes; rows, not times, are what is scored).
// scores.size() == t_ms.size().
struct ScoredFile {
  std::string name;  // "realKnownCause/nyc_taxi.csv"
  std::vector<std::int64_t> t_ms;
  std::vector<double> scores;
  std::vector<Window> windows;  // sorted, non-overlapping
};

// Outcome of one threshold over one file or the corpus.
struct Tally {
  double raw = 0;  // the raw NAB score
  int tp = 0;      // windows detected
  int fn = 0;      // windows missed
  int fp = 0;      // detections outside every window
};

// The best threshold over a corpus for one profile.
struct ThresholdResult {
  double threshold = 1;
  Tally tally;
};

// The first min(floor(0.15 n), 750) rows are not scored.
std::size_t probationary_rows(std::size_t n);

// 2 / (1 + e^(5y)) - 1, or -1 when y > 3.
double scaled_sigmoid(double y);

// Row index ranges [first, last] of each window that covers at least one row: from the first
// to the last row whose time falls inside the window.
struct WindowRows {
  std::size_t first = 0;
  std::size_t last = 0;
};
std::vector<WindowRows> window_rows(std::span<const std::int64_t> t_ms,
                                    std::span<const Window> windows);

// Per row: 1 inside a window, 0 outside (NAB's `label` column).
std::vector<int> row_labels(std::span<const std::int64_t> t_ms, std::span<const Window> windows);

// Scores one file at one threshold.
Tally score_file(const ScoredFile& file, const Profile& profile, double threshold);

// Scores the corpus at one threshold (the sum over files).
Tally score_corpus(std::span<const ScoredFile> files, const Profile& profile, double threshold);

// The single threshold that maximizes the corpus's raw total: one sweep over the rows sorted
// by score, O(R log R) for R scored rows. Among equally good thresholds the highest wins; a
// corpus where no threshold beats the null detector gets a threshold above every score.
ThresholdResult optimize_threshold(std::span<const ScoredFile> files, const Profile& profile);

// Raw totals of the null detector (never fires: -fn per window) and the perfect one (fires at
// the start of every window: +tp per window), over the windows that cover scored rows.
double null_raw(std::span<const ScoredFile> files, const Profile& profile);
double perfect_raw(std::span<const ScoredFile> files, const Profile& profile);

// 100 * (raw - null) / (perfect - null); 0 when the corpus has no window.
double normalized_score(double raw, double null, double perfect);

// "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) to ms since the epoch.
Result<std::int64_t> parse_timestamp(std::string_view text);

// A NAB series file: header `timestamp,value`, then one row per line, kept in file order.
// Errors name the file and line.
struct Series {
  std::vector<std::int64_t> t_ms;
  std::vector<double> values;
};
Result<Series> load_series(const std::string& path);

// labels/combined_windows.json: file name -> its windows.
Result<std::map<std::string, std::vector<Window>>> load_windows(const std::string& path);

// config/profiles.json: the cost matrices, in the file's order of names (sorted).
Result<std::vector<Profile>> load_profiles(const std::string& path);

}  // namespace aion::telemetry::nab
