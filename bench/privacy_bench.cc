// privacy_bench: the privacy gate's detection quality and speed.
//
// Quality: reads a labelled corpus (bench/privacy_corpus.py writes it: records with planted
// secrets and personal data and benign look-alikes) and reports, per category, the share of
// planted values that no longer appear in the redacted text (recall), and the share of
// look-alikes that survive verbatim. The detectors were tuned on the "tune" split (seed 1);
// the figures reported are those of the "report" split (seed 2, with templates the tune split
// never contains).
// Speed: redacts the report corpus's texts, repeated to about 64 MB, on one core, and prints
// MB/s for scan and for redact.
//
//   privacy_bench [--corpus FILE] [--tune FILE] [--out FILE] [--mb N]
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/privacy/redactor.h"
#include "bench_info.h"

namespace {

struct Score {
  std::map<std::string, std::pair<int, int>> recall;  // category -> (caught, planted)
  int benign = 0, kept = 0, records = 0;
  std::vector<std::string> misses;  // a few, for tuning
};

std::vector<aion::Json> read_corpus(const std::filesystem::path& file) {
  std::vector<aion::Json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(aion::Json::parse(line));
  }
  return out;
}

Score evaluate(const aion::privacy::Redactor& r, const std::vector<aion::Json>& corpus) {
  Score s;
  for (const auto& rec : corpus) {
    const std::string text = rec["text"];
    aion::privacy::PlaceholderMap map;
    auto out = r.redact(text, map);
    ++s.records;
    for (const auto& p : rec["planted"]) {
      const std::string cat = p["category"], value = p["value"];
      auto& [caught, planted] = s.recall[cat];
      ++planted;
      if (out.text.find(value) == std::string::npos) {
        ++caught;
      } else if (s.misses.size() < 40) {
        s.misses.push_back("miss " + cat + " '" + value + "' [" + std::string(rec["template"]) +
                           "]");
      }
    }
    for (const auto& b : rec["benign"]) {
      ++s.benign;
      if (out.text.find(std::string(b)) != std::string::npos) {
        ++s.kept;
      } else if (s.misses.size() < 40) {
        s.misses.push_back("lost benign '" + std::string(b) + "' [" + std::string(rec["template"]) +
                           "]");
      }
    }
  }
  return s;
}

aion::Json score_json(const Score& s) {
  aion::Json cats = aion::Json::object();
  int pc = 0, pp = 0;
  for (const auto& [cat, v] : s.recall) {
    cats[cat] = {{"caught", v.first},
                 {"planted", v.second},
                 {"recall", v.second ? double(v.first) / v.second : 1.0}};
    if (cat != "secret") {
      pc += v.first;
      pp += v.second;
    }
  }
  const auto& sec = s.recall.count("secret") ? s.recall.at("secret") : std::pair<int, int>{0, 0};
  return {{"records", s.records},
          {"recall_by_category", cats},
          {"recall_secrets", sec.second ? double(sec.first) / sec.second : 1.0},
          {"recall_personal", pp ? double(pc) / pp : 1.0},
          {"lookalikes", s.benign},
          {"lookalikes_kept", s.benign ? double(s.kept) / s.benign : 1.0}};
}

void print_score(const char* name, const aion::Json& j) {
  std::printf("%s split: %d records\n", name, j["records"].get<int>());
  std::printf("  %-12s %8s %8s %8s\n", "category", "planted", "caught", "recall");
  for (const auto& [cat, v] : j["recall_by_category"].items()) {
    std::printf("  %-12s %8d %8d %8.4f\n", cat.c_str(), v["planted"].get<int>(),
                v["caught"].get<int>(), v["recall"].get<double>());
  }
  std::printf("  secrets recall %.4f, personal data recall %.4f, look-alikes kept %.4f (of %d)\n",
              j["recall_secrets"].get<double>(), j["recall_personal"].get<double>(),
              j["lookalikes_kept"].get<double>(), j["lookalikes"].get<int>());
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path src = AION_SOURCE_DIR;
  std::filesystem::path corpus = src / "bench/privacy_corpus_report.jsonl";
  std::filesystem::path tune = src / "bench/privacy_corpus_tune.jsonl";
  std::filesystem::path out_file = std::filesystem::path(AION_BENCH_RESULTS_DIR) / "privacy.json";
  double target_mb = 64;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc)
      corpus = argv[++i];
    else if (a == "--tune" && i + 1 < argc)
      tune = argv[++i];
    else if (a == "--out" && i + 1 < argc)
      out_file = argv[++i];
    else if (a == "--mb" && i + 1 < argc)
      target_mb = std::stod(argv[++i]);
    else if (a == "-v")
      verbose = true;
    else {
      std::fprintf(
          stderr,
          "usage: privacy_bench [--corpus FILE] [--tune FILE] [--out FILE] [--mb N] [-v]\n");
      return 2;
    }
  }
  auto set = aion::privacy::DetectorSet::load_dir(src / "data/privacy");
  if (!set) {
    std::fprintf(stderr, "privacy_bench: %s\n", set.error().message().c_str());
    return 1;
  }
  auto r = aion::privacy::Redactor::create(std::move(*set), aion::privacy::Policy{});
  if (!r) {
    std::fprintf(stderr, "privacy_bench: %s\n", r.error().message().c_str());
    return 1;
  }
  const char* build = aion::bench::build_kind();
  std::printf("aion %s (%s), cpu: %s\n", aion::kVersion, build, aion::bench::cpu_model().c_str());

  aion::Json results{
      {"aion_version", aion::kVersion}, {"build", build}, {"cpu", aion::bench::cpu_model()}};
  const auto tune_corpus = read_corpus(tune);
  const auto report_corpus = read_corpus(corpus);
  if (report_corpus.empty()) {
    std::fprintf(stderr, "privacy_bench: %s: no records (run bench/privacy_corpus.py)\n",
                 corpus.c_str());
    return 1;
  }
  if (!tune_corpus.empty()) {
    Score t = evaluate(*r, tune_corpus);
    auto j = score_json(t);
    print_score("tune (seed 1)", j);
    results["tune"] = j;
    if (verbose)
      for (const auto& m : t.misses) std::printf("    %s\n", m.c_str());
  }
  Score rep = evaluate(*r, report_corpus);
  auto rj = score_json(rep);
  print_score("report (seed 2, held-out templates)", rj);
  if (verbose)
    for (const auto& m : rep.misses) std::printf("    %s\n", m.c_str());
  results["report"] = rj;

  // Throughput on one core: real logs (Loghub-2k, 16 systems, beside the source tree and
  // read-only) repeated to the target size, and the corpus itself, which is far denser in
  // secrets than real text (a finding every ~90 bytes).
  std::string logs;
  std::filesystem::path loghub = src / ".." / "shared" / "data" / "loghub-2k";
  std::error_code ec;
  if (!std::filesystem::exists(loghub, ec))
    loghub = src / ".." / ".." / "shared" / "data" / "loghub-2k";
  for (const auto& dir : std::filesystem::directory_iterator(loghub, ec)) {
    for (const auto& f : std::filesystem::directory_iterator(dir.path(), ec)) {
      if (f.path().string().ends_with("_2k.log")) {
        std::ifstream in(f.path());
        logs.append(std::istreambuf_iterator<char>(in), {});
      }
    }
  }
  std::string one;
  for (const auto& rec : report_corpus) one += std::string(rec["text"]) + "\n";
  results["throughput"] = aion::Json::object();
  for (const auto& [name, base] :
       {std::pair<std::string, const std::string*>{"loghub", &logs}, {"corpus", &one}}) {
    if (base->empty()) continue;
    std::string text;
    while (text.size() < target_mb * 1e6) text += *base;
    // Per-core speed is bytes per second of this process's CPU time (std::clock): on a shared
    // machine wall time measures the neighbours too. Wall time is recorded beside it.
    auto w0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    const std::size_t found = r->scan(text).size();
    const std::clock_t c1 = std::clock();
    auto w1 = std::chrono::steady_clock::now();
    aion::privacy::PlaceholderMap map;
    auto red = r->redact(text, map);
    const std::clock_t c2 = std::clock();
    const double mb = text.size() / 1e6;
    const double scan_s = double(c1 - c0) / CLOCKS_PER_SEC;
    const double red_s = double(c2 - c1) / CLOCKS_PER_SEC;
    const double wall_s = std::chrono::duration<double>(w1 - w0).count();
    std::printf(
        "throughput %-7s %.1f MB, %zu findings: scan %.1f MB/s, redact %.1f MB/s per core "
        "(CPU time; scan wall %.1f MB/s)\n",
        name.c_str(), mb, found, mb / scan_s, mb / red_s, mb / wall_s);
    results["throughput"][name] = {{"bytes", text.size()},
                                   {"findings", found},
                                   {"scan_mb_per_cpu_s", mb / scan_s},
                                   {"redact_mb_per_cpu_s", mb / red_s},
                                   {"scan_mb_per_wall_s", mb / wall_s},
                                   {"redacted_bytes", red.text.size()}};
  }
  std::filesystem::create_directories(out_file.parent_path());
  std::ofstream(out_file) << results.dump(2) << "\n";
  std::printf("wrote %s\n", out_file.c_str());
  return 0;
}
