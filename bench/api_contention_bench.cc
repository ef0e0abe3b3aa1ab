// api_contention_bench: is GET /v1/status still prompt while other clients hammer the slowest
// viewer route? 8 clients loop on GET /v1/doctor (every run reads the node's PCI devices,
// disks and memory error counters, and loads NVML on NVIDIA nodes) while one client loops on
// GET /v1/status; prints the status latency (p50/p99/max) and the doctor rate, once with the
// doctor cache at its default and once with it off (diagnose.doctor_cache_s = 0, every call
// runs the checks). Starts the aiond next to this binary on a private state directory.
//   api_contention_bench [--seconds N] [--out FILE]
//   (default 5 s per case, bench/results/api_contention.json)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "aion/api/client.h"
#include "aion/core/json.h"
#include "aion/core/version.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kHammerClients = 8;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

struct Case {
  std::string name;
  int doctor_cache_s;
  long long status_requests = 0, status_errors = 0, doctor_requests = 0, doctor_errors = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0, max_ms = 0, doctor_p50_ms = 0;
};

// Starts aiond with `config`; returns its pid, or -1.
pid_t start_aiond(const fs::path& dir, const std::string& config) {
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string aiond = (self / "aiond").string();
  std::string state = (dir / "state").string();
  std::string socket = (dir / "aiond.sock").string();
  std::string cfg = (dir / "aion.toml").string();
  std::ofstream(cfg) << config;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string log = (dir / "aiond.log").string();
    std::freopen(log.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(aiond.c_str(), aiond.c_str(), "--foreground", "--state-dir", state.c_str(), "--socket",
            socket.c_str(), "--config", cfg.c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 1000; ++i) {
    if (auto c = aion::api::Client::connect_unix(socket)) {
      if (c->get("/v1/status")) return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

void run_case(const fs::path& socket, double seconds, Case& c) {
  std::atomic<bool> stop{false};
  std::atomic<long long> doctor_ok{0}, doctor_err{0};
  std::vector<std::vector<double>> doctor_lat(kHammerClients);
  std::vector<std::thread> hammers;
  for (int i = 0; i < kHammerClients; ++i) {
    hammers.emplace_back([&, i] {
      auto cl = aion::api::Client::connect_unix(socket);
      if (!cl) {
        ++doctor_err;
        return;
      }
      while (!stop) {
        auto t0 = Clock::now();
        auto r = cl->get("/v1/doctor");
        if (r && r->status == 200) {
          ++doctor_ok;
          doctor_lat[static_cast<std::size_t>(i)].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else {
          ++doctor_err;
          cl = aion::api::Client::connect_unix(socket);
          if (!cl) return;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the hammers are busy
  std::vector<double> lat;
  auto cl = aion::api::Client::connect_unix(socket);
  auto start = Clock::now();
  while (cl && Clock::now() - start < std::chrono::duration<double>(seconds)) {
    auto t0 = Clock::now();
    auto r = cl->get("/v1/status");
    auto t1 = Clock::now();
    if (!r || r->status != 200) {
      ++c.status_errors;
      continue;
    }
    lat.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    // A monitoring client, not a flood: a status call every millisecond at most.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  c.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& t : hammers) t.join();
  c.status_requests = static_cast<long long>(lat.size());
  c.p50_ms = percentile(lat, 0.50);
  c.p99_ms = percentile(lat, 0.99);
  c.max_ms = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  std::vector<double> all;
  for (auto& v : doctor_lat) all.insert(all.end(), v.begin(), v.end());
  c.doctor_p50_ms = percentile(all, 0.50);
  c.doctor_requests = doctor_ok;
  c.doctor_errors = doctor_err;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/api_contention.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: api_contention_bench [--seconds N] [--out FILE]\n");
      return 2;
    }
  }
  std::printf(
      "api_contention_bench: aiond %s, %u cores; GET /v1/status while %d clients loop on GET "
      "/v1/doctor, %.0f s per case\n",
      aion::kVersion, std::thread::hardware_concurrency(), kHammerClients, seconds);
  std::printf("%-12s %10s %10s %10s %10s %12s %12s\n", "case", "status_n", "p50_ms", "p99_ms",
              "max_ms", "doctor_req/s", "doctor_p50");
  std::vector<Case> cases = {{"cached", 30}, {"uncached", 0}};
  aion::Json results = aion::Json::array();
  bool met = true;
  for (auto& c : cases) {
    fs::path dir = fs::temp_directory_path() /
                   ("aion-contention-bench-" + std::to_string(::getpid()) + "-" + c.name);
    fs::create_directories(dir);
    pid_t pid =
        start_aiond(dir, "[diagnose]\ndoctor_cache_s = " + std::to_string(c.doctor_cache_s) + "\n");
    if (pid < 0) {
      std::fprintf(stderr, "api_contention_bench: aiond did not start (see %s/aiond.log)\n",
                   dir.c_str());
      return 1;
    }
    run_case(dir / "aiond.sock", seconds, c);
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
    std::printf("%-12s %10lld %10.3f %10.3f %10.3f %12.1f %12.3f\n", c.name.c_str(),
                c.status_requests, c.p50_ms, c.p99_ms, c.max_ms,
                static_cast<double>(c.doctor_requests) / c.seconds, c.doctor_p50_ms);
    std::fflush(stdout);
    met = met && c.p99_ms < 10.0 && c.status_errors == 0;
    results.push_back(
        {{"case", c.name},
         {"doctor_cache_s", c.doctor_cache_s},
         {"seconds", c.seconds},
         {"status_requests", c.status_requests},
         {"status_errors", c.status_errors},
         {"status_p50_ms", c.p50_ms},
         {"status_p99_ms", c.p99_ms},
         {"status_max_ms", c.max_ms},
         {"doctor_requests", c.doctor_requests},
         {"doctor_errors", c.doctor_errors},
         {"doctor_requests_per_second", static_cast<double>(c.doctor_requests) / c.seconds},
         {"doctor_p50_ms", c.doctor_p50_ms}});
  }
  aion::Json result = {
      {"benchmark", "api_contention_bench"},
      {"what",
       "GET /v1/status latency over the unix socket while 8 clients loop on GET "
       "/v1/doctor (the slowest viewer route)"},
      {"version", aion::kVersion},
      {"cores", std::thread::hardware_concurrency()},
      {"target", {{"hammer_clients", kHammerClients}, {"max_status_p99_ms", 10.0}}},
      {"cases", results},
      {"target_met", met}};
  std::ofstream(out) << result.dump(2) << "\n";
  std::printf("wrote %s (target: status p99 < 10 ms in every case: %s)\n", out.c_str(),
              met ? "met" : "NOT met");
  return 0;
}
