// Job metrics: what each running job uses now, read from its cgroup by the scheduler
// (sched::JobManager::usage_now), as metric families labelled by job id, name, user and
// queue. A pure function; thread-safe.
#pragma once

#include <vector>

#include "aion/sched/runner.h"
#include "aion/telemetry/metric.h"

namespace aion::telemetry {

// aion_job_cpu_seconds_total, aion_job_memory_bytes, aion_job_memory_peak_bytes,
// aion_job_io_read_bytes_total, aion_job_io_written_bytes_total, aion_job_oom_kills_total
// and aion_job_gpus, and for sandboxed jobs aion_job_guard_refusals_total and
// aion_job_egress_bytes_total{direction}; none when no job runs.
std::vector<MetricFamily> job_metrics(const std::vector<sched::JobManager::JobUsageNow>& jobs);

}  // namespace aion::telemetry
