// JobManager, the end of a run: reaping a job whose shim exited, reading the status the shim
// recorded, accounting its usage (cgroup and shim views, GPU time, fair share), deciding its
// final state and reason (or its requeue after a preemption), and recording an event for the
// endings the diagnosis engine links to faults. Runs on the loop's thread with mu_ held.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>
#include "aion/sched/job_json.h"
#include "aion/sched/job_process.h"
#include "aion/sched/runner.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

std::int64_t to_ms(Clock::Wall t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::map<std::string, std::string> read_keyvals(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string signal_name(int sig) {
  const char* d = sigdescr_np(sig);
  const char* n = sigabbrev_np(sig);
  std::string s = "signal " + std::to_string(sig);
  if (n) s += std::string(" (SIG") + n + (d ? std::string(", ") + d : "") + ")";
  return s;
}

using ShimStatus = std::map<std::string, std::string>;  // the shim's status file

// How the command ended, from the shim's status: end time, exit code, signal, OOM kill.
void record_exit(Job& job, ShimStatus& status, const CgroupStats& stats, std::int64_t now) {
  job.end_ms = status.contains("end_ms") ? std::atoll(status["end_ms"].c_str()) : now;
  if (job.end_ms <= 0) job.end_ms = now;
  job.exit_code = status.contains("exit") ? std::atoi(status["exit"].c_str()) : -1;
  job.signal = status.contains("signal") ? std::atoi(status["signal"].c_str()) : 0;
  job.oom_killed = job.signal == SIGKILL && stats.oom_kills > 0;
}

// Accounting: the cgroup's view (all processes) or the shim's (the command and what it
// waited for), whichever saw more; GPU time is the GPUs held (or the share) times the wall
// time of the run.
void account_usage(Job& job, ShimStatus& status, const CgroupStats& stats, const Allocation& a) {
  std::int64_t shim_cpu = status.contains("cpu_ms") ? std::atoll(status["cpu_ms"].c_str()) : 0;
  std::uint64_t rss = status.contains("maxrss_kb")
                          ? std::strtoull(status["maxrss_kb"].c_str(), nullptr, 10) * 1024
                          : 0;
  job.usage.cpu_time_ms = std::max<std::int64_t>(
      shim_cpu, std::chrono::duration_cast<std::chrono::milliseconds>(stats.cpu_time).count());
  job.usage.memory_peak_bytes = std::max(rss, stats.memory_peak_bytes);
  double gpus = a.gpu_fraction > 0 ? a.gpu_fraction : static_cast<double>(a.gpus.size());
  std::int64_t wall = std::max<std::int64_t>(0, job.end_ms - job.start_ms);
  job.usage.gpu_time_ms = static_cast<std::int64_t>(std::llround(gpus * wall));
}

// A preempted job that asked to be requeued goes back to the queue as pending; the next run
// writes a fresh log, the preempted run's stays beside it.
void requeue_preempted(Job& job, const fs::path& dir, const std::string& stop_reason) {
  job.state = JobState::kPending;
  job.reason = "requeued after being " + stop_reason;
  ++job.restarts;
  job.allocation.reset();
  job.pid = 0;
  job.shim_pid = 0;
  job.start_ms = 0;
  job.end_ms = 0;
  job.exit_code = -1;
  job.signal = 0;
  std::error_code ec;
  fs::rename(dir / "output.log", dir.string() + "/output.log.run" + std::to_string(job.restarts),
             ec);
  for (const char* f : {"status", "pid", "shim.pid", "launch"}) fs::remove(dir / f, ec);
}

// The job's final state and the reason a user reads; raises the event's severity for endings
// an operator should look at.
void settle_state(Job& job, ShimStatus& status, const JobProcess& process, const fs::path& dir,
                  const Allocation& a, store::Event& ev) {
  if (status.empty()) {
    job.state = JobState::kLost;
    job.reason = "its supervisor (aion-shim, pid " + std::to_string(process.shim()) +
                 ") ended without recording an exit status";
    ev.severity = "warning";
  } else if (process.stop_state() && !(job.exit_code == 0 && job.signal == 0)) {
    job.state = *process.stop_state();
    job.reason = process.stop_reason();
    if (job.state == JobState::kPreempted && job.spec.requeue)
      requeue_preempted(job, dir, process.stop_reason());
  } else if (status.contains("error")) {
    job.state = JobState::kFailed;
    job.reason = "could not start: " + status["error"];
  } else if (job.oom_killed) {
    job.state = JobState::kFailed;
    job.reason =
        "killed by the OOM killer: it went past its memory limit of " + format_size(a.memory_bytes);
    ev.severity = "warning";
  } else if (job.signal != 0) {
    job.state = JobState::kFailed;
    job.reason = "killed by " + signal_name(job.signal);
  } else if (job.exit_code == 0) {
    job.state = JobState::kCompleted;
    job.reason = "exited with status 0";
  } else {
    job.state = JobState::kFailed;
    job.reason = "exited with status " + std::to_string(job.exit_code);
  }
}

}  // namespace

void JobManager::reap(std::int64_t id) {
  auto rit = running_.find(id);
  auto lit = live_.find(id);
  if (rit == running_.end() || lit == live_.end()) return;
  Live& live = *lit->second;
  if (live.our_child()) {
    int status = 0;
    ::waitpid(live.shim(), &status, WNOHANG);
  }
  // Not our child (adopted): the pidfd said it exited.
  finish(rit->second, live);
  Job done = std::move(rit->second);
  running_.erase(rit);
  live_.erase(lit);
  dirty_ = true;
  if (done.state == JobState::kPending) pending_.emplace(done.id, std::move(done));
}

void JobManager::finish(Job& job, Live& live) {
  fs::path dir = dir_of(job.id);
  auto status = read_keyvals(dir / "status");
  if (job.pid <= 0) {
    std::ifstream f(dir / "pid");
    f >> job.pid;
  }
  CgroupStats stats;
  if (live.cgroup()) stats = live.cgroup()->stats();
  finish_egress(job.id, live);
  if (!job.spec.sandbox.empty() && job.pid > 0) {
    std::lock_guard g(guard_mu_);
    if (ended_sandboxes_.size() >= 256) ended_sandboxes_.clear();
    ended_sandboxes_[job.pid] = job.id;
  }
  live.kill_leftovers();
  if (live.cgroup()) {
    if (auto st = live.cgroup()->remove(); !st) {
      spdlog::warn("event=cgroup_remove_failed id={} error=\"{}\"", job.id, st.error().message());
    }
  }
  std::int64_t now = to_ms(clock_.wall());
  record_exit(job, status, stats, now);
  const Allocation a = job.allocation.value_or(Allocation{});
  account_usage(job, status, stats, a);
  if (job.allocation) state_->remove(*job.allocation);
  std::int64_t wall = std::max<std::int64_t>(0, job.end_ms - job.start_ms);
  fairshare_.add(job.spec.user, usage_rate(job.spec.resources) * wall / 1000.0, now);

  store::Event ev;
  ev.kind = "job";
  ev.source = "sched";
  settle_state(job, status, live, dir, a, ev);
  if (auto st = jobs_.update(job); !st) {
    spdlog::error("event=job_store_failed id={} error=\"{}\"", job.id, st.error().message());
  }
  spdlog::info("event=job_end id={} state={} reason=\"{}\"", job.id, to_string(job.state),
               job.reason);
  // Failed jobs too, so that the diagnosis engine can link them to the fault that explains
  // them (gpu_pci names their GPUs the way kernel and NVML evidence does).
  if (job.state == JobState::kLost || job.state == JobState::kFailed || job.oom_killed ||
      live.stop_state() == JobState::kPreempted) {
    if (job.state == JobState::kFailed && ev.severity == "info") ev.severity = "warning";
    ev.message = "job " + std::to_string(job.id) + " (" + job.spec.name + ", " + job.spec.user +
                 "): " + std::string(to_string(job.state)) + ": " + job.reason;
    Json data = to_json(job);
    Json pci = Json::array();
    for (int g : a.gpus) {
      if (g >= 0 && static_cast<std::size_t>(g) < model_.gpus.size())
        pci.push_back(model_.gpus[static_cast<std::size_t>(g)].pci_address);
    }
    data["gpu_pci"] = std::move(pci);
    ev.data_json = data.dump();
    events_.record(std::move(ev));
  }
}

}  // namespace aion::sched
