// JobProcess: the handles through which aiond reaches one running job (its shim's pidfd, its
// command's pidfd and process group, its cgroup) and the one stop sequence every stop takes:
// SIGTERM, a grace period on the monotonic clock, then SIGKILL. JobManager owns one per
// running job and touches it only under its mutex; a JobProcess itself is not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "aion/core/clock.h"
#include "aion/guard/egress.h"
#include "aion/sched/cgroup.h"
#include "aion/sched/job.h"

namespace aion::sched {

// Signals reach a job only through handles that are known to be the job's: its cgroup, a
// pidfd of its shim (our child, or checked against the recorded start time when adopted),
// and a pidfd of its command taken while the shim was alive and the command its child. A
// bare pid recorded before a restart is never signalled: it may belong to anyone by now.
class JobProcess {
 public:
  // `dir` is the job's directory (<state>/jobs/<id>), where the shim records the command's pid.
  explicit JobProcess(std::filesystem::path dir);
  ~JobProcess();
  JobProcess(const JobProcess&) = delete;
  JobProcess& operator=(const JobProcess&) = delete;

  // The shim was just started by us: takes its pidfd.
  void attach_child(pid_t shim);
  // The shim of a previous aiond: takes its pidfd when the process at `shim` is still the one
  // that started at `start_time` (field 22 of /proc/PID/stat). False when it is gone.
  bool adopt(pid_t shim, std::int64_t start_time);

  // The stop sequence (cancel, preemption, GPU memory over the share): records why, sends
  // SIGTERM now and makes SIGKILL due `grace` after `now`. The caller checks stopping() first
  // when a second stop must not replace the first one's reason.
  void stop(JobState state, std::string reason, Clock::Monotonic now,
            std::chrono::milliseconds grace);
  bool stopping() const { return stop_state_.has_value(); }
  const std::optional<JobState>& stop_state() const { return stop_state_; }
  const std::string& stop_reason() const { return stop_reason_; }
  // Its last step: SIGKILL once the grace is over. True when it sent it now.
  bool kill_if_due(Clock::Monotonic now);
  // How long poll() may sleep before kill_if_due() has work: `cap_ms` when nothing is due.
  int ms_until_kill(Clock::Monotonic now, int cap_ms) const;
  // After the job ended: SIGKILL to whatever it left behind (daemonised children) in its
  // cgroup, or without one, in its command's process group.
  void kill_leftovers();

  // Takes a pidfd of the job's command once the shim has recorded its pid, checking that the
  // process is the live shim's child and leads its own group; no-op once it has one.
  void track_command();

  pid_t shim() const { return shim_; }
  void set_shim(pid_t shim) { shim_ = shim; }
  bool our_child() const { return our_child_; }
  int pidfd() const { return pidfd_; }  // the shim's; -1 when there is none
  std::optional<JobCgroup>& cgroup() { return cgroup_; }
  // The job's network policy and egress record, while it runs (a sandbox that keeps one).
  std::unique_ptr<guard::EgressMonitor>& egress() { return egress_; }
  const std::optional<JobCgroup>& cgroup() const { return cgroup_; }

 private:
  // Sends sig through the job's cgroup, its shim's pidfd (SIGTERM only: the shim forwards it)
  // and its command's process group while the command's pidfd says the leader lives.
  void signal(int sig);

  std::filesystem::path dir_;
  pid_t shim_ = 0;
  int pidfd_ = -1;  // the shim
  bool our_child_ = false;
  int command_pidfd_ = -1;  // the command, leader of its own process group
  pid_t command_pgid_ = 0;
  std::optional<JobCgroup> cgroup_;
  std::unique_ptr<guard::EgressMonitor> egress_;
  std::optional<JobState> stop_state_;  // cancelled / preempted / stopped on purpose
  std::string stop_reason_;
  std::optional<Clock::Monotonic> kill_at_;  // SIGKILL due
};

// Fields 4-6 of /proc/PID/stat; nullopt when the process is gone.
struct ProcStat {
  pid_t ppid = 0, pgrp = 0, session = 0;
};
std::optional<ProcStat> proc_stat(pid_t pid);

// Field 22 of /proc/PID/stat: when the process started (clock ticks since boot). With the
// pid it names one process for good, even after the pid is reused. 0 when it is gone.
std::int64_t process_start_time(pid_t pid);

}  // namespace aion::sched
