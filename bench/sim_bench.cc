// sim_bench: the cluster simulator on the Alibaba GPU trace (../shared/data, read-only) with the
// FGD paper's protocol: every policy x 10 seeds on the `default` pod list, 130% inflation.
// Prints mean unallocated GPU % at 100% arrived next to the figures the paper's simulator
// published, the wall time of the whole grid and the mean time to place one pod; --all-lists
// also runs the other pod lists. Writes bench/results/sim.json and the default list's plot,
// bench/results/sim_default.svg.
//   sim_bench [--data DIR] [--seeds N] [--threads N] [--all-lists] [--out FILE]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "aion/cluster/policy.h"
#include "aion/cluster/report.h"
#include "aion/cluster/simulator.h"
#include "aion/cluster/trace.h"
#include "aion/core/json.h"
#include "aion/core/version.h"

namespace {

using namespace aion::cluster;

// Mean unallocated GPU % at 100% arrived on `default`, 10 seeds, from the authors' simulator.
const std::map<std::string, double> kPublished = {{"random", 13.7},    {"dotprod", 9.4},
                                                  {"clustering", 8.4}, {"packing", 8.2},
                                                  {"bestfit", 7.1},    {"fgd", 4.8}};

const char* kLists[] = {"default",   "cpu0",       "cpu050",     "cpu072",
                        "cpu200",    "gpushare40", "gpushare80", "gpuspec05",
                        "gpuspec10", "gpuspec25",  "multigpu20", "multigpu40"};

}  // namespace

int main(int argc, char** argv) {
  std::string data = std::string(AION_SOURCE_DIR) + "/../shared/data/alibaba-gpu-v2023";
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/sim.json";
  int n_seeds = 10, threads = 2;
  bool all_lists = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sim_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data")
      data = value();
    else if (a == "--seeds")
      n_seeds = std::atoi(value().c_str());
    else if (a == "--threads")
      threads = std::atoi(value().c_str());
    else if (a == "--out")
      out = value();
    else if (a == "--all-lists")
      all_lists = true;
    else {
      std::fprintf(
          stderr,
          "usage: sim_bench [--data DIR] [--seeds N] [--threads N] [--all-lists] [--out FILE]\n");
      return 2;
    }
  }
  auto nodes = load_nodes(data + "/openb_node_list_gpu_node.csv");
  if (!nodes) {
    std::fprintf(stderr, "sim_bench: %s\n", nodes.error().message().c_str());
    return 1;
  }
  SimOptions opt;
  opt.policies.clear();
  for (auto p : policy_names()) opt.policies.emplace_back(p);
  opt.seeds.clear();
  for (int s = 0; s < n_seeds; ++s) opt.seeds.push_back(42 + s);
  opt.threads = threads;

  aion::Json j;
  j["bench"] = "sim";
  j["version"] = aion::kVersion;
  j["protocol"] = {{"nodes", "openb_node_list_gpu_node.csv"},
                   {"seeds", n_seeds},
                   {"inflate", opt.inflate},
                   {"threads", threads}};
  j["lists"] = aion::Json::object();
  for (const char* list : kLists) {
    const bool is_default = std::strcmp(list, "default") == 0;
    if (!is_default && !all_lists) continue;
    auto pods = load_pods(data + "/openb_pod_list_" + list + ".csv");
    if (!pods) {
      std::fprintf(stderr, "sim_bench: %s\n", pods.error().message().c_str());
      return 1;
    }
    auto r = simulate(*nodes, *pods, opt);
    if (!r) {
      std::fprintf(stderr, "sim_bench: %s\n", r.error().message().c_str());
      return 1;
    }
    double ns = 0, pods_total = 0;
    for (const auto& run : r->runs) {
      ns += run.decision_ns * run.pods;
      pods_total += run.pods;
    }
    const double per_pod_us = ns / pods_total / 1000;
    std::printf(
        "\n== %s: %d pods, %zu policies x %d seeds in %.1f s (%d threads), %.1f us per pod "
        "decision (%.0f decisions)\n",
        list, r->trace_pods, opt.policies.size(), n_seeds, r->seconds, threads, per_pod_us,
        pods_total);
    std::printf("%-11s %12s %8s %10s %8s %12s %10s\n", "policy", "unalloc@100", "sd", "published",
                "diff", "frag@100 GPU", "failed@end");
    aion::Json lj;
    lj["seconds"] = std::round(r->seconds * 100) / 100;
    lj["decision_us"] = std::round(per_pod_us * 100) / 100;
    lj["pods"] = r->trace_pods;
    lj["policies"] = aion::Json::object();
    for (const auto& p : opt.policies) {
      const double m = mean_at(*r, p, 100, &Sample::unallocated_pct);
      const double sd = stddev_at(*r, p, 100, &Sample::unallocated_pct);
      const double frag = mean_at(*r, p, 100, &Sample::frag_gpus);
      double failed = 0;
      int runs = 0;
      for (const auto& run : r->runs) {
        if (run.policy != p) continue;
        for (int f : run.failed) failed += f;
        ++runs;
      }
      failed /= runs;
      auto pub = kPublished.find(p);
      const bool has_pub = is_default && pub != kPublished.end();
      std::printf("%-11s %11.2f%% %8.2f %10s %8s %12.1f %10.0f\n", p.c_str(), m, sd,
                  has_pub ? (std::to_string(pub->second).substr(0, 4) + "%").c_str() : "-",
                  has_pub ? (std::string(m - pub->second >= 0 ? "+" : "") +
                             std::to_string(m - pub->second).substr(0, 5))
                                .c_str()
                          : "-",
                  frag, failed);
      aion::Json pj = {{"unallocated_gpu_pct_at_100", std::round(m * 1000) / 1000},
                       {"sd", std::round(sd * 1000) / 1000},
                       {"frag_gpus_at_100", std::round(frag * 10) / 10},
                       {"failed_pods_mean", failed}};
      if (has_pub) pj["published"] = pub->second;
      lj["policies"][p] = pj;
    }
    j["lists"][list] = lj;
    if (is_default) {
      std::ofstream(std::string(AION_BENCH_RESULTS_DIR) + "/sim_default.svg")
          << to_svg(*r, "openb default, 1213 nodes / 6212 GPUs, mean of " +
                            std::to_string(n_seeds) + " seeds");
    }
  }
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("\nwrote %s\n", out.c_str());
  return 0;
}
