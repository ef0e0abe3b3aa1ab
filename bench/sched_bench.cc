// sched_bench: the job scheduler under load, on a simulated 8-GPU node.
//  1. Submit: N jobs (default 10,000) through aiond's API from 8 client threads, each POST
//     answered only after the job's row is committed: persisted submits per second. The node
//     is held meanwhile (aion admin hold), so what is timed is the submission path alone.
//  2. Drain: the node is released and every job (fake short commands: `true`, shapes from a
//     quarter GPU to 4 GPUs) runs to its end through aion-shim on this machine's CPUs, with 8
//     simulated NVSwitch GPUs (cgroups off unless --cgroups).
//  3. Decisions, in-process: with 1,000 pending jobs of mixed shapes on a half-busy 8-GPU,
//     64-CPU, 2-NUMA-node model, the latency of each placement decision (place()) and of a
//     whole scheduling pass (make_plan()).
//  4. Memory: aiond's peak and current RSS.
// Writes bench/results/sched.json.
//   sched_bench [--jobs N] [--clients N] [--cgroups] [--out FILE]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aion/api/client.h"
#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"
#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/hw/inventory.h"
#include "aion/sched/placement.h"
#include "aion/sched/scheduler.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

long status_kb(pid_t pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key) + 1);
  }
  return 0;
}

// The shapes of jobs the bench submits, in rotation.
aion::Json job_body(int i) {
  aion::Json res;
  switch (i % 5) {
    case 0: res = {{"gpus", 1}, {"cpus", 2}}; break;
    case 1: res = {{"gpus", 2}, {"cpus", 2}}; break;
    case 2: res = {{"gpu_fraction", 0.25}, {"cpus", 1}}; break;
    case 3: res = {{"cpus", 1}, {"memory_bytes", "256M"}}; break;
    default: res = {{"gpus", 4}, {"cpus", 2}}; break;
  }
  return {{"command", {"true"}},
          {"env", {{"PATH", "/usr/bin:/bin"}}},
          {"cwd", "/"},
          {"name", "bench-" + std::to_string(i)},
          {"resources", res}};
}

// The same node as the daemon's config, built in-process for the decision benchmark.
aion::hw::Inventory bench_inventory() {
  aion::hw::Inventory inv;
  inv.cpu.threads = 64;
  inv.cpu.cores = 32;
  inv.cpu.sockets = 2;
  inv.memory.total_bytes = 512ull << 30;
  for (int n = 0; n < 2; ++n) {
    aion::hw::NumaNode node;
    node.id = n;
    node.cpus = n == 0 ? "0-31" : "32-63";
    node.memory_bytes = 256ull << 30;
    node.distances = n == 0 ? std::vector<int>{10, 21} : std::vector<int>{21, 10};
    inv.numa_nodes.push_back(node);
  }
  for (int i = 0; i < 8; ++i) {
    aion::hw::Accelerator a;
    a.index = i;
    a.vendor = "nvidia";
    a.model = "A100-SXM4-80GB";
    a.memory_bytes = 80ull << 30;
    char addr[16];
    std::snprintf(addr, sizeof addr, "fffe:%02x:00.0", i);
    a.pci.address = addr;
    a.pci.host_bridge = std::string("pci") + std::string(addr).substr(0, 7);
    a.pci.numa_node = i / 4;
    a.uuid = "SIM-" + std::to_string(i);
    a.source = "simulated";
    a.simulated = true;
    a.links.push_back({"nvlink", "nvswitch", 12});
    inv.accelerators.push_back(a);
  }
  return inv;
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 10000, clients = 8;
  bool cgroups = false;
  std::string out = std::string(AION_BENCH_RESULTS_DIR) + "/sched.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--jobs" && i + 1 < argc) {
      jobs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--clients" && i + 1 < argc) {
      clients = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--cgroups") {
      cgroups = true;
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: sched_bench [--jobs N] [--clients N] [--cgroups] [--out FILE]\n");
      return 2;
    }
  }

  // ---- 3. decisions, in-process ----
  auto inv = bench_inventory();
  auto model = aion::sched::make_node_model(inv);
  aion::sched::NodeState state(model, 4);
  // Half-busy: 3 whole GPUs and a share held, 16 CPUs.
  {
    aion::sched::Allocation a;
    a.gpus = {0, 1, 2};
    for (int c = 0; c < 12; ++c) a.cpus.push_back(c);
    a.mems = {0};
    state.add(a);
    aion::sched::Allocation s;
    s.gpus = {5};
    s.gpu_fraction = 0.5;
    s.gpu_memory_bytes = 40ull << 30;
    s.cpus = {40, 41, 42, 43};
    s.mems = {1};
    state.add(s);
  }
  std::vector<aion::sched::Job> pending(1000);
  std::mt19937 rng(42);
  for (int i = 0; i < 1000; ++i) {
    auto& j = pending[static_cast<std::size_t>(i)];
    j.id = i + 1;
    j.submit_ms = 1000 + i;
    j.spec.user = "user" + std::to_string(rng() % 8);
    j.spec.priority = static_cast<int>(rng() % 3);
    auto& r = j.spec.resources;
    switch (rng() % 6) {
      case 0:
        r.gpus = 1;
        r.cpus = 2;
        break;
      case 1:
        r.gpus = 2;
        r.cpus = 8;
        break;
      case 2:
        r.gpus = 4;
        r.cpus = 16;
        break;
      case 3:
        r.gpu_fraction = 0.25;
        r.cpus = 1;
        break;
      case 4:
        r.gpus = 8;
        r.cpus = 32;
        break;
      default: r.cpus = 1 + static_cast<int>(rng() % 4); break;
    }
  }
  std::vector<double> decision_us;
  for (int round = 0; round < 5; ++round) {
    for (const auto& j : pending) {
      auto t0 = Clock::now();
      auto res = aion::sched::place(model, state, j.spec.resources, 4);
      auto t1 = Clock::now();
      if (round > 0)
        decision_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      if (res.candidates.empty() && res.reason.empty()) std::abort();
    }
  }
  // GPU shares through the cluster library's fgd (sched.share_policy's default), its target
  // workload being the pending jobs, against the built-in best fit on the same requests.
  std::vector<aion::cluster::PodRequest> pods;
  for (const auto& j : pending) pods.push_back(aion::sched::pod_request(j.spec.resources));
  const auto workload = aion::cluster::WorkloadDistribution::from_requests(pods, 1.0);
  auto fgd = aion::cluster::make_policy("fgd", &workload);
  if (!fgd) std::abort();
  std::vector<double> share_local_us, share_fgd_us;
  for (int round = 0; round < 5; ++round) {
    for (const auto& j : pending) {
      if (j.spec.resources.gpu_fraction <= 0) continue;
      for (auto* out : {&share_local_us, &share_fgd_us}) {
        aion::sched::PlaceOptions o;
        if (out == &share_fgd_us) o.share_policy = fgd->get();
        auto t0 = Clock::now();
        auto res = aion::sched::place(model, state, j.spec.resources, 4, o);
        auto t1 = Clock::now();
        if (round > 0) out->push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        if (res.candidates.empty() && res.reason.empty()) std::abort();
      }
    }
  }
  std::vector<double> pass_ms;
  aion::sched::FairShare fairshare;
  aion::sched::PolicyConfig policy;
  for (int round = 0; round < 50; ++round) {
    aion::sched::PlanInput in;
    in.model = &model;
    in.state = &state;
    in.fairshare = &fairshare;
    in.now_ms = 5000;
    for (const auto& j : pending) in.pending.push_back(&j);
    auto t0 = Clock::now();
    auto plan = aion::sched::make_plan(in, policy);
    pass_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::printf("sched_bench: %u cores, simulated 8x A100 (NVSwitch), 64 CPUs, 2 NUMA nodes\n",
              std::thread::hardware_concurrency());
  std::printf(
      "decision (place(), 1,000 pending shapes, node half busy): p50 %.1f us, p99 %.1f us, "
      "max %.1f us\n",
      pct(decision_us, 50), pct(decision_us, 99), pct(decision_us, 100));
  std::printf(
      "GPU-share decision: best fit p50 %.1f us, p99 %.1f us; fgd p50 %.1f us, p99 %.1f us\n",
      pct(share_local_us, 50), pct(share_local_us, 99), pct(share_fgd_us, 50),
      pct(share_fgd_us, 99));
  std::printf(
      "scheduling pass over 1,000 pending jobs (fgd for shares): p50 %.2f ms, p99 %.2f ms\n",
      pct(pass_ms, 50), pct(pass_ms, 99));

  // ---- 1 and 2: the daemon ----
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  fs::path dir = fs::temp_directory_path() / ("aion-sched-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path socket = dir / "aiond.sock";
  {
    std::ofstream cfg(dir / "aion.toml");
    cfg << "[hw]\nrescan_interval_s = 0\n[sched]\ncpu_overcommit = 64\nreserved_memory = \"0\"\n"
        << "cgroups = " << (cgroups ? "true" : "false") << "\n"
        << "cgroup_parent = \"aion.bench." << ::getpid() << "\"\n";
    for (int i = 0; i < 8; ++i) {
      cfg << "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\nnuma_node = 0\nnvswitch = true\n";
    }
  }
  std::string aiond = (self / "aiond").string(), state_dir = (dir / "state").string();
  std::string config = (dir / "aion.toml").string();
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string log = (dir / "aiond.log").string();
    std::freopen(log.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(aiond.c_str(), aiond.c_str(), "--foreground", "--state-dir", state_dir.c_str(),
            "--socket", socket.c_str(), "--config", config.c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    if (auto c = aion::api::Client::connect_unix(socket)) up = c->get("/v1/status").has_value();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!up) {
    std::fprintf(stderr, "sched_bench: aiond did not start (see %s/aiond.log)\n", dir.c_str());
    ::kill(pid, SIGKILL);
    return 1;
  }

  // Submissions are measured on a held node (nothing starts while they are timed), then the
  // node is released and drained.
  {
    auto c = aion::api::Client::connect_unix(socket);
    auto r = c ? c->post("/v1/sched/hold", R"({"hold": true})")
               : aion::Result<aion::api::HttpResponse>();
    if (!r || r->status != 200) {
      std::fprintf(stderr, "sched_bench: cannot hold the node\n");
      ::kill(pid, SIGKILL);
      return 1;
    }
  }
  std::atomic<int> next{0}, failures{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = aion::api::Client::connect_unix(socket);
      if (!client) {
        failures += 1;
        return;
      }
      for (int i = next++; i < jobs; i = next++) {
        std::string body = job_body(i).dump();
        auto s = Clock::now();
        auto r = client->post("/v1/jobs", body);
        lat[static_cast<std::size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        if (!r || r->status != 201) {
          if (failures++ == 0)
            std::fprintf(stderr, "submit failed: %s\n", r ? r->body.c_str() : "");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double submit_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  long rss_after_submit = status_kb(pid, "VmRSS:");
  std::printf(
      "submit: %d jobs in %.2f s = %.0f jobs/s persisted (%d clients), p50 %.2f ms, "
      "p99 %.2f ms, %d failed\n",
      jobs, submit_s, jobs / submit_s, clients, pct(all, 50), pct(all, 99), failures.load());

  // Drain.
  auto client = aion::api::Client::connect_unix(socket);
  if (auto r = client->post("/v1/sched/hold", R"({"hold": false})"); !r) {
    std::fprintf(stderr, "sched_bench: releasing the hold: %s\n", r.error().message().c_str());
  }
  auto drain_t0 = Clock::now();
  long long left = jobs;
  int last_print = -1;
  while (left > 0) {
    auto r = client->get("/v1/sched");
    if (!r || r->status != 200) break;
    auto counts = aion::Json::parse(r->body);
    left = counts.value("pending", 0LL) + counts.value("running", 0LL);
    int sec = static_cast<int>(std::chrono::duration<double>(Clock::now() - drain_t0).count());
    if (sec / 5 != last_print) {
      last_print = sec / 5;
      std::fprintf(stderr, "  draining: %lld jobs left after %d s\n", left, sec);
    }
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double drain_s = std::chrono::duration<double>(Clock::now() - drain_t0).count();
  long hwm = status_kb(pid, "VmHWM:"), rss = status_kb(pid, "VmRSS:");
  // Jobs that did not complete (few, if any): the rest did.
  auto r = client->get("/v1/jobs?state=failed,lost,cancelled,preempted");
  long long completed =
      r && r->status == 200
          ? jobs - static_cast<long long>(aion::Json::parse(r->body)["jobs"].size())
          : 0;
  std::printf(
      "drain: all %d jobs ran and ended %.1f s after the release (%.0f jobs/s), %lld "
      "completed\n",
      jobs, drain_s, jobs / drain_s, completed);
  std::printf("aiond memory: %.1f MiB after submitting, peak %.1f MiB, %.1f MiB at the end\n",
              rss_after_submit / 1024.0, hwm / 1024.0, rss / 1024.0);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::error_code ec;
  fs::remove_all(dir, ec);

  aion::Json j = {
      {"bench", "sched"},
      {"version", aion::kVersion},
      {"cores", std::thread::hardware_concurrency()},
      {"node", "simulated 8x A100-SXM4-80GB on NVSwitch, 64 CPUs, 2 NUMA nodes"},
      {"cgroups", cgroups},
      {"submit",
       {{"jobs", jobs},
        {"clients", clients},
        {"seconds", submit_s},
        {"jobs_per_s", jobs / submit_s},
        {"p50_ms", pct(all, 50)},
        {"p99_ms", pct(all, 99)},
        {"failed", failures.load()}}},
      {"drain",
       {{"seconds_from_first_submit", drain_s},
        {"jobs_per_s", jobs / drain_s},
        {"completed", completed}}},
      {"share_decision_us",
       {{"samples", share_fgd_us.size()},
        {"local_p50", pct(share_local_us, 50)},
        {"local_p99", pct(share_local_us, 99)},
        {"fgd_p50", pct(share_fgd_us, 50)},
        {"fgd_p99", pct(share_fgd_us, 99)}}},
      {"decision_us",
       {{"pending", 1000},
        {"samples", decision_us.size()},
        {"p50", pct(decision_us, 50)},
        {"p99", pct(decision_us, 99)},
        {"max", pct(decision_us, 100)}}},
      {"pass_ms", {{"pending", 1000}, {"p50", pct(pass_ms, 50)}, {"p99", pct(pass_ms, 99)}}},
      {"aiond_memory_mib",
       {{"after_submit", rss_after_submit / 1024.0},
        {"peak", hwm / 1024.0},
        {"end", rss / 1024.0}}},
      {"targets", {{"submit_jobs_per_s", 5000}, {"decision_p99_ms", 1.0}}}};
  std::ofstream(out) << j.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  return failures.load() == 0 && completed == jobs ? 0 : 1;
}
