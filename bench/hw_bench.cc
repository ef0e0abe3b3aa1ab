// hw_bench: full hardware discovery (hwloc CPUs/NUMA, the sysfs PCI tree, accelerators of
// every vendor, NICs, disks, NVML through the fake library) plus the topology matrix, on each
// machine tree: the generated 8-GPU DGX A100-like and mixed-vendor fixtures, and the largest
// trees gathered on real machines (hwloc's captures beside the checkout: a 256-thread POWER7
// and a 128-core Kunpeng 920), extracted to a temporary directory. Prints median/p99/max per
// tree over the runs and writes JSON; fails when a tree misses the 50 ms target.
//   hw_bench [--runs N] [--out FILE]   (default 100 runs, bench/results/hw.json)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/hw/discovery.h"
#include "aion/hw/topology.h"

namespace {

namespace fs = std::filesystem;

struct Tree {
  std::string name;
  std::string what;
  fs::path root;
  std::string nvml_json;  // "" : no NVML
};

struct Figures {
  double median = 0, p99 = 0, max = 0;
  std::size_t threads = 0, accelerators = 0, nics = 0, pci = 0;
};

Figures measure(const Tree& t, int runs) {
  if (t.nvml_json.empty()) {
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    ::unsetenv("AION_FAKE_NVML");
  } else {
    ::setenv("AION_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    ::setenv("AION_FAKE_NVML", t.nvml_json.c_str(), 1);
  }
  aion::HostFs host(t.root);
  std::vector<double> ms;
  Figures f;
  for (int i = 0; i < runs + 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    aion::hw::Inventory inv = aion::hw::discover(host, {});
    aion::hw::Topology topo = aion::hw::build_topology(inv);
    auto t1 = std::chrono::steady_clock::now();
    if (i >= 3)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());  // 3 warm-up runs
    f.threads = static_cast<std::size_t>(inv.cpu.threads);
    f.accelerators = inv.accelerators.size();
    f.nics = inv.nics.size();
    f.pci = inv.pci.size();
    (void)topo;
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))];
  };
  f.median = pct(0.5);
  f.p99 = pct(0.99);
  f.max = ms.back();
  return f;
}

}  // namespace

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
  const std::string fixtures = std::string(AION_FIXTURES_DIR) + "/hw/";
  std::vector<Tree> trees = {
      {"dgx-a100", "generated: 8 A100 on NVSwitch, 8 HCAs, fake NVML", fixtures + "dgx-a100/root",
       fixtures + "dgx-a100/nvml.json"},
      {"hetero", "generated: NPUs, vector engines and MLUs behind PCIe switches",
       fixtures + "hetero/root", ""}};
  // The largest real captures, when the shared data is beside the checkout.
  const fs::path shared = fs::path(AION_SOURCE_DIR) / "../shared/data/hwloc-linux";
  char tmpl[] = "/tmp/aion-hw-bench-XXXXXX";
  const char* tmp = ::mkdtemp(tmpl);
  for (const char* name : {"256ppc-8n8s4t", "128arm-2pa2n8cluster4co"}) {
    const fs::path tarball = shared / (std::string(name) + ".tar.bz2");
    if (!tmp || !fs::exists(tarball)) {
      std::printf("  (skipping %s: %s not found)\n", name, tarball.c_str());
      continue;
    }
    const fs::path dir = fs::path(tmp) / name;
    fs::create_directories(dir);
    const std::string cmd = "tar -xjf '" + tarball.string() + "' -C '" + dir.string() + "'";
    if (std::system(cmd.c_str()) != 0) continue;
    for (const auto& e : fs::directory_iterator(dir))
      trees.push_back({name, "gathered on a real machine by hwloc's developers", e.path(), ""});
  }

  std::printf(
      "hw_bench: full discovery + topology matrix, %d runs per tree (target: under 50 ms)\n", runs);
  aion::Json results = aion::Json::array();
  bool all_met = true;
  for (const auto& t : trees) {
    Figures f = measure(t, runs);
    const bool met = f.p99 < 50;
    all_met = all_met && met;
    std::printf(
        "  %-26s %4zu threads %3zu accel %3zu NICs %4zu PCI  median %6.2f ms  p99 %6.2f ms"
        "  max %6.2f ms%s\n",
        t.name.c_str(), f.threads, f.accelerators, f.nics, f.pci, f.median, f.p99, f.max,
        met ? "" : "  OVER TARGET");
    results.push_back({{"tree", t.name},
                       {"what", t.what},
                       {"threads", f.threads},
                       {"accelerators", f.accelerators},
                       {"nics", f.nics},
                       {"pci_functions", f.pci},
                       {"median_ms", f.median},
                       {"p99_ms", f.p99},
                       {"max_ms", f.max},
                       {"target_met", met}});
  }
  if (tmp) fs::remove_all(tmp);
  aion::Json j = {
      {"benchmark", "hw_bench"},   {"what", "aion::hw::discover + build_topology per machine tree"},
      {"version", aion::kVersion}, {"runs", runs},
      {"target_ms", 50},           {"trees", results},
      {"target_met", all_met}};
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return all_met ? 0 : 1;
}
