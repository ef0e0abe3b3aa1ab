// nab_eval: the streaming anomaly detector (aion/telemetry/anomaly.h) on the Numenta Anomaly
// Benchmark. Runs one Detector per series over every NAB file as a stream, writes NAB's
// results layout (results/<detector>/<category>/<detector>_<file>.csv with
// timestamp,value,anomaly_score,label), scores it with the NAB rules (aion/telemetry/nab_score.h)
// under the three profiles and prints the normalized scores beside NAB's scoreboard.
//   nab_eval [--nab DIR] [--files N | --only SUBSTRING] [--results DIR] [--out FILE]
//            [--set knob=value ...] [--min-standard X] [--no-csv] [--per-file] [--no-range]
// --files N takes N files round-robin over the categories; --min-standard makes the exit
// status 3 when the standard score is not above X (the CI smoke test uses 0, the null detector).
// Each detector gets its file's value range (maximum - minimum), as NAB's runner hands every
// detector inputMin and inputMax; --no-range withholds it (a stream with no known range).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/telemetry/anomaly.h"
#include "aion/telemetry/nab_score.h"

namespace {

namespace fs = std::filesystem;
namespace nab = aion::telemetry::nab;
using aion::telemetry::Detector;
using aion::telemetry::DetectorOptions;

constexpr const char* kDetector = "aion";

// NAB's published scoreboard (data/nab/README.md, NAB commit ea702d75), for comparison only.
struct Published {
  const char* name;
  const char* standard;
  const char* low_fp;
  const char* low_fn;
};
constexpr Published kScoreboard[] = {
    {"ARTime", "74.9", "65.1", "80.4"},
    {"Numenta HTM", "70.5-69.7", "62.6-61.7", "75.2-74.2"},
    {"CAD OSE", "69.9", "67.0", "73.2"},
    {"earthgecko Skyline", "58.2", "46.2", "63.9"},
    {"KNN CAD", "58.0", "43.4", "64.8"},
    {"Relative Entropy", "54.6", "47.6", "58.8"},
    {"Random Cut Forest", "51.7", "38.4", "59.7"},
    {"Twitter ADVec v1.0.0", "47.1", "33.6", "53.5"},
    {"Windowed Gaussian", "39.6", "20.9", "47.4"},
    {"Etsy Skyline", "35.7", "27.1", "44.5"},
    {"Bayesian Changepoint", "17.7", "3.2", "32.2"},
    {"EXPoSE", "16.4", "3.2", "26.9"},
    {"Random", "11.0", "1.2", "19.5"},
    {"Null", "0.0", "0.0", "0.0"},
};

// The knobs --set can change, by name; also what the JSON records.
std::map<std::string, double*> knobs(DetectorOptions& o) {
  return {{"slow_rows", &o.slow_rows},     {"clip_z", &o.clip_z},
          {"memory_rows", &o.memory_rows}, {"season_days", &o.season_days},
          {"max_log_p", &o.max_log_p},     {"refractory_rows", &o.refractory_rows},
          {"spread_rows", &o.spread_rows}, {"season_min_samples", &o.season_min_samples},
          {"hold_share", &o.hold_share},   {"hold_level", &o.hold_level},
          {"shape_novel", &o.shape_novel}, {"season_dev_floor", &o.season_dev_floor},
          {"range_share", &o.range_share}};
}

bool set_knob(DetectorOptions& o, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos) return false;
  std::string k = kv.substr(0, eq);
  double v = std::atof(kv.c_str() + eq + 1);
  for (auto [name, field] :
       {std::pair{"short_rows", &o.short_rows}, std::pair{"shape_rows", &o.shape_rows},
        std::pair{"shape_codes", &o.shape_codes}}) {
    if (k == name) {
      *field = static_cast<std::size_t>(v);
      return true;
    }
  }
  auto m = knobs(o);
  auto it = m.find(k);
  if (it == m.end()) return false;
  *it->second = v;
  return true;
}

aion::Json knobs_json(DetectorOptions o) {
  aion::Json j;
  for (auto& [k, p] : knobs(o)) j[k] = *p;
  j["short_rows"] = o.short_rows;
  j["shape_rows"] = o.shape_rows;
  j["shape_codes"] = o.shape_codes;
  j["learn_rows"] = "NAB probationary length of each file";
  return j;
}

// The series to run: "category/file.csv", sorted; --files takes them round-robin over the
// categories so a small subset still has labeled windows.
std::vector<std::string> pick_files(const fs::path& data, std::size_t max_files,
                                    const std::string& only) {
  std::map<std::string, std::vector<std::string>> by_cat;
  for (const auto& e : fs::recursive_directory_iterator(data)) {
    if (e.path().extension() != ".csv") continue;
    std::string rel = fs::relative(e.path(), data).generic_string();
    if (!only.empty() && rel.find(only) == std::string::npos) continue;
    by_cat[e.path().parent_path().filename().string()].push_back(rel);
  }
  for (auto& [c, v] : by_cat) std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (std::size_t round = 0;; ++round) {
    bool any = false;
    for (auto& [c, v] : by_cat) {
      if (round < v.size()) {
        out.push_back(v[round]);
        any = true;
      }
    }
    if (!any) break;
  }
  if (max_files > 0 && out.size() > max_files) out.resize(max_files);
  std::sort(out.begin(), out.end());
  return out;
}

bool write_results_csv(const fs::path& path, const nab::Series& s,
                       const std::vector<double>& scores, const std::vector<int>& labels) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "timestamp,value,anomaly_score,label\n");
  for (std::size_t i = 0; i < s.t_ms.size(); ++i) {
    std::time_t secs = static_cast<std::time_t>(s.t_ms[i] / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    std::fprintf(f, "%s,%.17g,%.6f,%d\n", ts, s.values[i], scores[i], labels[i]);
  }
  return std::fclose(f) == 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: nab_eval [--nab DIR] [--files N | --only SUBSTRING] [--results DIR]\n"
               "                [--out FILE] [--set knob=value ...] [--min-standard X] "
               "[--no-csv]\n                [--per-file] [--no-range]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path nab_dir = fs::path(AION_SOURCE_DIR) / "../shared/data/nab";
  fs::path results = AION_NAB_RESULTS_DIR;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/nab.json";
  std::size_t max_files = 0;
  std::string only;
  bool csv = true;
  bool per_file = false;
  bool use_range = true;
  std::optional<double> min_standard;
  DetectorOptions opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--nab" && has) {
      nab_dir = argv[++i];
    } else if (a == "--files" && has) {
      max_files = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--only" && has) {
      only = argv[++i];
    } else if (a == "--results" && has) {
      results = argv[++i];
    } else if (a == "--out" && has) {
      out = argv[++i];
    } else if (a == "--set" && has) {
      if (!set_knob(opt, argv[++i])) {
        std::fprintf(stderr, "nab_eval: unknown knob or missing '=' in '%s'\n", argv[i]);
        return 2;
      }
    } else if (a == "--min-standard" && has) {
      min_standard = std::atof(argv[++i]);
    } else if (a == "--per-file") {
      per_file = true;
    } else if (a == "--no-csv") {
      csv = false;
    } else if (a == "--no-range") {
      use_range = false;
    } else {
      return usage();
    }
  }
  std::error_code ec;
  if (!fs::is_directory(nab_dir / "data", ec)) {
    std::fprintf(stderr, "nab_eval: %s has no data/ directory; pass --nab DIR (NAB's root)\n",
                 nab_dir.c_str());
    return 1;
  }
  auto windows = nab::load_windows((nab_dir / "labels/combined_windows.json").string());
  auto profiles = nab::load_profiles((nab_dir / "config/profiles.json").string());
  if (!windows || !profiles) {
    std::fprintf(stderr, "nab_eval: %s\n",
                 (windows ? profiles.error() : windows.error()).message().c_str());
    return 1;
  }
  const auto names = pick_files(nab_dir / "data", max_files, only);
  if (names.empty()) {
    std::fprintf(stderr, "nab_eval: no series matched\n");
    return 1;
  }

  const auto wall0 = std::chrono::steady_clock::now();
  double detect_s = 0;
  std::size_t rows = 0;
  std::vector<nab::ScoredFile> files;
  for (const auto& name : names) {
    auto series = nab::load_series((nab_dir / "data" / name).string());
    if (!series) {
      std::fprintf(stderr, "nab_eval: %s\n", series.error().message().c_str());
      return 1;
    }
    nab::ScoredFile f{.name = name, .t_ms = series->t_ms};
    if (auto it = windows->find(name); it != windows->end()) f.windows = it->second;
    DetectorOptions o = opt;
    o.learn_rows = nab::probationary_rows(series->t_ms.size());
    if (use_range && !series->values.empty()) {
      const auto [lo, hi] = std::minmax_element(series->values.begin(), series->values.end());
      o.value_range = *hi - *lo;
    }
    Detector det(o);
    f.scores.resize(series->t_ms.size());
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < series->t_ms.size(); ++i) {
      f.scores[i] = det.update(series->t_ms[i], series->values[i]).score;
    }
    detect_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rows += series->t_ms.size();
    if (csv) {
      fs::path p(name);
      fs::path dst = results / "results" / kDetector / p.parent_path() /
                     (std::string(kDetector) + "_" + p.filename().string());
      if (!write_results_csv(dst, *series, f.scores, nab::row_labels(f.t_ms, f.windows))) {
        std::fprintf(stderr, "nab_eval: cannot write %s\n", dst.c_str());
        return 1;
      }
    }
    files.push_back(std::move(f));
  }

  aion::Json j;
  j["benchmark"] = "nab_eval";
  j["version"] = aion::kVersion;
  j["what"] = "NAB normalized scores of aion's streaming detector (one threshold per profile)";
  j["detector"] = kDetector;
  j["knobs"] = knobs_json(opt);
  j["knobs"]["value_range"] =
      use_range ? "each file's maximum - minimum (NAB's inputMax - inputMin)" : "none (--no-range)";
  j["files"] = files.size();
  j["rows"] = rows;
  std::map<std::string, double> score_of;
  for (const auto& p : *profiles) {
    auto best = nab::optimize_threshold(files, p);
    double null = nab::null_raw(files, p), perfect = nab::perfect_raw(files, p);
    double norm = nab::normalized_score(best.tally.raw, null, perfect);
    score_of[p.name] = norm;
    j["profiles"][p.name] = {{"score", norm},          {"threshold", best.threshold},
                             {"raw", best.tally.raw},  {"raw_null", null},
                             {"raw_perfect", perfect}, {"tp", best.tally.tp},
                             {"fp", best.tally.fp},    {"fn", best.tally.fn}};
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  j["seconds"] = {{"detector", detect_s}, {"total", wall_s}};

  std::printf("nab_eval: %zu series, %zu rows; detector %.3f s (%.1f M rows/s), total %.2f s\n",
              files.size(), rows, detect_s, static_cast<double>(rows) / detect_s / 1e6, wall_s);
  for (const auto& p : *profiles) {
    const auto& jp = j["profiles"][p.name];
    std::printf("  %-20s threshold %.6f  tp %3d  fp %4d  fn %3d  raw %8.3f\n", p.name.c_str(),
                jp["threshold"].get<double>(), jp["tp"].get<int>(), jp["fp"].get<int>(),
                jp["fn"].get<int>(), jp["raw"].get<double>());
  }
  if (per_file) {
    const auto& p = profiles->back();  // standard (the names sort it last)
    const double thr = j["profiles"][p.name]["threshold"].get<double>();
    for (const auto& f : files) {
      auto t = nab::score_file(f, p, thr);
      std::printf("    %-58s tp %d fn %d fp %3d raw %7.3f\n", f.name.c_str(), t.tp, t.fn, t.fp,
                  t.raw);
    }
  }
  std::printf("\n%-22s %10s %10s %10s\n", "detector", "standard", "low FP", "low FN");
  std::printf("%-22s %10.1f %10.1f %10.1f   <- this run%s\n", "aion (this)", score_of["standard"],
              score_of["reward_low_FP_rate"], score_of["reward_low_FN_rate"],
              names.size() < 58 ? " (subset: not comparable)" : "");
  for (const auto& s : kScoreboard) {
    std::printf("%-22s %10s %10s %10s\n", s.name, s.standard, s.low_fp, s.low_fn);
  }
  if (!out.empty()) {
    fs::create_directories(fs::path(out).parent_path(), ec);
    std::ofstream(out) << j.dump(2) << "\n";
    std::printf("wrote %s%s\n", out.c_str(),
                csv ? (" and " + (results / "results").string()).c_str() : "");
  }
  if (min_standard && !(score_of["standard"] > *min_standard)) {
    std::fprintf(stderr, "nab_eval: standard score %.2f is not above %.2f\n", score_of["standard"],
                 *min_standard);
    return 3;
  }
  return 0;
}
