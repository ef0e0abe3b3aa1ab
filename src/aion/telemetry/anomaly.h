// A streaming anomaly detector for one metric series: feed it samples in time order, get back
// for each one a score in [0, 1] (how surprising the sample is given everything before it,
// never anything after) and, for high scores, what made it surprising.
//
// Memory is fixed per series (about 4.4 kB: running estimates, seven fixed histograms, a
// 24-slot daily profile and a codebook of 8 short shapes), and update() is O(1), so one
// Detector per series of a node's telemetry costs the same after a year as after a minute.
//
// Several views of each sample give a "surprise" (a robust z-score):
//   - level: the value against a slow, outlier-clipped baseline (EWMA of the level and of the
//     absolute deviation);
//   - change: the step from the previous value against the typical step (spikes, jumps);
//   - drift: the mean of the last few values against the slow baseline (level shifts);
//   - season: the value against what this hour of the day usually looks like (a profile of
//     kSeasonSlots hourly EWMA levels and deviations), and the mean of the last few such
//     residuals (a day that does not look like the others);
//   - spread: the recent typical step against the slow one, either way (a series turning
//     noisy, or going flat where it used to move);
//   - shape: the last few samples, mean removed, against a small codebook of the shapes the
//     series has shown (a pattern that changes while level and step size stay ordinary).
// Each view keeps a histogram of its own past surprises (log-spaced bins, exponentially
// forgotten), so a surprise is judged by how rare it is *for this series*: spikes of a size
// the series always has score low, a step larger than any seen so far scores near 1. The
// rarest view wins (with a correction for looking several times), mapped to [0, 1) by
// L / (L + max_log_p) of L = -log10(tail probability). After a report the detector reports again
// only what is rarer for a while, and after a strong report nothing at all for a fifth of the
// learning period, so one event gives one alarm rather than a burst.
//
// The first `learn_rows` samples only train the estimates and score 0.
//
// Thread-compatible, not thread-safe: one Detector must not be updated from two threads at
// once (Telemetry keeps each on its loop thread); separate Detectors share nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "aion/telemetry/shape_codebook.h"

namespace aion::telemetry {

struct DetectorOptions {
  // Samples used only to learn (score 0). NAB's probationary period is 15% of a file.
  std::size_t learn_rows = 300;
  // Time constant, in samples, of the slow baseline.
  double slow_rows = 1000;
  // Rows over which the short-term (drift) means are taken (ring buffer, at most kMaxShort).
  // 1 makes the drift views repeat the level views: on NAB, means over 2-8 rows added more
  // false alarms than early detections.
  std::size_t short_rows = 1;
  // Residuals beyond clip_z deviations update the baseline as if they were clip_z.
  double clip_z = 3.5;
  // Time constant, in days, of the seasonal profile.
  double season_days = 7;
  // Time constant, in samples, over which the surprise histograms forget.
  double memory_rows = 5000;
  // -log10(tail probability) that maps to a score of 0.5; the score is L / (L + max_log_p)
  // for L = -log10(p), so it never saturates: rarer always scores higher.
  double max_log_p = 1.5;
  // After a report, the score needed to report again decays from it with this time constant.
  double refractory_rows = 1000;
  // Time constant, in samples, of the recent typical step the spread view compares with the
  // slow one (0 switches the view off).
  double spread_rows = 100;
  // Samples an hour-of-day slot must have seen before the season view judges by it; until then
  // the view stays silent (a slot learned from a day or two of samples calls every ordinary
  // hour rare).
  double season_min_samples = 10;
  // The season view's deviation is at least this share of the slow baseline's deviation: a
  // slot's own deviation, learned from a few dozen samples of one hour of the day, is at times
  // far too small, and every ordinary sample of that hour then looks rare (on NAB the season
  // view made 178 of the 315 false alarms). 0 trusts the slots alone.
  double season_dev_floor = 0.3;
  // The span of values the series can take, when it is known (0 = unknown): a ratio spans 1,
  // and NAB hands every detector its file's minimum and maximum. Every deviation and typical
  // step then counts as at least range_share of it, so the noise of a series that barely
  // moves (a thousandth of its span) stays near z = 0 instead of filling the rarity scale and
  // raising alarms of its own; a move off it is still rare. Without it, the floor is 1e-3 of
  // the span seen so far.
  double value_range = 0;
  double range_share = 0.02;
  // After a report scoring at least hold_level, the next hold_share * learn_rows samples report
  // nothing: an event that keeps growing (a level shift that keeps going) gives one alarm, not a
  // staircase of ever rarer ones. The share of the learning period is CAD OSE's choice (its
  // rest period is a fifth of NAB's probationary period); 0 switches the hold off.
  double hold_share = 0.2;
  double hold_level = 0.62;
  // The shape view: samples per shape (0 switches it off), codes kept, and how many typical
  // distances away a shape must be to become a code of its own (see shape_codebook.h).
  std::size_t shape_rows = 6;
  std::size_t shape_codes = 8;
  double shape_novel = 3;
};

// Which view produced a score.
enum class AnomalyKind { kNone, kLevel, kChange, kDrift, kSeason, kSeasonDrift, kSpread, kShape };

struct Score {
  double score = 0;  // in [0, 1]
  AnomalyKind kind = AnomalyKind::kNone;
  double value = 0;       // the sample
  double baseline = 0;    // the level it was compared with
  double sigma = 0;       // how many deviations (or typical steps) away
  double tail = 1;        // how often the series was this surprising before
  bool above = true;      // value above the baseline
  double baseline_s = 0;  // the baseline's time scale, in seconds (0 when unknown)

  // "6.2 sigma above its 1 h baseline (value 97.0, baseline 41.3)"; empty for kNone.
  std::string explain() const;
};

class Detector {
 public:
  static constexpr std::size_t kMaxShort = 8;
  static constexpr std::size_t kSeasonSlots = 24;  // hours of the day
  static constexpr std::size_t kViews = 7;

  explicit Detector(DetectorOptions options = {});

  // Scores one sample. Non-finite values score 0 and do not touch the state; samples are
  // expected in time order (t_ms is used only to express time scales in explanations).
  Score update(std::int64_t t_ms, double value);

  const DetectorOptions& options() const { return opt_; }
  std::size_t samples() const { return n_; }

 private:
  // Log-spaced histogram of a view's past surprises, exponentially forgotten.
  class Rarity {
   public:
    static constexpr int kBins = 96;  // 8 per octave from 2^-4 to 2^8
    // Tail probability of `z` among the past surprises, then adds z to them.
    double observe(double z, double keep, bool learn_only);

   private:
    std::array<float, kBins> count_{};
    double total_ = 0;
  };
  struct Slot;

  // The steps of update(), in order.
  void observe_time(std::int64_t t_ms, double value);  // first sample, sampling interval
  double push_short(double value);                     // the short window's new mean
  // The rarest of the views in use (its index, -1 while none) and its tail probability.
  int rarest_view(const std::array<double, kViews>& z, bool learning, double& p);
  void learn(double value, double dev, double step, Slot& slot, double sdev);
  void report(double best, Score& out);  // one alarm per event

  DetectorOptions opt_;
  std::size_t n_ = 0;
  std::int64_t last_t_ = 0;
  double dt_ms_ = 0;  // EWMA of the sampling interval
  double prev_ = 0;   // previous value

  // Slow, clipped baseline: level and mean absolute deviation; typical step size.
  double mean_ = 0;
  double dev_ = 0;
  double step_ = 0;
  double spread_ = 0;  // recent typical step (time constant spread_rows)
  double lo_ = 0;      // range seen so far, a floor for the deviations of a flat series
  double hi_ = 0;

  std::array<double, kMaxShort> short_{};
  std::size_t short_pos_ = 0;
  double short_sum_ = 0;

  struct Slot {
    double mean = 0;
    double dev = 0;
    double n = 0;
  };
  std::array<Slot, kSeasonSlots> season_{};
  std::array<double, kMaxShort> season_short_{};  // recent signed seasonal residuals (z)
  double season_sum_ = 0;

  ShapeCodebook shapes_;
  std::array<Rarity, kViews> rarity_{};
  double refractory_ = 0;  // level a new score must exceed to be reported
  double held_ = 0;        // samples still held back after a strong report
};

}  // namespace aion::telemetry
