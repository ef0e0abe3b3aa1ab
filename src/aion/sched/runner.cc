#include "aion/sched/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include "aion/sched/job_json.h"
#include "aion/sched/launch_check.h"

extern char** environ;

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so call the system call directly.
int pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// True while the process behind the pidfd has not been reaped (a zombie still counts: its
// pid is not free for reuse until then).
bool pidfd_alive(int pidfd) {
  return pidfd >= 0 && pidfd_send_signal(pidfd, 0) == 0;
}

struct ProcStat {
  pid_t ppid = 0, pgrp = 0, session = 0;
};

// Fields 4-6 of /proc/PID/stat; nullopt when the process is gone.
std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  ProcStat out;
  if (!(rest >> state >> out.ppid >> out.pgrp >> out.session)) return std::nullopt;
  return out;
}

std::int64_t to_ms(Clock::Wall t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string cpulist(const std::vector<int>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(ids[i]);
    if (j > i) out += '-' + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Field 22 of /proc/PID/stat: when the process started (clock ticks since boot). With the
// pid it names one process for good, even after the pid is reused.
std::int64_t start_time_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto p = stat.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream rest(stat.substr(p + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::atoll(field.c_str());
  }
  return 0;
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

}  // namespace

// ---- configuration ----

ConfigSchema sched_config_schema() {
  ConfigSchema queue;
  queue.string("name", "default", "Queue name (aion run --queue NAME)")
      .number("weight", 1.0, "Share of the node relative to other queues at equal priority");
  ConfigSchema s;
  s.boolean("sched.cgroups", true,
            "Run each job in its own cgroup (cpuset, memory limit, devices); false: only "
            "environment variables and CPU affinity")
      .string("sched.cgroup_parent", "aion.jobs", "Cgroup below which job cgroups are made")
      .integer("sched.cpu_overcommit", 1,
               "Jobs that may share one CPU (1: every job has its CPUs to itself)", 1, 256)
      .string("sched.reserved_memory", "1G", "Memory kept back from jobs for the OS and aiond")
      .integer("sched.kill_grace_s", 10,
               "Seconds between SIGTERM and SIGKILL when a job is cancelled or preempted", 0, 3600)
      .boolean("sched.preemption", true,
               "Let a higher-priority job stop lower-priority ones to get its resources")
      .string("sched.share_policy", "fgd",
              "How a GPU share picks its GPU: a placement policy of `aion sim` (fgd, fgd-pack, "
              "bestfit, packing, clustering, dotprod, random) with fgd measuring fragmentation "
              "against this node's own jobs, or \"local\" (best fit)")
      .integer("sched.fairshare_half_life_s", 3600,
               "Half-life of past usage in fair share between users", 0, 30 * 86400)
      .integer("sched.starvation_after_s", 600,
               "A job waiting longer than this goes before smaller jobs behind it", 1, 30 * 86400)
      .integer("sched.max_pending", 100000, "Pending jobs beyond this are refused", 1, 10000000)
      .integer("sched.max_pending_per_user", 1000,
               "Pending jobs one user may have; more are refused (0: no limit; root is exempt)", 0,
               10000000)
      .integer("sched.max_running_per_user", 0,
               "Running jobs one user may have; more wait in the queue (0: no limit)", 0, 1000000)
      .string("sched.job_output_max_bytes", "1G",
              "Output (stdout+stderr) kept per job run; beyond it output is dropped and the "
              "job's log says how much (0: no cap)")
      .integer("sched.gpu_memory_check_s", 2,
               "How often to read per-process GPU memory through NVML and stop jobs using more "
               "than their GPU share (0: never)",
               0, 3600)
      .table_array("sched.queue", queue, "Queues and their weights (\"default\" always exists)");
  return s;
}

Result<RunnerConfig> runner_config(const Config& c, const fs::path& state_dir) {
  RunnerConfig r;
  r.jobs_dir = state_dir / "jobs";
  r.cgroups = c.get_bool("sched.cgroups");
  r.cgroup_parent = c.get_string("sched.cgroup_parent");
  if (r.cgroup_parent.empty() || r.cgroup_parent.find("..") != std::string::npos ||
      r.cgroup_parent.front() == '/') {
    return fail(ErrorCode::kConfig, c.source() +
                                        ": sched.cgroup_parent must be a relative cgroup name "
                                        "like \"aion.jobs\"");
  }
  r.cpu_overcommit = static_cast<int>(c.get_int("sched.cpu_overcommit"));
  auto reserved = parse_size(c.get_string("sched.reserved_memory"));
  if (!reserved) {
    return fail(ErrorCode::kConfig,
                c.source() + ": sched.reserved_memory: " + reserved.error().message());
  }
  r.reserved_memory_bytes = *reserved;
  r.kill_grace = std::chrono::seconds(c.get_int("sched.kill_grace_s"));
  r.policy.preemption = c.get_bool("sched.preemption");
  r.policy.share_policy = c.get_string("sched.share_policy");
  if (auto ok = check_share_policy(r.policy.share_policy); !ok)
    return fail(ErrorCode::kConfig, c.source() + ": sched.share_policy: " + ok.error().message());
  r.policy.fairshare_half_life_s = static_cast<double>(c.get_int("sched.fairshare_half_life_s"));
  r.policy.starvation_after_ms = c.get_int("sched.starvation_after_s") * 1000;
  r.max_pending = static_cast<int>(c.get_int("sched.max_pending"));
  r.policy.max_pending_per_user = static_cast<int>(c.get_int("sched.max_pending_per_user"));
  r.policy.max_running_per_user = static_cast<int>(c.get_int("sched.max_running_per_user"));
  const std::string out_max = c.get_string("sched.job_output_max_bytes");
  if (out_max == "0") {
    r.job_output_max_bytes = 0;
  } else if (auto n = parse_size(out_max); n) {
    r.job_output_max_bytes = *n;
  } else {
    return fail(ErrorCode::kConfig,
                c.source() + ": sched.job_output_max_bytes: " + n.error().message());
  }
  r.gpu_check = std::chrono::seconds(c.get_int("sched.gpu_memory_check_s"));
  r.nvml_library = c.get_string("hw.nvml_library");
  for (const auto& q : c.get_tables("sched.queue")) {
    double w = q.get_double("weight");
    if (!(w > 0)) {
      return fail(ErrorCode::kConfig, c.source() + ": sched.queue '" + q.get_string("name") +
                                          "': weight must be above 0");
    }
    r.policy.queue_weights[q.get_string("name")] = w;
  }
  // The shim: AION_SHIM, beside this program (a build tree), or the installed one.
  std::vector<fs::path> tries;
  if (const char* env = std::getenv("AION_SHIM")) tries.emplace_back(env);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    tries.push_back(self.parent_path() / "aion-shim");
    tries.push_back(self.parent_path().parent_path() / "lib/aion/aion-shim");
  }
  tries.emplace_back("/usr/lib/aion/aion-shim");
  for (const auto& t : tries) {
    if (::access(t.c_str(), X_OK) == 0) {
      r.shim = t;
      break;
    }
  }
  if (r.shim.empty()) {
    return fail(ErrorCode::kNotFound,
                "aion-shim (the job supervisor) is not installed beside aiond nor in "
                "/usr/lib/aion; reinstall aion or set AION_SHIM");
  }
  return r;
}

// ---- the manager ----

// Signals reach a job only through handles that are known to be the job's: its cgroup, a
// pidfd of its shim (our child, or checked against the recorded start time when adopted),
// and a pidfd of its command taken while the shim was alive and the command its child. A
// bare pid recorded before a restart is never signalled: it may belong to anyone by now.
struct JobManager::Live {
  pid_t shim = 0;
  int pidfd = -1;  // the shim
  bool our_child = false;
  int command_pidfd = -1;  // the command, leader of its own process group (see track_command)
  pid_t command_pgid = 0;
  std::optional<JobCgroup> cgroup;
  std::optional<JobState> stop_state;  // cancelled / preempted on purpose
  std::string stop_reason;
  std::optional<Clock::Monotonic> kill_at;  // SIGKILL due
  ~Live() {
    if (pidfd >= 0) ::close(pidfd);
    if (command_pidfd >= 0) ::close(command_pidfd);
  }
};

std::span<const store::Migration> JobManager::migrations() {
  return JobStore::migrations();
}

JobManager::JobManager(store::Store& store, store::EventLog& events, HostFs fs,
                       hw::Inventory inventory, RunnerConfig config, const Clock& clock)
    : store_(store),
      events_(events),
      jobs_(store),
      fs_(std::move(fs)),
      inventory_(std::move(inventory)),
      config_(std::move(config)),
      clock_(clock),
      model_(make_node_model(inventory_, {.reserved_memory_bytes = config_.reserved_memory_bytes})),
      fairshare_(config_.policy.fairshare_half_life_s) {
  state_ = std::make_unique<NodeState>(model_, config_.cpu_overcommit);
}

JobManager::~JobManager() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

fs::path JobManager::dir_of(std::int64_t id) const {
  return config_.jobs_dir / std::to_string(id);
}

std::string JobManager::waiting_reason(std::int64_t id) const {
  if (!hold_by_.empty()) return "the node is held by " + hold_by_ + " (aion admin release)";
  auto w = waiting_.find(id);
  return w == waiting_.end() ? "waiting for the scheduler" : w->second;
}

void JobManager::set_hold(bool hold, const std::string& who) {
  {
    std::lock_guard lock(mu_);
    hold_by_ = hold ? who : "";
  }
  spdlog::info("event=sched_{} by=\"{}\"", hold ? "hold" : "release", who);
  poke();
}

bool JobManager::held() const {
  std::lock_guard lock(mu_);
  return !hold_by_.empty();
}

Status JobManager::set_gpu_drained(const std::string& pci_address, bool drained,
                                   const std::string& why) {
  bool known = false;
  for (const auto& g : model_.gpus) known = known || g.pci_address == pci_address;
  if (!known) return fail(ErrorCode::kNotFound, "no GPU at " + pci_address + " on this node");
  // Written first: a drain that is not saved would be forgotten by a restart.
  if (auto st = drained ? jobs_.save_drain(pci_address, why, to_ms(clock_.wall()))
                        : jobs_.remove_drain(pci_address);
      !st) {
    return st;
  }
  {
    std::lock_guard lock(mu_);
    if (drained) {
      drained_[pci_address] = why;
    } else {
      drained_.erase(pci_address);
    }
  }
  spdlog::warn("event=gpu_{} pci={} why=\"{}\"", drained ? "drained" : "undrained", pci_address,
               why);
  poke();
  return {};
}

std::map<std::string, std::string> JobManager::drained_gpus() const {
  std::lock_guard lock(mu_);
  return drained_;
}

Result<Job> JobManager::requeue(std::int64_t id) {
  auto job = get(id);
  if (!job) return job;
  if (!is_terminal(job->state)) {
    return fail(ErrorCode::kConflict, "job " + std::to_string(id) + " is still " +
                                          std::string(to_string(job->state)) +
                                          "; only a finished job can be requeued");
  }
  return submit(job->spec);
}

JobManager::Counts JobManager::counts() const {
  std::lock_guard lock(mu_);
  return {pending_.size(), running_.size()};
}

std::string JobManager::isolation_summary() const {
  if (!config_.cgroups) return "off (sched.cgroups = false)";
  switch (caps_.version) {
    case CgroupVersion::kV1: return "cgroup v1; devices: " + caps_.device_isolation;
    case CgroupVersion::kV2: return "cgroup v2; devices: " + caps_.device_isolation;
    case CgroupVersion::kNone: break;
  }
  return "none (no cgroup hierarchy found)";
}

Status JobManager::start() {
  std::error_code ec;
  fs::create_directories(config_.jobs_dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo, "cannot create " + config_.jobs_dir.string() + ": " + ec.message());
  }
  fs::permissions(config_.jobs_dir, fs::perms::owner_all, ec);
  if (config_.cgroups) {
    auto caps = detect_cgroups(fs_);
    if (caps) {
      caps_ = *caps;
    } else {
      spdlog::warn("event=cgroups_unavailable reason=\"{}\"", caps.error().message());
    }
    if (caps_.version != CgroupVersion::kNone && ::geteuid() != 0) {
      caps_.notes.push_back("not root: jobs run without cgroups");
      caps_.version = CgroupVersion::kNone;
    }
    for (const auto& n : caps_.notes) spdlog::info("event=cgroup_note note=\"{}\"", n);
  }
  bool nvidia = false;
  for (const auto& a : inventory_.accelerators)
    nvidia = nvidia || (a.vendor == "nvidia" && !a.simulated);
  if (nvidia && config_.gpu_check.count() > 0) {
    auto nvml = hw::Nvml::load(hw::nvml_library_path(config_.nvml_library));
    if (nvml) {
      nvml_ = std::move(*nvml);
    } else {
      spdlog::warn("event=gpu_memory_unwatched reason=\"{}\"", nvml.error().message());
    }
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return fail(ErrorCode::kIo, std::string("eventfd: ") + std::strerror(errno));
  recover();
  // GPUs drained before a restart stay drained until someone undrains them.
  if (auto d = jobs_.drains(); d) {
    std::lock_guard lock(mu_);
    for (auto& g : *d) {
      spdlog::warn("event=gpu_still_drained pci={} why=\"{}\"", g.pci_address, g.why);
      drained_[g.pci_address] = std::move(g.why);
    }
  } else {
    return fail(ErrorCode::kCorrupt, "reading drained GPUs: " + d.error().message());
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  spdlog::info("event=scheduler_ready gpus={} cpus={} isolation=\"{}\" pending={} running={}",
               model_.gpus.size(), model_.cpu_count, isolation_summary(), pending_.size(),
               running_.size());
  return {};
}

void JobManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  poke();
  thread_.join();
}

void JobManager::poke() {
  {
    std::lock_guard lock(mu_);
    dirty_ = true;
  }
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
}

// ---- submission and queries ----

Result<Job> JobManager::submit(JobSpec spec) {
  if (spec.cwd.empty()) spec.cwd = "/";
  if (spec.name.empty())
    spec.name = fs::path(spec.command.empty() ? "" : spec.command[0]).filename();
  if (auto st = check_request(model_, spec.resources); !st) return std::unexpected(st.error());
  if (spec.queue != "default" && !config_.policy.queue_weights.contains(spec.queue)) {
    std::string known = "default";
    for (const auto& [q, w] : config_.policy.queue_weights) {
      if (q != "default") known += ", " + q;
    }
    return fail(ErrorCode::kInvalidArgument,
                "no queue named '" + spec.queue + "' (queues: " + known + ")");
  }
  // As the job's user: the answer must not tell whether a path it cannot reach exists.
  auto exe = check_launch_paths(spec);
  if (!exe) return std::unexpected(exe.error());
  {
    std::lock_guard lock(mu_);
    if (static_cast<int>(pending_.size()) >= config_.max_pending) {
      return fail(ErrorCode::kResourceExhausted,
                  "the queue is full (" + std::to_string(pending_.size()) +
                      " pending jobs, sched.max_pending); try again later");
    }
    if (spec.uid != 0 && config_.policy.max_pending_per_user > 0) {
      int mine = 0;
      for (const auto& [id, j] : pending_) {
        if (j.spec.uid == spec.uid && ++mine >= config_.policy.max_pending_per_user) break;
      }
      if (auto st = check_pending_limit(config_.policy, spec.user, spec.uid, mine); !st) {
        return std::unexpected(st.error());
      }
    }
  }
  Job job;
  job.spec = std::move(spec);
  job.submit_ms = to_ms(clock_.wall());
  job.reason = "waiting for the scheduler";
  if (auto st = jobs_.insert(job); !st) return std::unexpected(st.error());
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    pending_.emplace(job.id, job);
    // One wake-up per pass is enough: under a burst the loop is already due to run.
    wake = !dirty_ && hold_by_.empty();
    dirty_ = true;
  }
  if (wake) {
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  return job;
}

Result<Job> JobManager::get(std::int64_t id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = pending_.find(id); it != pending_.end()) {
      Job j = it->second;
      j.reason = waiting_reason(id);
      return j;
    }
    if (auto it = running_.find(id); it != running_.end()) return it->second;
  }
  auto j = jobs_.get(id);
  if (!j) return std::unexpected(j.error());
  if (!*j) return fail(ErrorCode::kNotFound, "no job " + std::to_string(id));
  return std::move(**j);
}

Result<std::vector<Job>> JobManager::list(const JobFilter& filter) {
  auto jobs = jobs_.list(filter);
  if (!jobs) return jobs;
  std::lock_guard lock(mu_);
  for (Job& j : *jobs) {
    if (auto it = running_.find(j.id); it != running_.end()) j = it->second;
    if (pending_.contains(j.id)) j.reason = waiting_reason(j.id);
  }
  return jobs;
}

std::vector<QueueEntry> JobManager::queue() {
  std::lock_guard lock(mu_);
  std::vector<const Job*> pending;
  for (const auto& [id, j] : pending_) pending.push_back(&j);
  auto ranked = rank_pending(pending, fairshare_, config_.policy, to_ms(clock_.wall()));
  std::vector<QueueEntry> out;
  int pos = 0;
  for (const Job* j : ranked) {
    out.push_back({*j, ++pos, waiting_reason(j->id)});
  }
  return out;
}

Result<Job> JobManager::cancel(std::int64_t id, long caller_uid, bool admin) {
  std::unique_lock lock(mu_);
  auto allowed = [&](const Job& j) -> Status {
    if (admin || caller_uid == 0 || caller_uid == static_cast<long>(j.spec.uid)) return {};
    return fail(ErrorCode::kPermissionDenied, "job " + std::to_string(id) + " belongs to " +
                                                  j.spec.user +
                                                  "; only its owner or an admin may cancel it");
  };
  std::string who = caller_uid >= 0 ? "uid " + std::to_string(caller_uid) : "an API token";
  if (auto it = pending_.find(id); it != pending_.end()) {
    if (auto st = allowed(it->second); !st) return std::unexpected(st.error());
    Job j = std::move(it->second);
    pending_.erase(it);
    waiting_.erase(id);
    j.state = JobState::kCancelled;
    j.reason = "cancelled by " + who + " before it started";
    j.end_ms = to_ms(clock_.wall());
    if (auto st = jobs_.update(j); !st) return std::unexpected(st.error());
    dirty_ = true;
    return j;
  }
  if (auto it = running_.find(id); it != running_.end()) {
    if (auto st = allowed(it->second); !st) return std::unexpected(st.error());
    auto l = live_.find(id);
    if (l == live_.end()) {  // being started right now: applied once it has
      cancel_requests_[id] = "cancelled by " + who;
      Job j = it->second;
      j.reason = "stopping: cancelled by " + who;
      return j;
    }
    Live& live = *l->second;
    if (!live.stop_state) stop_job(it->second, live, JobState::kCancelled, "cancelled by " + who);
    Job j = it->second;
    j.reason = "stopping: " + live.stop_reason;
    lock.unlock();
    poke();
    return j;
  }
  lock.unlock();
  auto j = get(id);
  if (!j) return j;
  return fail(ErrorCode::kConflict, "job " + std::to_string(id) + " already ended (" +
                                        std::string(to_string(j->state)) + ")");
}

Result<JobManager::LogChunk> JobManager::read_log(std::int64_t id, std::uint64_t offset,
                                                  std::size_t max) {
  auto job = get(id);
  if (!job) return std::unexpected(job.error());
  LogChunk chunk;
  chunk.next_offset = offset;
  fs::path file = dir_of(id) / "output.log";
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  std::uint64_t size = 0;
  if (fd >= 0) {
    struct stat st {};
    ::fstat(fd, &st);
    size = static_cast<std::uint64_t>(st.st_size);
    if (offset < size) {
      chunk.data.resize(std::min<std::uint64_t>(max, size - offset));
      ssize_t n = ::pread(fd, chunk.data.data(), chunk.data.size(), static_cast<off_t>(offset));
      chunk.data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      chunk.next_offset = offset + chunk.data.size();
    }
    ::close(fd);
  }
  chunk.finished = is_terminal(job->state) && chunk.next_offset >= size;
  return chunk;
}

// ---- the loop ----

void JobManager::loop() {
  // Every period and deadline here runs on the monotonic clock: a wall clock stepped back
  // (NTP, an operator) must not hold up passes, GPU checks or a SIGKILL that is due.
  auto last_pass = clock_.monotonic() - config_.tick;
  auto last_gpu_check = clock_.monotonic();
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::int64_t> ids;
    int timeout_ms = static_cast<int>(config_.tick.count());
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      fds.push_back({wake_fd_, POLLIN, 0});
      const auto now = clock_.monotonic();
      for (const auto& [id, live] : live_) {
        if (live->pidfd >= 0) {
          fds.push_back({live->pidfd, POLLIN, 0});
          ids.push_back(id);
        }
        if (live->kill_at) {
          auto left = std::chrono::ceil<std::chrono::milliseconds>(*live->kill_at - now);
          timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, timeout_ms));
        }
      }
      if (dirty_) {
        // Passes are at most every min_pass_interval: under a burst of submissions or exits
        // one pass handles them all.
        auto since = now - last_pass;
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            config_.min_pass_interval - since);
        timeout_ms = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, timeout_ms));
      }
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event=scheduler_poll_failed error=\"{}\"", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    std::unique_lock lock(mu_);
    if (stopping_) return;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) reap(ids[i - 1]);
    }
    const auto t = clock_.monotonic();
    for (auto& [id, live] : live_) {
      auto it = running_.find(id);
      if (it == running_.end()) continue;
      track_command(it->second, *live);
      if (live->kill_at && t >= *live->kill_at) {
        live->kill_at.reset();
        spdlog::info("event=job_kill id={} reason=\"grace period over\"", id);
        signal_job(it->second, *live, SIGKILL);
      }
    }
    if (nvml_ && t - last_gpu_check >= config_.gpu_check) {
      last_gpu_check = t;
      check_gpu_memory();
    }
    if ((dirty_ && t - last_pass >= config_.min_pass_interval) || t - last_pass >= config_.tick) {
      dirty_ = false;
      last_pass = t;
      pass(lock);
    }
  }
}

void JobManager::pass(std::unique_lock<std::mutex>& lock) {
  if (pending_.empty()) {
    waiting_.clear();
    return;
  }
  if (!hold_by_.empty()) return;  // get() and queue() say why
  PlanInput in;
  in.model = &model_;
  NodeModel drained_model;  // the model with drained GPUs unusable, only while some are
  if (!drained_.empty()) {
    drained_model = model_;
    for (auto& g : drained_model.gpus)
      if (drained_.contains(g.pci_address)) g.usable = false;
    in.model = &drained_model;
  }
  in.state = state_.get();
  in.fairshare = &fairshare_;
  in.now_ms = to_ms(clock_.wall());
  for (const auto& [id, j] : pending_) in.pending.push_back(&j);
  for (const auto& [id, j] : running_) in.running.push_back(&j);
  for (const auto& [id, live] : live_) {
    if (live->stop_state) in.stopping.insert(id);
  }
  Plan plan = make_plan(in, config_.policy);

  for (const auto& p : plan.preemptions) {
    const Job& pre = pending_.at(p.for_job);
    for (std::int64_t v : p.victims) {
      auto it = running_.find(v);
      if (it == running_.end()) continue;
      stop_job(it->second, *live_.at(v), JobState::kPreempted,
               "preempted by job " + std::to_string(pre.id) + " (priority " +
                   std::to_string(pre.spec.priority) + ")");
      spdlog::info("event=job_preempt id={} for={}", v, pre.id);
    }
  }
  // Starting: stored as running (one transaction) before anything starts, so a crash from
  // here on never runs a job twice. Spawning happens without the lock, so submissions and
  // queries go on meanwhile; cancel() of a job in this window is applied once it has started.
  std::vector<Job> starting;
  for (auto& s : plan.starts) {
    auto node = pending_.extract(s.job_id);
    Job& job = node.mapped();
    job.state = JobState::kRunning;
    job.allocation = s.allocation;
    job.start_ms = in.now_ms;
    job.reason = s.why;
    state_->add(s.allocation);
    starting.push_back(job);
    running_.emplace(job.id, std::move(job));
  }
  waiting_ = std::move(plan.waiting);
  if (starting.empty()) return;
  if (auto st = jobs_.update_all(starting); !st) {
    spdlog::error("event=job_store_failed jobs={} error=\"{}\"", starting.size(),
                  st.error().message());
    for (Job& job : starting) {
      state_->remove(*job.allocation);
      running_.erase(job.id);
      job.state = JobState::kPending;
      job.allocation.reset();
      job.start_ms = 0;
      pending_.emplace(job.id, std::move(job));
    }
    return;
  }
  std::vector<Result<std::unique_ptr<Live>>> launched;
  lock.unlock();
  for (Job& job : starting) launched.push_back(launch(job, *job.allocation));
  lock.lock();
  std::vector<Job> changed;
  for (std::size_t i = 0; i < starting.size(); ++i) {
    Job& job = running_.at(starting[i].id);
    if (launched[i]) {
      job.shim_pid = starting[i].shim_pid;
      job.shim_start = starting[i].shim_start;
      live_[job.id] = std::move(*launched[i]);
      changed.push_back(job);
      if (auto c = cancel_requests_.find(job.id); c != cancel_requests_.end()) {
        stop_job(job, *live_[job.id], JobState::kCancelled, c->second);
        cancel_requests_.erase(c);
      }
      continue;
    }
    const Error& e = launched[i].error();
    job.state = JobState::kFailed;
    job.reason = "could not start: " + e.message();
    job.end_ms = to_ms(clock_.wall());
    state_->remove(*job.allocation);
    spdlog::warn("event=job_start_failed id={} error=\"{}\"", job.id, e.message());
    changed.push_back(job);
    cancel_requests_.erase(job.id);
    running_.erase(job.id);
  }
  if (auto st = jobs_.update_all(changed); !st) {
    spdlog::error("event=job_store_failed jobs={} error=\"{}\"", changed.size(),
                  st.error().message());
  }
}

std::map<std::string, std::string> JobManager::job_env(const Job& job, const Allocation& a) const {
  std::map<std::string, std::string> env = job.spec.env;
  env["AION_JOB_ID"] = std::to_string(job.id);
  env["AION_JOB_NAME"] = job.spec.name;
  env["AION_CPUS"] = cpulist(a.cpus);
  std::vector<std::string> mems;
  for (int m : a.mems) mems.push_back(std::to_string(m));
  env["AION_MEMS"] = join(mems);
  if (!env.contains("OMP_NUM_THREADS")) env["OMP_NUM_THREADS"] = std::to_string(a.cpus.size());

  std::map<std::string, std::vector<const GpuSlot*>> by_vendor;
  std::set<std::string> vendors;
  for (const auto& g : model_.gpus) vendors.insert(g.vendor);
  for (int gi : a.gpus)
    by_vendor[model_.gpus[static_cast<std::size_t>(gi)].vendor].push_back(
        &model_.gpus[static_cast<std::size_t>(gi)]);
  auto indices = [](const std::vector<const GpuSlot*>& gs) {
    std::vector<std::string> v;
    for (const auto* g : gs) v.push_back(std::to_string(g->vendor_index));
    return join(v);
  };
  // A vendor's variable is set whenever the node has that vendor's GPUs, empty when the job
  // got none of them, so a CPU job never lands on a GPU by default.
  for (const auto& vendor : vendors) {
    const auto& gs = by_vendor[vendor];
    if (vendor == "nvidia") {
      bool uuids = !gs.empty();
      for (const auto* g : gs) uuids = uuids && g->uuid.rfind("GPU-", 0) == 0;
      std::vector<std::string> ids;
      for (const auto* g : gs) ids.push_back(uuids ? g->uuid : std::to_string(g->vendor_index));
      env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
      env["CUDA_VISIBLE_DEVICES"] = join(ids);
      env["NVIDIA_VISIBLE_DEVICES"] = gs.empty() ? "none" : join(ids);
    } else if (vendor == "amd") {
      env["ROCR_VISIBLE_DEVICES"] = indices(gs);
      env["HIP_VISIBLE_DEVICES"] = indices(gs);
    } else if (vendor == "intel") {
      env["ZE_AFFINITY_MASK"] = indices(gs);
    } else if (vendor == "huawei") {
      env["ASCEND_VISIBLE_DEVICES"] = indices(gs);
      env["ASCEND_RT_VISIBLE_DEVICES"] = indices(gs);
    }
  }
  std::vector<std::string> addrs;
  for (int gi : a.gpus) addrs.push_back(model_.gpus[static_cast<std::size_t>(gi)].pci_address);
  env["AION_GPUS"] = join(addrs);
  if (a.gpu_fraction > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, "%.3f", a.gpu_fraction);
    env["AION_GPU_FRACTION"] = frac;
    env["AION_GPU_MEMORY_LIMIT_BYTES"] = std::to_string(a.gpu_memory_bytes);
    // NVIDIA MPS: a share of the SMs and a cap on device memory (device 0 = the visible one).
    env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] =
        std::to_string(std::max(1L, std::lround(a.gpu_fraction * 100)));
    env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] =
        "0=" + std::to_string(std::max<std::uint64_t>(1, a.gpu_memory_bytes >> 20)) + "M";
    // Frameworks that size their memory pool by a fraction (JAX/XLA).
    env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = frac;
  }
  return env;
}

Result<std::unique_ptr<JobManager::Live>> JobManager::launch(Job& job, const Allocation& a) {
  fs::path dir = dir_of(job.id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Leftovers of an earlier run (a requeued job) must not be taken for this run's.
  for (const char* f : {"status", "pid", "shim.pid", "launch"}) fs::remove(dir / f, ec);
  ec.clear();
  if (ec) return fail(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);

  auto live = std::make_unique<Live>();
  std::vector<std::string> procs;
  if (config_.cgroups && caps_.version != CgroupVersion::kNone) {
    CgroupLimits limits;
    limits.cpus = cpulist(a.cpus);
    limits.mems = [&] {
      std::vector<std::string> m;
      for (int x : a.mems) m.push_back(std::to_string(x));
      return join(m);
    }();
    limits.memory_bytes = a.memory_bytes;
    // Every accelerator node the job was not given is denied; everything else (RDMA, FUSE,
    // vendor control nodes) stays usable.
    std::set<int> mine(a.gpus.begin(), a.gpus.end());
    for (std::size_t i = 0; i < inventory_.accelerators.size(); ++i) {
      if (mine.contains(static_cast<int>(i))) continue;
      for (const auto& node : inventory_.accelerators[i].device_nodes) {
        auto rule = device_rule_for(node);
        if (rule) limits.deny_devices.push_back(*rule);
      }
    }
    auto cg = JobCgroup::create(fs_, caps_, config_.cgroup_parent, "job-" + std::to_string(job.id),
                                limits);
    if (!cg) return std::unexpected(cg.error());
    procs = cg->procs_files();
    live->cgroup = std::move(*cg);
  }

  // The launch file: NUL-separated key=value records (values may hold any byte but NUL).
  // From here on a failure leaves no cgroup behind.
  auto undo = [&](Error e) -> Result<std::unique_ptr<Live>> {
    if (live->cgroup) (void)live->cgroup->remove();
    return std::unexpected(std::move(e));
  };
  auto exe = resolve_command(job.spec);
  if (!exe) return undo(exe.error());
  std::string launch;
  auto rec = [&](std::string_view k, std::string_view v) {
    launch.append(k).append("=").append(v).push_back('\0');
  };
  rec("exe", *exe);
  for (const auto& arg : job.spec.command) rec("arg", arg);
  for (const auto& [k, v] : job_env(job, a)) rec("env", k + "=" + v);
  rec("cwd", job.spec.cwd);
  rec("uid", std::to_string(job.spec.uid));
  rec("gid", std::to_string(job.spec.gid));
  if (job.spec.uid != 0) rec("groups", std::to_string(job.spec.gid));
  rec("log", (dir / "output.log").string());
  rec("log_max", std::to_string(config_.job_output_max_bytes));
  for (const auto& p : procs) rec("procs", p);
  {
    std::ofstream f(dir / "launch", std::ios::binary);
    f.write(launch.data(), static_cast<std::streamsize>(launch.size()));
    if (!f) return undo(Error(ErrorCode::kIo, "cannot write " + (dir / "launch").string()));
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The shim starts with SIGTERM blocked and unblocks it once it forwards it to the job, so a
  // stop that comes this early is kept, not fatal to the shim.
  sigset_t term_only, all;
  sigemptyset(&term_only);
  sigaddset(&term_only, SIGTERM);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &term_only);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::string shim_log = (dir / "shim.log").string();
  posix_spawn_file_actions_addopen(&actions, 1, shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::string shim = config_.shim.string(), dir_s = dir.string();
  char* argv[] = {shim.data(), dir_s.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, shim.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return undo(Error(ErrorCode::kIo, "cannot start " + shim + ": " + std::strerror(rc)));
  live->shim = pid;
  live->our_child = true;
  live->pidfd = pidfd_open(pid, 0);
  job.shim_pid = pid;
  job.shim_start = start_time_of(pid);
  return live;
}

std::vector<JobManager::JobUsageNow> JobManager::usage_now() const {
  // Who runs and in which cgroup under the lock; the cgroup files are read after it, so
  // a metrics pass over many jobs never holds up the scheduler.
  std::vector<std::pair<JobUsageNow, JobCgroup>> found;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, live] : live_) {
      auto job = running_.find(id);
      if (job == running_.end() || !live->cgroup) continue;
      JobUsageNow u;
      u.id = id;
      u.name = job->second.spec.name;
      u.user = job->second.spec.user;
      u.queue = job->second.spec.queue;
      u.gpus = job->second.allocation ? job->second.allocation->gpus.size() : 0;
      found.emplace_back(std::move(u), *live->cgroup);
    }
  }
  std::vector<JobUsageNow> out;
  out.reserve(found.size());
  for (auto& [u, cg] : found) {
    u.stats = cg.stats();
    out.push_back(std::move(u));
  }
  return out;
}

void JobManager::stop_job(const Job& job, Live& live, JobState state, std::string reason) {
  live.stop_state = state;
  live.stop_reason = std::move(reason);
  signal_job(job, live, SIGTERM);
  live.kill_at = clock_.monotonic() + config_.kill_grace;
}

void JobManager::track_command(const Job& job, Live& live) {
  if (live.command_pidfd >= 0 || live.shim <= 0 || !pidfd_alive(live.pidfd)) return;
  pid_t pid = 0;
  {
    std::ifstream f(dir_of(job.id) / "pid");
    if (!(f >> pid) || pid <= 0) return;  // not started yet
  }
  int fd = pidfd_open(pid, 0);
  if (fd < 0) return;
  // The command is the shim's one child and leads its own process group. What /proc says is
  // about the process behind fd only if that process still exists after the read (a pid is
  // not reused before its process is reaped), and the shim must still be alive then too, so
  // that the parent named is this job's shim and not a process that got its pid since.
  auto st = proc_stat(pid);
  if (!st || st->ppid != live.shim || st->pgrp != pid || !pidfd_alive(fd) ||
      !pidfd_alive(live.pidfd)) {
    ::close(fd);
    return;
  }
  live.command_pidfd = fd;
  live.command_pgid = pid;
}

void JobManager::signal_job(const Job& job, Live& live, int sig) {
  if (live.cgroup) (void)live.cgroup->kill_all(sig);
  // The shim forwards SIGTERM to the command, even when it is only about to start it and
  // neither the cgroup nor the process group holds it yet. (SIGKILL would end the shim.)
  if (sig == SIGTERM && pidfd_alive(live.pidfd)) (void)pidfd_send_signal(live.pidfd, sig);
  track_command(job, live);
  // The command's process group, while its leader is alive: its pid, the group's id, cannot
  // have been reused then.
  if (live.command_pgid > 0 && pidfd_alive(live.command_pidfd)) ::kill(-live.command_pgid, sig);
}

void JobManager::reap(std::int64_t id) {
  auto rit = running_.find(id);
  auto lit = live_.find(id);
  if (rit == running_.end() || lit == live_.end()) return;
  Live& live = *lit->second;
  if (live.our_child) {
    int status = 0;
    ::waitpid(live.shim, &status, WNOHANG);
  } else if (live.pidfd >= 0) {
    // Not our child (adopted): the pidfd said it exited.
  }
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
  if (live.cgroup) {
    stats = live.cgroup->stats();
    // Anything the job left behind (daemonised children) ends with it.
    (void)live.cgroup->kill_all(SIGKILL);
    if (auto st = live.cgroup->remove(); !st) {
      spdlog::warn("event=cgroup_remove_failed id={} error=\"{}\"", job.id, st.error().message());
    }
  } else if (live.command_pgid > 0) {
    // Without a cgroup: what is left of the command's process group, known to be the job's
    // from a pidfd taken in this run. Its id stays taken while the group has members. A pid
    // recorded before a restart (job.pid) is never signalled.
    ::kill(-live.command_pgid, SIGKILL);
  }
  std::int64_t now = to_ms(clock_.wall());
  job.end_ms = status.contains("end_ms") ? std::atoll(status["end_ms"].c_str()) : now;
  if (job.end_ms <= 0) job.end_ms = now;
  job.exit_code = status.contains("exit") ? std::atoi(status["exit"].c_str()) : -1;
  job.signal = status.contains("signal") ? std::atoi(status["signal"].c_str()) : 0;
  job.oom_killed = job.signal == SIGKILL && stats.oom_kills > 0;

  // Accounting: the cgroup's view (all processes) or the shim's (the command and what it
  // waited for), whichever saw more.
  std::int64_t shim_cpu = status.contains("cpu_ms") ? std::atoll(status["cpu_ms"].c_str()) : 0;
  std::uint64_t rss = status.contains("maxrss_kb")
                          ? std::strtoull(status["maxrss_kb"].c_str(), nullptr, 10) * 1024
                          : 0;
  job.usage.cpu_time_ms = std::max<std::int64_t>(
      shim_cpu, std::chrono::duration_cast<std::chrono::milliseconds>(stats.cpu_time).count());
  job.usage.memory_peak_bytes = std::max(rss, stats.memory_peak_bytes);
  const Allocation a = job.allocation.value_or(Allocation{});
  double gpus = a.gpu_fraction > 0 ? a.gpu_fraction : static_cast<double>(a.gpus.size());
  std::int64_t wall = std::max<std::int64_t>(0, job.end_ms - job.start_ms);
  job.usage.gpu_time_ms = static_cast<std::int64_t>(std::llround(gpus * wall));
  if (job.allocation) state_->remove(*job.allocation);
  fairshare_.add(job.spec.user, usage_rate(job.spec.resources) * wall / 1000.0, now);

  store::Event ev;
  ev.kind = "job";
  ev.source = "sched";
  if (status.empty()) {
    job.state = JobState::kLost;
    job.reason = "its supervisor (aion-shim, pid " + std::to_string(live.shim) +
                 ") ended without recording an exit status";
    ev.severity = "warning";
  } else if (live.stop_state && !(job.exit_code == 0 && job.signal == 0)) {
    job.state = *live.stop_state;
    job.reason = live.stop_reason;
    if (job.state == JobState::kPreempted && job.spec.requeue) {
      job.state = JobState::kPending;
      job.reason = "requeued after being " + live.stop_reason;
      ++job.restarts;
      job.allocation.reset();
      job.pid = 0;
      job.shim_pid = 0;
      job.start_ms = 0;
      job.end_ms = 0;
      job.exit_code = -1;
      job.signal = 0;
      // The next run writes a fresh log; the preempted run's stays beside it.
      std::error_code ec;
      fs::rename(dir / "output.log",
                 dir.string() + "/output.log.run" + std::to_string(job.restarts), ec);
      for (const char* f : {"status", "pid", "shim.pid", "launch"}) fs::remove(dir / f, ec);
    }
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
  if (auto st = jobs_.update(job); !st) {
    spdlog::error("event=job_store_failed id={} error=\"{}\"", job.id, st.error().message());
  }
  spdlog::info("event=job_end id={} state={} reason=\"{}\"", job.id, to_string(job.state),
               job.reason);
  // Failed jobs too, so that the diagnosis engine can link them to the fault that explains
  // them (gpu_pci names their GPUs the way kernel and NVML evidence does).
  if (job.state == JobState::kLost || job.state == JobState::kFailed || job.oom_killed ||
      live.stop_state == JobState::kPreempted) {
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
    (void)events_.append(std::move(ev));
  }
}

// Per-process GPU memory from NVML, summed per job, kept as the job's peak; a job with a GPU
// share that uses more than the share is stopped like a cancelled one, with an event saying
// why. A process belongs to the job whose cgroup it lives in (/proc/PID/cgroup), so one that
// calls setsid or double-forks is still the job's: only root can move it out. Jobs without a
// cgroup (sched.cgroups = false) fall back to the session their shim leads, which a process
// of the job can leave.
void JobManager::check_gpu_memory() {
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
        if (live->second->cgroup) {
          mine = cgroups && live->second->cgroup->holds(*cgroups);
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
  for (auto& [id, bytes] : used) {
    Job& job = running_.at(id);
    job.usage.gpu_memory_peak_bytes = std::max(job.usage.gpu_memory_peak_bytes, bytes);
    const Allocation& a = *job.allocation;
    auto live = live_.find(id);
    if (a.gpu_fraction <= 0 || bytes <= a.gpu_memory_bytes || live == live_.end() ||
        live->second->stop_state) {
      continue;
    }
    Live& l = *live->second;
    stop_job(job, l, JobState::kFailed,
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
                 l.stop_reason;
    ev.data_json = to_json(job).dump();
    (void)events_.append(std::move(ev));
  }
}

void JobManager::recover() {
  auto jobs = jobs_.list({.states = {JobState::kPending, JobState::kRunning}});
  if (!jobs) {
    spdlog::error("event=job_recover_failed error=\"{}\"", jobs.error().message());
    return;
  }
  int adopted = 0, lost = 0, finished = 0, requeued = 0;
  for (Job& job : *jobs) {
    if (job.state == JobState::kPending) {
      pending_.emplace(job.id, std::move(job));
      continue;
    }
    fs::path dir = dir_of(job.id);
    auto live = std::make_unique<Live>();
    if (caps_.version != CgroupVersion::kNone && config_.cgroups) {
      if (auto cg =
              JobCgroup::open(fs_, caps_, config_.cgroup_parent, "job-" + std::to_string(job.id))) {
        live->cgroup = std::move(*cg);
      }
    }
    // Is a shim alive? It holds shim.lock for its whole life, from before it records its
    // pid: a lock we cannot take means one is, even if aiond died between starting it and
    // storing its pid, and even before the shim wrote shim.pid.
    int lock = ::open((dir / "shim.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    const bool shim_holds_lock =
        lock >= 0 && ::flock(lock, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    // Which shim: the stored pid, or the one the shim recorded itself (a crash between
    // starting it and storing its pid).
    pid_t shim = job.shim_pid;
    std::int64_t start = job.shim_start;
    auto read_shim_pid = [&] {
      std::ifstream f(dir / "shim.pid");
      return static_cast<bool>(f >> shim >> start);
    };
    if (shim <= 0 && shim_holds_lock) {
      // It has the lock and writes shim.pid next.
      for (int i = 0; i < 100 && !read_shim_pid(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else if (shim <= 0) {
      read_shim_pid();
    }
    const bool never_launched = !fs::exists(dir / "launch");  // aiond died before writing it
    if (!shim_holds_lock && (lock >= 0 || never_launched) && shim <= 0 &&
        !fs::exists(dir / "status")) {
      // No shim alive and none ever recorded itself: aiond died between choosing the job and
      // its shim getting going, so the command never ran. Without a launch file a shim that
      // is still starting exits at once; the job goes back to the queue as it was.
      std::error_code ec;
      fs::remove(dir / "launch", ec);
      ::close(lock);
      if (live->cgroup) (void)live->cgroup->remove();
      job.state = JobState::kPending;
      job.reason = "requeued: aiond stopped before the job started";
      job.allocation.reset();
      job.pid = 0;
      job.shim_pid = 0;
      job.shim_start = 0;
      job.start_ms = 0;
      if (auto st = jobs_.update(job); !st) {
        spdlog::error("event=job_store_failed id={} error=\"{}\"", job.id, st.error().message());
      }
      spdlog::info("event=job_requeued id={} reason=\"{}\"", job.id, job.reason);
      pending_.emplace(job.id, std::move(job));
      ++requeued;
      continue;
    }
    if (lock >= 0) ::close(lock);
    live->shim = shim;
    if (job.allocation) state_->add(*job.allocation);
    const bool has_status = fs::exists(dir / "status");
    running_.emplace(job.id, job);
    if (shim > 0 && start != 0 && !has_status) {
      // The pidfd first, then the start time: a match after the pidfd is open means the
      // pidfd is that shim's, not a process that got the pid since.
      int fd = pidfd_open(shim, 0);
      if (fd >= 0 && start_time_of(shim) == start && pidfd_alive(fd)) {
        live->pidfd = fd;
        track_command(job, *live);
        live_[job.id] = std::move(live);
        ++adopted;
        spdlog::info("event=job_adopted id={} shim={}", job.id, shim);
        continue;
      }
      if (fd >= 0) ::close(fd);
    }
    live_[job.id] = std::move(live);
    if (!has_status)
      ++lost;
    else
      ++finished;
    reap(job.id);  // finishes from the status file, or marks it lost
  }
  if (adopted + lost + finished + requeued > 0) {
    spdlog::info("event=jobs_recovered adopted={} finished={} lost={} requeued={} pending={}",
                 adopted, finished, lost, requeued, pending_.size());
  }
}

}  // namespace aion::sched
