// JobManager: the scheduler at work in aiond. It keeps the queue (JobStore), decides with
// make_plan(), starts each job under its own supervisor (aion-shim) in its own cgroup, and
// learns of exits through pidfds. One thread (the loop) does all of it; the public methods
// may be called from any thread.
//
// A job's files live in <state>/jobs/<id>/: launch (what aion-shim runs), shim.pid, pid,
// output.log (stdout and stderr), status (written by the shim when the command ends).
//
// Restart: jobs survive aiond (KillMode=process; the shims are in sessions of their own). At
// start, every job stored as running is re-adopted when its shim still runs, finished from its
// status file when the shim recorded one, and otherwise marked lost with the reason; a job is
// never started twice, because it is stored as running before its shim is started.
//
// Thread-safe: submit(), get(), list(), queue(), cancel(), read_log(), the hold and drain
// members, requeue(), usage_now(), counts() and poke() may be called from any thread (the API
// workers, telemetry, remediation). start() and stop() belong to the daemon's controlling
// thread; model(), cgroup_caps() and isolation_summary() read what is fixed once start()
// has returned.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/guard/audit.h"
#include "aion/hw/inventory.h"
#include "aion/hw/nvml.h"
#include "aion/sched/cgroup.h"
#include "aion/sched/job.h"
#include "aion/sched/job_process.h"
#include "aion/sched/job_sandbox.h"
#include "aion/sched/job_store.h"
#include "aion/sched/placement.h"
#include "aion/sched/runner_config.h"
#include "aion/sched/scheduler.h"
#include "aion/store/event_log.h"

namespace aion::sched {

struct QueueEntry {
  Job job;
  int position = 0;  // 1 = next
  std::string reason;
};

class JobManager {
 public:
  JobManager(store::Store& store, store::EventLog& events, HostFs fs, hw::Inventory inventory,
             RunnerConfig config, const Clock& clock = Clock::system());
  ~JobManager();
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  static std::span<const store::Migration> migrations();

  // Detects cgroups, recovers the jobs of a previous run, and starts the loop.
  Status start();
  // Stops the loop. Running jobs go on (their shims keep them); a later start() adopts them.
  void stop();

  // Checks the request against the node and the command (exists, executable by the job's
  // user), stores the job and wakes the loop. Errors are kInvalidArgument/kNotFound/
  // kPermissionDenied with what to fix; nothing is stored then.
  Result<Job> submit(JobSpec spec);
  Result<Job> get(std::int64_t id);
  Result<std::vector<Job>> list(const JobFilter& filter);
  // Pending jobs in the order they would start, each with why it waits.
  std::vector<QueueEntry> queue();
  // Cancels a pending job at once; a running one gets SIGTERM, then SIGKILL after the grace.
  // `caller_uid` < 0 or 0 may cancel any job; others only their own.
  Result<Job> cancel(std::int64_t id, long caller_uid, bool admin);
  // Up to `max` bytes of the job's output from `offset`; eof when the job has ended and
  // nothing more is there.
  struct LogChunk {
    std::string data;
    std::uint64_t next_offset = 0;
    bool finished = false;  // the job ended and data reaches the end of its log
  };
  Result<LogChunk> read_log(std::int64_t id, std::uint64_t offset, std::size_t max);

  // What a job's sandbox did: its plan as launched (JSON; "" when it had none), what it
  // refused (the guard events naming the job, oldest first, at most 1,000), and its egress
  // record (JSON; "" when none was kept).
  struct GuardRecord {
    std::string plan_json;
    std::vector<store::Event> refusals;
    std::string egress_json;
  };
  Result<GuardRecord> guard_record(std::int64_t id);

  // Hold: no job starts while held (before maintenance); submissions are still queued and
  // running jobs go on. Not persisted: a restarted aiond starts released.
  void set_hold(bool hold, const std::string& who);
  bool held() const;

  // Drain: no new job is placed on the GPU at `pci_address` (sysfs form) until it is
  // undrained; running jobs go on. The diagnosis engine's remediation uses it for a GPU that
  // failed, operators through POST /v1/sched/drain (`aion admin drain|undrain`). Saved in the
  // store: a restarted aiond keeps the GPU drained. kNotFound for an address the node model
  // does not have.
  Status set_gpu_drained(const std::string& pci_address, bool drained, const std::string& why);
  // Drained GPUs by PCI address, with why.
  std::map<std::string, std::string> drained_gpus() const;
  // Requeue: submits a finished job's spec again as a new job (same command, resources,
  // user); kConflict while the job is still pending or running.
  Result<Job> requeue(std::int64_t id);

  // What each running job uses now, read from its cgroup (jobs without one are left out).
  struct JobUsageNow {
    std::int64_t id = 0;
    std::string name, user, queue;
    std::size_t gpus = 0;
    CgroupStats stats;
    bool sandboxed = false;
    bool egress_recorded = false;  // the egress monitor runs: the two counters below mean it
    std::uint64_t egress_bytes_out = 0, egress_bytes_in = 0;
    std::uint64_t refusals = 0;  // what its sandbox refused so far (recorded or not)
  };
  std::vector<JobUsageNow> usage_now() const;

  const NodeModel& model() const { return model_; }
  std::string isolation_summary() const;
  struct Counts {
    std::size_t pending = 0, running = 0;
  };
  Counts counts() const;
  // Runs one pass of the loop now (tests and the benchmark), without waiting for the tick.
  void poke();

 private:
  using Live = JobProcess;  // a running job's handles (job_process.h)
  // What recover() found, for its log line.
  struct RecoveryCounts {
    int adopted = 0, lost = 0, finished = 0, requeued = 0;
  };
  void loop();
  // How long the loop's poll() may sleep; with mu_ held.
  int poll_timeout_ms(Clock::Monotonic now, Clock::Monotonic last_pass) const;
  // One scheduling pass: plans, preempts, and starts what the plan places.
  void pass(std::unique_lock<std::mutex>& lock);
  // Stores the jobs of the plan as running, starts them without the lock, records the outcome.
  void start_jobs(std::vector<Job> starting, std::unique_lock<std::mutex>& lock);
  void reap(std::int64_t id);
  void finish(Job& job, Live& live);
  // The stop sequence of JobProcess with this manager's clock and grace.
  void stop_job(Live& live, JobState state, std::string reason);
  void recover();
  void recover_running(Job job, RecoveryCounts& counts);
  void requeue_unstarted(Job job);
  void check_gpu_memory();
  std::map<std::int64_t, std::uint64_t> gpu_memory_by_job() const;  // job -> bytes
  std::filesystem::path dir_of(std::int64_t id) const;
  std::string waiting_reason(std::int64_t id) const;  // with mu_ held
  // The guard (job_guard.cc): kernel audit records of what sandboxes refused become "guard"
  // events of the job they came from, at most kGuardEventsPerMinute per job.
  // The system calls a job's seccomp filter refused reach aion-shim, which writes them to the
  // job's guard.log; the loop turns new lines into events (and the last ones of ended jobs).
  void start_guard();
  void on_guard_denial(const guard::Denial& d);
  void collect_guard_logs();
  // The egress monitors: refused connections become guard events; the record (endpoints
  // with bytes each way, the latest connections) goes to the job's egress.json, at most every
  // few seconds, and one last time when the job ends (finish_egress, with mu_ held).
  void collect_egress();
  // A sandboxed job adopted after a restart gets its network policy and egress record back
  // (its plan as launched, sandbox.json).
  void reattach_egress(const Job& job, Live& live);
  void finish_egress(std::int64_t id, Live& live);
  void write_egress(std::int64_t id, guard::EgressMonitor& m, std::vector<guard::EgressEvent> ev,
                    bool force);  // with guard_mu_ held
  std::optional<std::int64_t> job_of_process(pid_t pid, pid_t creator);
  void record_guard(std::int64_t id, const guard::Denial& d);  // with guard_mu_ held

  store::Store& store_;
  store::EventLog& events_;
  JobStore jobs_;
  HostFs fs_;
  hw::Inventory inventory_;
  RunnerConfig config_;
  const Clock& clock_;
  NodeModel model_;
  CgroupCaps caps_;
  GuardSite guard_;  // read once in start()

  // mu_ guards dirty_ through fairshare_ below (state_'s NodeState included), and the loop
  // thread holds it while it uses nvml_ (wake_ is unused: the loop sleeps in poll() on
  // wake_fd_). The members above it are fixed once start() has returned; wake_fd_, nvml_ and
  // thread_ are set by start() before the loop runs.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool dirty_ = true;
  std::string hold_by_;                         // who holds the node; "" = released
  std::map<std::string, std::string> drained_;  // PCI address -> why
  bool stopping_ = false;
  std::map<std::int64_t, Job> pending_;
  std::map<std::int64_t, Job> running_;
  std::map<std::int64_t, std::unique_ptr<Live>> live_;
  std::map<std::int64_t, std::string> waiting_;          // why each pending job waits
  std::map<std::int64_t, std::string> cancel_requests_;  // cancelled while being started
  std::unique_ptr<NodeState> state_;
  FairShare fairshare_;
  int wake_fd_ = -1;                // eventfd: wakes poll() in the loop
  std::unique_ptr<hw::Nvml> nvml_;  // loaded when the node has NVIDIA GPUs
  std::thread thread_;

  // Refusals recorded per job and minute (the rest are counted in the next one recorded).
  struct GuardBudget {
    std::int64_t minute = 0;
    int recorded = 0;
    long long dropped = 0;
  };
  // guards guard_budget_, guard_logs_, egress_, ended_sandboxes_; taken after mu_, never
  // before it
  mutable std::mutex guard_mu_;
  std::map<std::int64_t, GuardBudget> guard_budget_;
  std::map<std::int64_t, std::uint64_t> guard_logs_;  // job -> bytes of its guard.log read
  struct EgressState {
    std::vector<std::string> recent;  // the latest events as JSON, at most kEgressKept
    std::uint64_t events = 0;         // all events seen
    std::int64_t written_ms = 0;
  };
  std::map<std::int64_t, EgressState> egress_;  // guarded by guard_mu_
  // The commands of sandboxed jobs that ended lately (pid -> job): a refusal the kernel
  // reports after the job's end is still the job's. Guarded by guard_mu_.
  std::map<pid_t, std::int64_t> ended_sandboxes_;
  std::map<std::int64_t, std::uint64_t> refusals_;  // job -> refusals; guarded by guard_mu_
  std::unique_ptr<guard::AuditWatch> audit_;        // set by start(), reset by stop()
};

}  // namespace aion::sched
