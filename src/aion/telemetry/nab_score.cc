#include "aion/telemetry/nab_score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <optional>

#include "aion/core/json.h"

namespace aion::telemetry::nab {
namespace {

// What a detection on one scored row is worth, and which window (if any) it falls in.
struct RowValue {
  double weight = 0;  // tp * sigma(y) / sigma(-1) inside a window, fp * sigma(y) outside
  int window = -1;    // index into the file's counted windows, -1 outside every window
};

struct FileRows {
  std::size_t first_scored = 0;
  std::vector<RowValue> rows;  // one per row of the file (probation included, unused)
  int counted_windows = 0;     // windows with at least one scored row
  std::vector<int> window_id;  // per window_rows() entry: id among counted ones, or -1
};

FileRows file_rows(const ScoredFile& file, const Profile& profile) {
  FileRows out;
  const std::size_t n = file.t_ms.size();
  out.first_scored = probationary_rows(n);
  out.rows.resize(n);
  const auto wins = window_rows(file.t_ms, file.windows);
  const double max_tp = scaled_sigmoid(-1.0);
  for (const auto& w : wins) {
    out.window_id.push_back(w.last >= out.first_scored ? out.counted_windows++ : -1);
  }
  std::size_t next = 0;  // next window in `wins`
  const WindowRows* prev = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    while (next < wins.size() && wins[next].last < i) prev = &wins[next++];
    RowValue& r = out.rows[i];
    if (next < wins.size() && wins[next].first <= i) {
      const auto& w = wins[next];
      const double width = static_cast<double>(w.last - w.first + 1);
      const double y = -static_cast<double>(w.last - i + 1) / width;
      r.weight = profile.tp_weight * scaled_sigmoid(y) / max_tp;
      r.window = out.window_id[next];
    } else if (prev == nullptr) {
      r.weight = -profile.fp_weight;
    } else {
      const double span = std::max<double>(1.0, static_cast<double>(prev->last - prev->first));
      const double y = static_cast<double>(i - prev->last) / span;
      r.weight = profile.fp_weight * scaled_sigmoid(y);
    }
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::size_t probationary_rows(std::size_t n) {
  return std::min<std::size_t>(static_cast<std::size_t>(std::floor(0.15 * static_cast<double>(n))),
                               750);
}

double scaled_sigmoid(double y) {
  if (y > 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * y)) - 1.0;
}

std::vector<WindowRows> window_rows(std::span<const std::int64_t> t_ms,
                                    std::span<const Window> windows) {
  // A linear scan rather than a binary search: NAB files repeat or step back a few
  // timestamps at clock changes, so rows are in file order, not strictly sorted.
  std::vector<WindowRows> out;
  for (const Window& w : windows) {
    std::optional<WindowRows> r;
    for (std::size_t i = 0; i < t_ms.size(); ++i) {
      if (t_ms[i] < w.start_ms || t_ms[i] > w.end_ms) continue;
      if (!r) r = WindowRows{i, i};
      r->last = i;
    }
    if (r) out.push_back(*r);
  }
  return out;
}

std::vector<int> row_labels(std::span<const std::int64_t> t_ms, std::span<const Window> windows) {
  std::vector<int> labels(t_ms.size(), 0);
  for (const auto& w : window_rows(t_ms, windows)) {
    std::fill(labels.begin() + static_cast<std::ptrdiff_t>(w.first),
              labels.begin() + static_cast<std::ptrdiff_t>(w.last) + 1, 1);
  }
  return labels;
}

Tally score_file(const ScoredFile& file, const Profile& profile, double threshold) {
  const FileRows fr = file_rows(file, profile);
  Tally t;
  std::vector<bool> detected(static_cast<std::size_t>(fr.counted_windows), false);
  for (std::size_t i = fr.first_scored; i < fr.rows.size(); ++i) {
    if (!(file.scores[i] >= threshold)) continue;
    const RowValue& r = fr.rows[i];
    if (r.window < 0) {
      t.raw += r.weight;
      ++t.fp;
    } else if (!detected[static_cast<std::size_t>(r.window)]) {
      detected[static_cast<std::size_t>(r.window)] = true;
      t.raw += r.weight;
      ++t.tp;
    }
  }
  t.fn = fr.counted_windows - t.tp;
  t.raw -= profile.fn_weight * t.fn;
  return t;
}

Tally score_corpus(std::span<const ScoredFile> files, const Profile& profile, double threshold) {
  Tally total;
  for (const auto& f : files) {
    Tally t = score_file(f, profile, threshold);
    total.raw += t.raw;
    total.tp += t.tp;
    total.fn += t.fn;
    total.fp += t.fp;
  }
  return total;
}

ThresholdResult optimize_threshold(std::span<const ScoredFile> files, const Profile& profile) {
  // Every scored row of the corpus; lowering the threshold past a row's score makes it a
  // detection. A window's value is that of its earliest detected row.
  struct Entry {
    double score;
    double weight;
    int window;  // corpus-wide id, -1 outside windows
    std::uint32_t row;
  };
  std::vector<Entry> entries;
  int windows = 0;
  for (const auto& f : files) {
    const FileRows fr = file_rows(f, profile);
    for (std::size_t i = fr.first_scored; i < fr.rows.size(); ++i) {
      const RowValue& r = fr.rows[i];
      if (std::isnan(f.scores[i])) continue;  // NaN is never >= a threshold
      entries.push_back({f.scores[i], r.weight, r.window < 0 ? -1 : windows + r.window,
                         static_cast<std::uint32_t>(i)});
    }
    windows += fr.counted_windows;
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.score > b.score; });

  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> earliest(static_cast<std::size_t>(windows), kNone);
  std::vector<double> earliest_weight(static_cast<std::size_t>(windows), 0.0);
  Tally cur{.raw = -profile.fn_weight * windows, .tp = 0, .fn = windows, .fp = 0};
  ThresholdResult best;
  best.tally = cur;
  best.threshold = entries.empty() ? 1.0
                                   : std::nextafter(std::max(1.0, entries.front().score),
                                                    std::numeric_limits<double>::max());
  for (std::size_t i = 0; i < entries.size();) {
    const double s = entries[i].score;
    for (; i < entries.size() && entries[i].score == s; ++i) {
      const Entry& e = entries[i];
      if (e.window < 0) {
        cur.raw += e.weight;
        ++cur.fp;
        continue;
      }
      auto w = static_cast<std::size_t>(e.window);
      if (earliest[w] == kNone) {
        cur.raw += profile.fn_weight + e.weight;
        ++cur.tp;
        --cur.fn;
      } else if (e.row < earliest[w]) {
        cur.raw += e.weight - earliest_weight[w];
      } else {
        continue;
      }
      earliest[w] = e.row;
      earliest_weight[w] = e.weight;
    }
    if (cur.raw > best.tally.raw + 1e-12) {
      best.tally = cur;
      best.threshold = s;
    }
  }
  return best;
}

double null_raw(std::span<const ScoredFile> files, const Profile& profile) {
  double raw = 0;
  for (const auto& f : files) raw -= profile.fn_weight * file_rows(f, profile).counted_windows;
  return raw;
}

double perfect_raw(std::span<const ScoredFile> files, const Profile& profile) {
  double raw = 0;
  for (const auto& f : files) raw += profile.tp_weight * file_rows(f, profile).counted_windows;
  return raw;
}

double normalized_score(double raw, double null, double perfect) {
  if (perfect == null) return 0.0;
  return 100.0 * (raw - null) / (perfect - null);
}

Result<std::int64_t> parse_timestamp(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return fail(ErrorCode::kParse,
                "timestamp '" + s + "' is not of the form YYYY-MM-DD HH:MM:SS[.ffffff]");
  }
  double frac = 0;
  std::string rest = s.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty()) {
    char* end = nullptr;
    if (rest[0] != '.' || (frac = std::strtod(rest.c_str(), &end), *end != '\0')) {
      return fail(ErrorCode::kParse, "timestamp '" + s + "' has trailing text '" + rest + "'");
    }
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 +
         static_cast<std::int64_t>(std::llround(frac * 1000.0));
}

Result<Series> load_series(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, path + ": cannot open the series file");
  std::string line;
  if (!std::getline(in, line) || trim(line) != "timestamp,value") {
    return fail(ErrorCode::kParse, path + ":1: expected the header 'timestamp,value'");
  }
  Series s;
  for (std::size_t lineno = 2; std::getline(in, line); ++lineno) {
    line = trim(line);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    const auto comma = line.find(',');
    if (comma == std::string::npos) return fail(ErrorCode::kParse, where + ": no comma");
    auto t = parse_timestamp(std::string_view(line).substr(0, comma));
    if (!t) return fail(ErrorCode::kParse, where + ": " + t.error().message());
    char* end = nullptr;
    const char* v = line.c_str() + comma + 1;
    const double value = std::strtod(v, &end);
    if (end == v || *end != '\0') {
      return fail(ErrorCode::kParse, where + ": value '" + std::string(v) + "' is not a number");
    }
    s.t_ms.push_back(*t);
    s.values.push_back(value);
  }
  return s;
}

Result<std::map<std::string, std::vector<Window>>> load_windows(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, path + ": cannot open the windows file");
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kParse, path + ": not a JSON object of file name -> windows");
  }
  std::map<std::string, std::vector<Window>> out;
  for (const auto& [name, list] : j.items()) {
    if (!list.is_array()) return fail(ErrorCode::kParse, path + ": " + name + ": not an array");
    auto& windows = out[name];
    for (const auto& w : list) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string()) {
        return fail(ErrorCode::kParse,
                    path + ": " + name + ": a window must be [\"start\", \"end\"] timestamps");
      }
      auto a = parse_timestamp(w[0].get<std::string>());
      auto b = parse_timestamp(w[1].get<std::string>());
      if (!a || !b) {
        return fail(ErrorCode::kParse,
                    path + ": " + name + ": " + (a ? b.error().message() : a.error().message()));
      }
      if (*b < *a)
        return fail(ErrorCode::kParse, path + ": " + name + ": window ends before it starts");
      windows.push_back({*a, *b});
    }
    std::sort(windows.begin(), windows.end(),
              [](const Window& x, const Window& y) { return x.start_ms < y.start_ms; });
    for (std::size_t i = 1; i < windows.size(); ++i) {
      if (windows[i].start_ms <= windows[i - 1].end_ms) {
        return fail(ErrorCode::kParse, path + ": " + name + ": windows overlap");
      }
    }
  }
  return out;
}

Result<std::vector<Profile>> load_profiles(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, path + ": cannot open the profiles file");
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kParse, path + ": not a JSON object of profile name -> CostMatrix");
  }
  std::vector<Profile> out;
  for (const auto& [name, body] : j.items()) {
    const Json* m = body.is_object() && body.contains("CostMatrix") ? &body["CostMatrix"] : nullptr;
    if (m == nullptr || !m->is_object()) {
      return fail(ErrorCode::kParse, path + ": profile '" + name + "' has no CostMatrix object");
    }
    Profile p{.name = name};
    for (auto [key, dst] :
         {std::pair{"tpWeight", &p.tp_weight}, std::pair{"fpWeight", &p.fp_weight},
          std::pair{"fnWeight", &p.fn_weight}}) {
      if (!m->contains(key) || !(*m)[key].is_number()) {
        return fail(ErrorCode::kParse,
                    path + ": profile '" + name + "': CostMatrix." + key + " must be a number");
      }
      *dst = (*m)[key].get<double>();
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace aion::telemetry::nab
