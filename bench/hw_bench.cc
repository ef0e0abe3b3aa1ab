// hw_bench: full hardware discovery (hwloc CPUs/NUMA, the sysfs PCI tree, NICs, disks, NVML
// through the fake library) plus the topology matrix, on the recorded 8-GPU DGX A100-like
// machine. Prints median/p99/max over the runs and writes JSON.
//   hw_bench [--runs N] [--out FILE]   (default 100 runs, bench/results/hw.json)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/hw/discovery.h"
#include "aion/hw/topology.h"

int main(int argc, char** argv) {
  int runs = 100;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/hw.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: hw_bench [--runs N] [--out FILE]\n");
      return 2;
    }
  }
  std::string fixture = std::string(AION_FIXTURES_DIR) + "/hw/dgx-a100";
  ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
  ::setenv("AION_FAKE_NVML", (fixture + "/nvml.json").c_str(), 1);
  aion::HostFs fs(fixture + "/root");
  std::vector<double> ms;
  std::size_t gpus = 0, nics = 0, warnings = 0;
  for (int i = 0; i < runs + 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    aion::hw::Inventory inv = aion::hw::discover(fs, {});
    aion::hw::Topology topo = aion::hw::build_topology(inv);
    auto t1 = std::chrono::steady_clock::now();
    if (i >= 3)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());  // 3 warm-up runs
    gpus = inv.accelerators.size();
    nics = inv.nics.size();
    warnings = inv.warnings.size() + (topo.devices.size() == gpus + nics ? 0 : 1);
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))];
  };
  double median = pct(0.5), p99 = pct(0.99), max = ms.back();
  std::printf("hw_bench: full discovery + topology on the 8-GPU DGX A100-like fixture, %d runs\n",
              runs);
  std::printf("  devices: %zu GPUs, %zu NICs, %zu warnings\n", gpus, nics, warnings);
  std::printf("  median %.2f ms   p99 %.2f ms   max %.2f ms   (target: under 50 ms)\n", median, p99,
              max);
  aion::Json j = {
      {"benchmark", "hw_bench"},
      {"what",
       "aion::hw::discover + build_topology on tests/fixtures/hw/dgx-a100 with the fake NVML"},
      {"version", aion::kVersion},
      {"runs", runs},
      {"gpus", gpus},
      {"nics", nics},
      {"median_ms", median},
      {"p99_ms", p99},
      {"max_ms", max},
      {"target_ms", 50},
      {"target_met", p99 < 50}};
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return gpus == 8 ? 0 : 1;
}
