#include "aion/telemetry/job_metrics.h"

#include <chrono>
#include <string>

namespace aion::telemetry {

std::vector<MetricFamily> job_metrics(const std::vector<sched::JobManager::JobUsageNow>& jobs) {
  MetricFamily cpu{"aion_job_cpu_seconds_total",
                   "CPU time of all of a job's processes",
                   MetricType::kCounter,
                   {}};
  MetricFamily mem{
      "aion_job_memory_bytes", "Memory a job's cgroup uses now", MetricType::kGauge, {}};
  MetricFamily peak{
      "aion_job_memory_peak_bytes", "Most memory a job's cgroup has used", MetricType::kGauge, {}};
  MetricFamily rd{"aion_job_io_read_bytes_total",
                  "Bytes a job read from block devices",
                  MetricType::kCounter,
                  {}};
  MetricFamily wr{"aion_job_io_written_bytes_total",
                  "Bytes a job wrote to block devices",
                  MetricType::kCounter,
                  {}};
  MetricFamily oom{"aion_job_oom_kills_total",
                   "Processes of a job the OOM killer ended",
                   MetricType::kCounter,
                   {}};
  MetricFamily gpus{"aion_job_gpus", "Whole GPUs allocated to a job", MetricType::kGauge, {}};
  MetricFamily egress{"aion_job_egress_bytes_total",
                      "Payload bytes a sandboxed job exchanged over the network "
                      "(direction=\"out\" or \"in\"; aion guard log JOB has them per endpoint)",
                      MetricType::kCounter,
                      {}};
  MetricFamily refused{"aion_job_guard_refusals_total",
                       "File accesses, system calls and connections a job's sandbox refused",
                       MetricType::kCounter,
                       {}};
  for (const auto& j : jobs) {
    Labels l = {
        {"job", std::to_string(j.id)}, {"name", j.name}, {"user", j.user}, {"queue", j.queue}};
    cpu.add(l, std::chrono::duration<double>(j.stats.cpu_time).count());
    mem.add(l, static_cast<double>(j.stats.memory_current_bytes));
    peak.add(l, static_cast<double>(j.stats.memory_peak_bytes));
    rd.add(l, static_cast<double>(j.stats.io_read_bytes));
    wr.add(l, static_cast<double>(j.stats.io_write_bytes));
    oom.add(l, static_cast<double>(j.stats.oom_kills));
    gpus.add(l, static_cast<double>(j.gpus));
    if (j.sandboxed) refused.add(l, static_cast<double>(j.refusals));
    if (j.egress_recorded) {
      Labels out = l, in = l;
      out.emplace_back("direction", "out");
      in.emplace_back("direction", "in");
      egress.add(out, static_cast<double>(j.egress_bytes_out));
      egress.add(in, static_cast<double>(j.egress_bytes_in));
    }
  }
  std::vector<MetricFamily> out;
  if (jobs.empty()) return out;
  move_nonempty(out, {&cpu, &mem, &peak, &rd, &wr, &oom, &gpus, &egress, &refused});
  return out;
}

}  // namespace aion::telemetry
