// telemetry_bench: the collector's own CPU cost. Runs aiond's telemetry loop (host metrics
// from this machine's /proc and /sys, 8 simulated GPUs, and 200 job cgroups on a cgroup v2
// tree written for the run), everything at 1 s, with the store and anomaly detection on, and
// measures this process's CPU time over the run. Target: under 1% of one core.
//   telemetry_bench [--seconds 20] [--jobs 200] [--out FILE]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/sched/cgroup.h"
#include "aion/telemetry/service.h"

namespace {

namespace fs = std::filesystem;

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 20, njobs = 200;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/telemetry.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::max(2, std::atoi(argv[++i]));
    } else if (a == "--jobs" && i + 1 < argc) {
      njobs = std::max(0, std::atoi(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: telemetry_bench [--seconds 20] [--jobs 200] [--out FILE]\n");
      return 2;
    }
  }
  const fs::path dir = fs::temp_directory_path() / "aion-telemetry-bench";
  fs::remove_all(dir);

  // 200 job cgroups as cgroup v2 shows them.
  const fs::path tree = dir / "cgroup-root";
  for (int j = 0; j < njobs; ++j) {
    fs::path cg = tree / "sys/fs/cgroup/aion.jobs" / ("job-" + std::to_string(j));
    put(cg / "cgroup.procs", std::to_string(10000 + j) + "\n");
    put(cg / "cpu.stat", "usage_usec " + std::to_string(j * 1000) + "\nuser_usec 0\n");
    put(cg / "memory.current", std::to_string((j + 1) << 20) + "\n");
    put(cg / "memory.peak", std::to_string((j + 2) << 20) + "\n");
    put(cg / "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    put(cg / "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  }
  aion::sched::CgroupCaps caps;
  caps.version = aion::sched::CgroupVersion::kV2;
  caps.unified_root = caps.memory_root = caps.cpuacct_root = caps.blkio_root = "/sys/fs/cgroup";
  caps.memory = caps.cpu_accounting = caps.io = true;
  auto cgroups = std::make_shared<std::vector<aion::sched::JobCgroup>>();
  for (int j = 0; j < njobs; ++j) {
    auto cg = aion::sched::JobCgroup::open(aion::HostFs(tree), caps, "aion.jobs",
                                           "job-" + std::to_string(j));
    if (!cg) {
      std::fprintf(stderr, "telemetry_bench: %s\n", cg.error().message().c_str());
      return 1;
    }
    cgroups->push_back(std::move(*cg));
  }

  std::vector<aion::hw::Accelerator> gpus;
  for (int g = 0; g < 8; ++g) {
    aion::hw::Accelerator a;
    a.index = g;
    a.vendor = "nvidia";
    a.model = "A100-SXM4-80GB";
    a.pci.address = "0000:0" + std::to_string(g) + ":00.0";
    a.memory_bytes = 80ULL << 30;
    a.simulated = true;
    gpus.push_back(a);
  }
  aion::telemetry::TelemetryOptions o;
  o.dir = dir / "metrics";
  o.host_interval = std::chrono::seconds(1);
  o.gpu_interval = std::chrono::seconds(1);
  o.flush_interval = std::chrono::seconds(10);
  aion::telemetry::Telemetry t(o, aion::HostFs("/"), gpus, nullptr);
  t.add_source({"jobs", std::chrono::seconds(1), [cgroups] {
                  using aion::telemetry::MetricFamily;
                  using aion::telemetry::MetricType;
                  MetricFamily cpu{"aion_job_cpu_seconds_total", "cpu", MetricType::kCounter, {}};
                  MetricFamily mem{"aion_job_memory_bytes", "mem", MetricType::kGauge, {}};
                  MetricFamily io{"aion_job_io_read_bytes_total", "io", MetricType::kCounter, {}};
                  int j = 0;
                  for (const auto& cg : *cgroups) {
                    auto s = cg.stats();
                    aion::telemetry::Labels l = {{"job", std::to_string(j++)}, {"user", "bench"}};
                    cpu.add(l, std::chrono::duration<double>(s.cpu_time).count());
                    mem.add(l, static_cast<double>(s.memory_current_bytes));
                    io.add(l, static_cast<double>(s.io_read_bytes));
                  }
                  return std::vector<MetricFamily>{cpu, mem, io};
                }});
  if (auto st = t.start(); !st) {
    std::fprintf(stderr, "telemetry_bench: %s\n", st.error().message().c_str());
    return 1;
  }
  // Measure after the first collection, over whole seconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double cpu0 = cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double cpu = cpu_seconds() - cpu0;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  auto stats = t.db()->stats();
  t.stop();
  const double pct = 100 * cpu / wall;
  std::printf(
      "telemetry_bench: host + 8 simulated GPUs + %d job cgroups, all at 1 s, store and "
      "anomaly detection on\n",
      njobs);
  std::printf(
      "  %zu series, %zu samples in %.1f s; collector CPU %.3f s = %.2f%% of one core "
      "(target: under 1%%)\n",
      stats.series, stats.samples, wall, cpu, pct);
  aion::Json j{{"benchmark", "telemetry_bench"},
               {"version", aion::kVersion},
               {"what",
                "telemetry loop CPU: host (/proc, /sys), 8 simulated GPUs, job cgroups, "
                "all at 1 s, with store and anomaly detection"},
               {"jobs", njobs},
               {"gpus", 8},
               {"series", stats.series},
               {"seconds", wall},
               {"cpu_seconds", cpu},
               {"cpu_percent_of_core", pct},
               {"target_percent", 1.0},
               {"target_met", pct < 1.0}};
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  fs::remove_all(dir);
  return 0;
}
