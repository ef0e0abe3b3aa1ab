// docs_bench: the copilot's document index over a real machine's documentation.
//
// Builds a fresh index in a temporary directory over every man page of the host (the
// untranslated manN trees under /usr/share/man and /usr/local/share/man) plus this
// repository's docs/ and data/, and prints files, sections, build time and index size on
// disk; then updates it again with nothing changed (near zero: no file is read); then runs
// a fixed list of operator questions round-robin and prints query latency (p50, p99, max;
// the target is p99 under 20 ms) and the top hit of each question.
//
//   docs_bench [--host-root DIR] [--queries N] [--out FILE] [--keep]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "aion/copilot/docs.h"
#include "aion/core/json.h"
#include "aion/core/version.h"
#include "bench_info.h"

namespace {

namespace fs = std::filesystem;

// Questions an operator of a GPU node asks, in their words.
const std::vector<std::string> kQuestions = {
    "how do I disable numa balancing",
    "transparent hugepages",
    "ip route add",
    "mount nfs options",
    "systemctl restart service",
    "nvidia xid 79",
    "GPU has fallen off the bus",
    "set kernel parameters at boot with sysctl",
    "how to change the cpu frequency governor",
    "journalctl show logs since yesterday",
    "limit the number of open files ulimit",
    "add a user to a group",
    "check disk usage of a directory",
    "ssh port forwarding",
    "tcpdump capture on interface",
    "find files modified in the last day",
    "swappiness",
    "out of memory killer",
    "rsync exclude directory",
    "create a cron job",
    "irq affinity for network card",
    "hugepages per numa node",
    "drain and reset a gpu",
    "why is my job pending",
    "set MTU on an interface",
};

std::uintmax_t dir_bytes(const fs::path& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    std::error_code fe;
    if (e.is_regular_file(fe)) total += e.file_size(fe);
  }
  return total;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void print_stats(const char* what, const aion::copilot::UpdateStats& s) {
  std::printf("%-10s files %zu seen, %zu indexed, %zu removed, %zu skipped; %zu sections; %.3f s\n",
              what, s.files_seen, s.files_indexed, s.files_removed, s.files_skipped, s.sections,
              s.seconds);
}

// Runs `n` queries round-robin over kQuestions; returns each one's latency in ms and
// records the top hit of each question in `tops`.
std::vector<double> run_queries(const aion::copilot::DocIndex& index, int n, aion::Json& tops) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const std::string& q = kQuestions[static_cast<std::size_t>(i) % kQuestions.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto hits = index.search(q, 5);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!hits) {
      std::fprintf(stderr, "docs_bench: %s\n", hits.error().message().c_str());
      continue;
    }
    if (static_cast<std::size_t>(i) < kQuestions.size()) {
      aion::Json top = {{"query", q}};
      if (!hits->empty()) {
        top["doc"] = hits->front().doc;
        top["section"] = hits->front().section;
      }
      std::printf("  %-42s -> %s %s\n", q.c_str(), top.value("doc", "(none)").c_str(),
                  top.value("section", "").c_str());
      tops.push_back(top);
    }
  }
  return ms;
}

struct Options {
  fs::path host_root = "/";
  fs::path out_file = fs::path(AION_BENCH_RESULTS_DIR) / "docs.json";
  int queries = 200;
  bool keep = false;
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--host-root" && i + 1 < argc) {
      o.host_root = argv[++i];
    } else if (a == "--queries" && i + 1 < argc) {
      o.queries = std::stoi(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      o.out_file = argv[++i];
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      return std::nullopt;
    }
  }
  return o;
}

// Builds the index in `dir`, updates it again, runs the queries; adds the figures to
// `results`. False (with a message on stderr) when the index cannot be built.
bool run(const Options& o, const fs::path& dir, aion::Json& results) {
  const fs::path src = AION_SOURCE_DIR;
  const auto sources = aion::copilot::default_sources(o.host_root, src / "docs", src / "data");
  auto index = aion::copilot::DocIndex::open(dir);
  if (!index) {
    std::fprintf(stderr, "docs_bench: %s\n", index.error().message().c_str());
    return false;
  }
  auto first = index->update(sources);
  auto second = first ? index->update(sources) : first;
  if (!first || !second) {
    std::fprintf(stderr, "docs_bench: %s\n", (first ? second : first).error().message().c_str());
    return false;
  }
  const double index_mb = static_cast<double>(dir_bytes(dir)) / (1024.0 * 1024.0);
  print_stats("build", *first);
  std::printf("           %zu sections in the index, %.1f MB on disk\n", index->size(), index_mb);
  print_stats("re-update", *second);

  aion::Json tops = aion::Json::array();
  std::printf("top hits:\n");
  const std::vector<double> ms = run_queries(*index, o.queries, tops);
  const double p50 = percentile(ms, 0.50), p99 = percentile(ms, 0.99);
  const double max = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
  std::printf("queries    %zu: p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 < 20 ms)\n",
              ms.size(), p50, p99, max);
  results["sources"] = {"man pages under " + (o.host_root / "usr/share/man").string() + " and " +
                            (o.host_root / "usr/local/share/man").string(),
                        "docs/", "data/"};
  results["files"] = first->files_seen;
  results["files_indexed"] = first->files_indexed;
  results["files_skipped"] = first->files_skipped;
  results["sections"] = first->sections;
  results["build_seconds"] = first->seconds;
  results["index_mb"] = index_mb;
  results["reupdate_seconds"] = second->seconds;
  results["reupdate_files_indexed"] = second->files_indexed;
  results["queries"] = ms.size();
  results["query_ms"] = {{"p50", p50}, {"p99", p99}, {"max", max}};
  results["top_hits"] = tops;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> o = parse_options(argc, argv);
  if (!o) {
    std::fprintf(stderr,
                 "usage: docs_bench [--host-root DIR] [--queries N] [--out FILE] [--keep]\n");
    return 2;
  }
  const char* build = aion::bench::build_kind();
  std::printf("aion %s (%s), cpu: %s\n", aion::kVersion, build, aion::bench::cpu_model().c_str());
  std::string tmp = (fs::temp_directory_path() / "aion-docs-bench-XXXXXX").string();
  if (mkdtemp(tmp.data()) == nullptr) {
    std::perror("docs_bench: mkdtemp");
    return 1;
  }
  aion::Json results = {
      {"aion_version", aion::kVersion}, {"build", build}, {"cpu", aion::bench::cpu_model()}};
  int rc = run(*o, fs::path(tmp) / "index", results) ? 0 : 1;
  if (rc == 0 && !aion::bench::write_results(results, o->out_file, "docs_bench")) rc = 1;
  std::error_code ec;
  if (o->keep) {
    std::printf("index kept in %s\n", (fs::path(tmp) / "index").c_str());
  } else {
    fs::remove_all(tmp, ec);
  }
  return rc;
}
