// RunnerConfig: how aiond's JobManager runs jobs, read from the [sched] and [guard] sections
// of the config (plus hw.nvml_library) and the place of aion-shim. A plain value: the caller owns
// it; the functions here only read the config and the file system, so they are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "aion/core/config.h"
#include "aion/core/error.h"
#include "aion/sched/scheduler.h"

namespace aion::sched {

struct RunnerConfig {
  std::filesystem::path jobs_dir;  // <state>/jobs
  std::filesystem::path shim;      // aion-shim
  std::filesystem::path cli;       // the aion program (checks a job's declared files); may be ""
  std::string cgroup_parent = "aion.jobs";
  bool cgroups = true;  // isolate jobs in cgroups when the machine has them
  int cpu_overcommit = 1;
  std::uint64_t reserved_memory_bytes = 1ull << 30;
  std::chrono::milliseconds kill_grace{10000};     // SIGTERM -> SIGKILL on cancel/preempt
  std::chrono::milliseconds tick{1000};            // re-plan at least this often
  std::chrono::milliseconds min_pass_interval{5};  // and at most this often
  PolicyConfig policy;
  int max_pending = 100000;  // submissions beyond this are refused (kResourceExhausted)
  // Bytes of output one run of a job may write to its log (0: no cap); the shim drops the
  // rest and says so in the log.
  std::uint64_t job_output_max_bytes = 1ull << 30;
  // NVIDIA GPUs: how often per-process GPU memory is read through NVML (0: never). A job with
  // a GPU share that uses more than its share is stopped.
  std::chrono::milliseconds gpu_check{2000};
  std::string nvml_library;                                      // hw.nvml_library
  std::filesystem::path guard_profiles_dir = "/etc/aion/guard";  // guard.profiles_dir
  std::filesystem::path guard_endpoints_file;                    // guard.endpoints_file
  bool guard_enable_audit = true;                                // guard.kernel_audit = "enable"
};

// The [sched] section of the config.
ConfigSchema sched_config_schema();
// Reads it; state_dir decides jobs_dir. The shim is looked up beside the running program
// (bin/aion-shim in a build tree) and in /usr/lib/aion.
Result<RunnerConfig> runner_config(const Config& config, const std::filesystem::path& state_dir);

}  // namespace aion::sched
