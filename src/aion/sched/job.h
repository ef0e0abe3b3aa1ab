// Jobs: what a user asks to run (JobSpec), and what became of it (Job). Plain values, with
// parsing and checking of what users type ("64G", "0.25") and the JSON the API speaks.
// Values and pure functions; thread-safe to read, one owner mutates.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/sched/placement.h"

namespace aion::sched {

enum class JobState {
  kPending,    // queued, waiting for resources
  kRunning,    // started (its supervisor runs)
  kCompleted,  // exited 0
  kFailed,     // exited non-zero, killed by a signal, OOM-killed, could not start
  kCancelled,  // by a user (aion cancel) while pending or running
  kPreempted,  // stopped for a higher-priority job and not requeued
  kLost,       // its supervisor vanished without recording an exit status (never rerun)
};

std::string_view to_string(JobState s);
std::optional<JobState> job_state_from(std::string_view s);
inline bool is_terminal(JobState s) {
  return s != JobState::kPending && s != JobState::kRunning;
}

struct JobSpec {
  std::string name;                  // "" = the program's base name
  std::vector<std::string> command;  // argv; command[0] is looked up in PATH from env
  std::map<std::string, std::string> env;
  std::string cwd;  // absolute
  Request resources;
  int priority = 0;  // -1000..1000; higher runs first and may preempt lower
  std::string queue = "default";
  bool requeue = false;                // back to the queue when preempted
  std::uint32_t uid = 0, gid = 0;      // who the job runs as
  std::string user;                    // that user's name, for display and fair share
  std::string sandbox;                 // a guard profile ("agent", "strict"); "" = none
  std::vector<std::string> allow_net;  // network rules the job adds to its profile's
  // Checksum files (sha256sum form) whose files must match before the job runs: checked as
  // the job's user right before its command starts, `aion guard verify --sums`.
  std::vector<std::string> verify;
};

// Sizes: "512", "64K", "10G", "1.5T", "4GiB", "10gb" (binary multiples). kInvalidArgument
// with the offending text on anything else, zero excepted where a size must be positive.
Result<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);  // "64.0 GiB"

// Resolves command[0] against PATH (from spec.env, else /usr/local/bin:/usr/bin:/bin) and cwd
// as `uid` would: kNotFound "no such command 'trainx' in PATH (...)" or "not executable".
Result<std::string> resolve_command(const JobSpec& spec);

struct Accounting {
  std::int64_t cpu_time_ms = 0;
  std::uint64_t memory_peak_bytes = 0;
  std::int64_t gpu_time_ms = 0;             // wall time x GPUs held (a share counts its fraction)
  std::uint64_t gpu_memory_peak_bytes = 0;  // where measured (NVML); 0 otherwise
};

struct Job {
  std::int64_t id = 0;
  JobSpec spec;
  JobState state = JobState::kPending;
  std::string reason;  // why it waits, or how it ended, in user words
  std::int64_t submit_ms = 0, start_ms = 0, end_ms = 0;
  std::optional<Allocation> allocation;  // while running, and kept after for `aion show`
  pid_t shim_pid = 0;                    // its supervisor (aion-shim)
  std::int64_t shim_start = 0;           // the supervisor's start time (/proc/PID/stat #22)
  pid_t pid = 0;                         // the command's pid (its process group)
  int exit_code = -1;
  int signal = 0;
  bool oom_killed = false;
  int restarts = 0;  // times requeued after preemption
  Accounting usage;
};

}  // namespace aion::sched
