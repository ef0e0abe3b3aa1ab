// JobManager, GPU-memory policing: per-process GPU memory from NVML, summed per job and kept
// as the job's peak; a job with a GPU share that uses more than the share is stopped like a
// cancelled one, with an event saying why. Runs on the loop's thread with mu_ held, every
// RunnerConfig::gpu_check, when NVML loaded.
#include <algorithm>

#include <spdlog/spdlog.h>
#include "aion/sched/job_json.h"
#include "aion/sched/job_process.h"
#include "aion/sched/runner.h"

namespace aion::sched {

// A process belongs to the job whose cgroup it lives in (/proc/PID/cgroup), so one that
// calls setsid or double-forks is still the job's: only root can move it out. Jobs without a
// cgroup (sched.cgroups = false) fall back to the session their shim leads, which a process
// of the job can leave.
std::map<std::int64_t, std::uint64_t> JobManager::gpu_memory_by_job() const {
  std::map<int, std::vector<std::int64_t>> jobs_on_gpu;
  for (const auto& [id, job] : running_) {
    if (!job.allocation) continue;
    for (int g : job.allocation->gpus) {
      const GpuSlot& slot = model_.gpus[static_cast<std::size_t>(g)];
      if (slot.vendor == "nvidia" && !slot.simulated) jobs_on_gpu[g].push_back(id);
    }
  }
  std::map<std::int64_t, std::uint64_t> used;  // job -> bytes over all its GPUs
  for (const auto& [g, ids] : jobs_on_gpu) {
    const std::string& addr = model_.gpus[static_cast<std::size_t>(g)].pci_address;
    auto procs = nvml_->compute_processes(addr);
    if (!procs) {
      spdlog::debug("event=gpu_memory_check_failed gpu={} error=\"{}\"", addr,
                    procs.error().message());
      continue;
    }
    for (const auto& p : *procs) {
      auto cgroups = fs_.read("/proc/" + std::to_string(p.pid) + "/cgroup", 64 << 10);
      std::optional<ProcStat> st;
      for (std::int64_t id : ids) {
        auto live = live_.find(id);
        if (live == live_.end()) continue;
        bool mine = false;
        if (live->second->cgroup()) {
          mine = cgroups && live->second->cgroup()->holds(*cgroups);
        } else {
          if (!st) st = proc_stat(static_cast<pid_t>(p.pid));
          mine = st && running_.at(id).shim_pid == st->session;
        }
        if (mine) {
          used[id] += p.used_memory_bytes;
          break;
        }
      }
    }
  }
  return used;
}

void JobManager::check_gpu_memory() {
  for (auto& [id, bytes] : gpu_memory_by_job()) {
    Job& job = running_.at(id);
    job.usage.gpu_memory_peak_bytes = std::max(job.usage.gpu_memory_peak_bytes, bytes);
    const Allocation& a = *job.allocation;
    auto live = live_.find(id);
    if (a.gpu_fraction <= 0 || bytes <= a.gpu_memory_bytes || live == live_.end() ||
        live->second->stopping()) {
      continue;
    }
    Live& l = *live->second;
    stop_job(l, JobState::kFailed,
             "stopped: it used " + format_size(bytes) + " of GPU memory, more than its " +
                 format_size(a.gpu_memory_bytes) + " share of GPU " +
                 model_.gpus[static_cast<std::size_t>(a.gpus.front())].pci_address);
    spdlog::warn("event=job_gpu_memory_exceeded id={} used={} share={}", id, bytes,
                 a.gpu_memory_bytes);
    store::Event ev;
    ev.kind = "job";
    ev.severity = "warning";
    ev.source = "sched";
    ev.message = "job " + std::to_string(id) + " (" + job.spec.name + ", " + job.spec.user + ") " +
                 l.stop_reason();
    ev.data_json = to_json(job).dump();
    events_.record(std::move(ev));
  }
}

}  // namespace aion::sched
