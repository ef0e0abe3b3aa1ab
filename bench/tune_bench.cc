// tune_bench: what the THP setting of a profile does to memory-heavy work on this machine.
//
// `balanced` leaves transparent huge pages to applications that madvise() for them, so a
// framework's ordinary allocations get 4 KiB pages; `throughput` and `ai-training` set THP
// to `always`, so the same allocations get 2 MiB pages. This program measures both on a
// synthetic workload without changing any system setting: one buffer mapped with
// MADV_NOHUGEPAGE (what an allocation gets under `balanced`) and one with MADV_HUGEPAGE (what
// it gets under `ai-training`; the kernel must offer madvise or always), and for each:
//   - first touch: page faults and time to populate the buffer (one write per 4 KiB page),
//   - random reads: ns per 8-byte load at random offsets (TLB reach dominates),
//   - sequential read bandwidth over the populated buffer.
// Each figure is the median of --runs runs; huge page use is confirmed from
// /proc/self/smaps (AnonHugePages of the buffer).
//   tune_bench [--mib 512] [--runs 5] [--out FILE]
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/version.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long minor_faults() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// AnonHugePages (kB) of the mapping that starts at `addr`, from /proc/self/smaps.
long anon_huge_kb(const void* addr) {
  auto text = aion::HostFs("/").read("/proc/self/smaps");
  if (!text) return -1;
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", reinterpret_cast<unsigned long>(addr));
  std::istringstream in(*text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find('-') != std::string::npos && line.find(':') > line.find('-') &&
        std::isxdigit(static_cast<unsigned char>(line[0]))) {
      inside = line.rfind(start, 0) == 0;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) return std::atol(line.c_str() + 14);
  }
  return -1;
}

struct Run {
  double fault_seconds = 0;
  long faults = 0;
  double random_ns = 0;
  double seq_gbps = 0;
  long huge_kb = 0;
};

// One run: map, advise, touch, read randomly, read sequentially, unmap.
Run run_once(std::size_t bytes, bool huge, std::size_t random_reads, std::uint64_t seed) {
  constexpr std::size_t kHuge = 2 << 20;
  // Over-allocate so the buffer can start on a 2 MiB boundary (THP needs aligned ranges).
  std::size_t map_bytes = bytes + kHuge;
  char* raw = static_cast<char*>(
      ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (raw == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  char* buf = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) &
                                      ~(std::uintptr_t{kHuge} - 1));
  ::madvise(raw, map_bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  Run r;
  long f0 = minor_faults();
  auto t0 = Clock::now();
  for (std::size_t off = 0; off < bytes; off += 4096) buf[off] = static_cast<char>(off);
  r.fault_seconds = seconds_since(t0);
  r.faults = minor_faults() - f0;
  r.huge_kb = anon_huge_kb(raw);

  // Random 8-byte loads; the index sequence is precomputed so the RNG is not timed.
  std::mt19937_64 rng(seed);
  std::vector<std::uint32_t> idx(random_reads);
  const std::size_t words = bytes / 8;
  for (auto& i : idx) i = static_cast<std::uint32_t>(rng() % words);
  const auto* w = reinterpret_cast<const std::uint64_t*>(buf);
  std::uint64_t sum = 0, x = 0;
  t0 = Clock::now();
  // Each load's address depends on the previous load (x is always 0, which the compiler
  // cannot know), so loads do not overlap and a TLB miss shows in full, as in pointer chasing.
  for (auto i : idx) x = w[(i + (x & 1)) % words];
  r.random_ns = seconds_since(t0) * 1e9 / static_cast<double>(random_reads);

  t0 = Clock::now();
  for (std::size_t i = 0; i < words; ++i) sum += w[i];
  sum += x;
  r.seq_gbps = static_cast<double>(bytes) / seconds_since(t0) / 1e9;
  if (sum == 42) std::printf(" ");  // keep the loads
  ::munmap(raw, map_bytes);
  return r;
}

struct Summary {
  double fault_ms = 0, faults = 0, us_per_fault_4k = 0, random_ns = 0, seq_gbps = 0;
  double huge_fraction = 0;
};

Summary measure(std::size_t bytes, bool huge, int runs) {
  std::vector<double> fault_ms, faults, random_ns, seq, huge_frac;
  for (int i = 0; i < runs; ++i) {
    Run r = run_once(bytes, huge, 4'000'000, 1234 + static_cast<std::uint64_t>(i));
    fault_ms.push_back(r.fault_seconds * 1e3);
    faults.push_back(static_cast<double>(r.faults));
    random_ns.push_back(r.random_ns);
    seq.push_back(r.seq_gbps);
    huge_frac.push_back(r.huge_kb < 0 ? 0 : static_cast<double>(r.huge_kb) * 1024 / bytes);
  }
  Summary s;
  s.fault_ms = median(fault_ms);
  s.faults = median(faults);
  s.us_per_fault_4k = s.fault_ms * 1e3 / (static_cast<double>(bytes) / 4096);
  s.random_ns = median(random_ns);
  s.seq_gbps = median(seq);
  s.huge_fraction = median(huge_frac);
  return s;
}

aion::Json to_json(const Summary& s) {
  return {{"populate_ms", s.fault_ms},
          {"page_faults", s.faults},
          {"populate_us_per_4k_page", s.us_per_fault_4k},
          {"random_read_ns", s.random_ns},
          {"sequential_read_gb_per_s", s.seq_gbps},
          {"huge_page_fraction", s.huge_fraction}};
}

}  // namespace

int main(int argc, char** argv) {
  int mib = 512, runs = 5;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/tune.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) {
      mib = std::max(16, std::atoi(argv[++i]));
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: tune_bench [--mib 512] [--runs 5] [--out FILE]\n");
      return 2;
    }
  }
  aion::HostFs host("/");
  std::string thp = host.read_attr("/sys/kernel/mm/transparent_hugepage/enabled").value_or("?");
  std::string defrag = host.read_attr("/sys/kernel/mm/transparent_hugepage/defrag").value_or("?");
  if (thp.find("[never]") != std::string::npos) {
    std::fprintf(stderr,
                 "tune_bench: transparent hugepages are off ([never]); MADV_HUGEPAGE cannot "
                 "show their effect. Run `aion tune apply balanced` or set enabled=madvise.\n");
    return 1;
  }
  const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
  std::printf("tune_bench: %d MiB buffer, median of %d runs, %ld CPUs, THP enabled: %s\n", mib,
              runs, ::sysconf(_SC_NPROCESSORS_ONLN), thp.c_str());
  Summary small = measure(bytes, false, runs);
  Summary huge = measure(bytes, true, runs);

  std::printf("\n%-34s %14s %14s  %s\n", "", "4 KiB pages", "THP 2 MiB", "THP effect");
  // lower_is_better: times and counts; else rates.
  auto row = [](const char* what, double a, double b, const char* fmt, bool lower_is_better) {
    char x[32], y[32];
    std::snprintf(x, sizeof x, fmt, a);
    std::snprintf(y, sizeof y, fmt, b);
    double gain = lower_is_better ? (b > 0 ? a / b : 0) : (a > 0 ? b / a : 0);
    std::printf("%-34s %14s %14s  %.2fx %s\n", what, x, y, gain >= 1 ? gain : 1 / gain,
                gain >= 1 ? "better" : "worse");
  };
  row("populate (ms)", small.fault_ms, huge.fault_ms, "%.1f", true);
  row("page faults", small.faults, huge.faults, "%.0f", true);
  row("populate cost per 4 KiB (us)", small.us_per_fault_4k, huge.us_per_fault_4k, "%.3f", true);
  row("dependent random read (ns)", small.random_ns, huge.random_ns, "%.2f", true);
  row("sequential read (GB/s)", small.seq_gbps, huge.seq_gbps, "%.2f", false);
  std::printf("%-34s %15.0f%% %15.0f%%\n", "memory in huge pages", small.huge_fraction * 100,
              huge.huge_fraction * 100);
  std::printf(
      "\n4 KiB pages: what an allocation gets under `balanced` (THP madvise, no madvise call);\n"
      "THP 2 MiB: what it gets under `throughput` / `ai-training` (THP always).\n");

  aion::Json j{{"benchmark", "tune_bench"},
               {"version", aion::kVersion},
               {"what",
                "THP effect on a synthetic memory workload: populate a buffer (page faults), "
                "random 8-byte reads, sequential reads; MADV_NOHUGEPAGE (balanced) vs "
                "MADV_HUGEPAGE (ai-training's THP always)"},
               {"buffer_mib", mib},
               {"runs", runs},
               {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
               {"thp_enabled", thp},
               {"thp_defrag", defrag},
               {"pages_4k", to_json(small)},
               {"thp_2m", to_json(huge)},
               {"speedup",
                {{"populate", huge.fault_ms > 0 ? small.fault_ms / huge.fault_ms : 0},
                 {"random_read", huge.random_ns > 0 ? small.random_ns / huge.random_ns : 0},
                 {"sequential_read", small.seq_gbps > 0 ? huge.seq_gbps / small.seq_gbps : 0}}}};
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
