// Launching one job: its directory, its cgroup (limits and denied devices), its sandbox (the
// guard profile it asked for, planned for this machine), the launch file aion-shim reads, and
// the shim itself, started in a session of its own. Called by
// JobManager without its lock, one job at a time per call; reads only what it is given.
// Thread-safe as long as the LaunchContext's objects are not changed meanwhile (the
// JobManager's are fixed once it has started).
#pragma once

#include <filesystem>
#include <memory>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/sched/cgroup.h"
#include "aion/sched/job.h"
#include "aion/sched/job_process.h"
#include "aion/sched/job_sandbox.h"
#include "aion/sched/placement.h"
#include "aion/sched/runner_config.h"

namespace aion::sched {

struct LaunchContext {
  const RunnerConfig& config;
  const CgroupCaps& caps;
  const HostFs& fs;
  const hw::Inventory& inventory;
  const NodeModel& model;
  const GuardSite& guard;
};

// Starts `job` on allocation `a` in `dir` and sets job.shim_pid and job.shim_start. On error
// nothing is left behind but the directory (no cgroup, no shim).
Result<std::unique_ptr<JobProcess>> launch_job(const LaunchContext& ctx, Job& job,
                                               const Allocation& a,
                                               const std::filesystem::path& dir);

}  // namespace aion::sched
