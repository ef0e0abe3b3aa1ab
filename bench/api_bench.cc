// api_bench: GET /v1/status over aiond's unix socket with 1, 8 and 64 concurrent clients,
// each on its own keep-alive connection. Starts the aiond next to this binary on a private
// state directory, prints req/s and p50/p99/max latency per level and writes JSON.
//   api_bench [--seconds N] [--out FILE]   (default 5 s per level, bench/results/api.json)
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

struct Level {
  int clients;
  double seconds;
  long long requests;
  long long errors;
  double rps;
  double p50_us, p99_us, max_us;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

Level run_level(const fs::path& socket, int clients, double seconds) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  std::vector<long long> errors(static_cast<std::size_t>(clients), 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      auto c = aion::api::Client::connect_unix(socket);
      if (!c) {
        errors[static_cast<std::size_t>(i)]++;
        return;
      }
      auto& mine = lat[static_cast<std::size_t>(i)];
      mine.reserve(200000);
      while (!go) std::this_thread::yield();
      while (!stop) {
        auto t0 = Clock::now();
        auto r = c->get("/v1/status");
        auto t1 = Clock::now();
        if (!r || r->status != 200) {
          errors[static_cast<std::size_t>(i)]++;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // connections established
  auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  std::vector<double> all;
  long long errs = 0;
  for (std::size_t i = 0; i < lat.size(); ++i) {
    all.insert(all.end(), lat[i].begin(), lat[i].end());
    errs += errors[i];
  }
  Level l{clients,
          elapsed,
          static_cast<long long>(all.size()),
          errs,
          static_cast<double>(all.size()) / elapsed,
          0,
          0,
          0};
  l.p50_us = percentile(all, 0.50);
  l.p99_us = percentile(all, 0.99);
  l.max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/api.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: api_bench [--seconds N] [--out FILE]\n");
      return 2;
    }
  }
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  fs::path dir = fs::temp_directory_path() / ("aion-api-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path socket = dir / "aiond.sock";
  std::string aiond = (self / "aiond").string();
  std::string state = (dir / "state").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string log = (dir / "aiond.log").string();
    std::freopen(log.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(aiond.c_str(), aiond.c_str(), "--foreground", "--state-dir", state.c_str(), "--socket",
            socket.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    if (auto c = aion::api::Client::connect_unix(socket)) up = c->get("/v1/status").has_value();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!up) {
    std::fprintf(stderr, "api_bench: aiond did not start (see %s/aiond.log)\n", dir.c_str());
    ::kill(pid, SIGKILL);
    return 1;
  }
  std::printf("api_bench: GET /v1/status over a unix socket, %.0f s per level, %u cores\n", seconds,
              std::thread::hardware_concurrency());
  std::printf("%8s %12s %10s %10s %10s %10s %8s\n", "clients", "requests", "req/s", "p50_ms",
              "p99_ms", "max_ms", "errors");
  aion::Json levels = aion::Json::array();
  for (int clients : {1, 8, 64}) {
    run_level(socket, clients, std::min(1.0, seconds / 5));  // warm-up
    Level l = run_level(socket, clients, seconds);
    std::printf("%8d %12lld %10.0f %10.3f %10.3f %10.3f %8lld\n", l.clients, l.requests, l.rps,
                l.p50_us / 1000, l.p99_us / 1000, l.max_us / 1000, l.errors);
    std::fflush(stdout);
    levels.push_back({{"clients", l.clients},
                      {"seconds", l.seconds},
                      {"requests", l.requests},
                      {"errors", l.errors},
                      {"requests_per_second", l.rps},
                      {"p50_ms", l.p50_us / 1000},
                      {"p99_ms", l.p99_us / 1000},
                      {"max_ms", l.max_us / 1000}});
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  aion::Json result = {
      {"benchmark", "api_bench"},
      {"what", "GET /v1/status over the unix socket, keep-alive connections"},
      {"version", aion::kVersion},
      {"cores", std::thread::hardware_concurrency()},
      {"target", {{"clients", 8}, {"min_requests_per_second", 20000}, {"max_p99_ms", 2.0}}},
      {"levels", levels}};
  for (const auto& l : levels) {
    if (l["clients"] == 8) {
      result["target_met"] =
          l["requests_per_second"].get<double>() >= 20000 && l["p99_ms"].get<double>() < 2.0;
    }
  }
  std::ofstream(out) << result.dump(2) << "\n";
  std::printf("wrote %s (target at 8 clients: >= 20000 req/s and p99 < 2 ms: %s)\n", out.c_str(),
              result.value("target_met", false) ? "met" : "NOT met");
  return 0;
}
