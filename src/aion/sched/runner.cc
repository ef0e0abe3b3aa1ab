#include "aion/sched/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>
#include "aion/sched/job_launch.h"
#include "aion/sched/launch_check.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

std::int64_t to_ms(Clock::Wall t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// ---- the manager ----

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
  guard_ = load_guard_site(config_.guard_profiles_dir, config_.guard_endpoints_file);
  // The network policy and egress record attach to the job's cgroup in the unified
  // hierarchy, which a v1 machine may have beside its controllers.
  caps_.join_unified = guard_.mechanisms.cgroup_bpf && caps_.version != CgroupVersion::kNone;
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
  start_guard();
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
  audit_.reset();  // its thread calls on_guard_denial()
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
  if (!spec.sandbox.empty()) {  // refused now rather than when it would start
    if (auto plan = plan_job_sandbox(guard_, spec, {}); !plan) return std::unexpected(plan.error());
  }
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
    if (!live.stopping()) stop_job(live, JobState::kCancelled, "cancelled by " + who);
    Job j = it->second;
    j.reason = "stopping: " + live.stop_reason();
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
    std::vector<std::int64_t> ids;  // the job of fds[i + 1]
    int timeout_ms = 0;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      fds.push_back({wake_fd_, POLLIN, 0});
      for (const auto& [id, live] : live_) {
        if (live->pidfd() >= 0) {
          fds.push_back({live->pidfd(), POLLIN, 0});
          ids.push_back(id);
        }
      }
      timeout_ms = poll_timeout_ms(clock_.monotonic(), last_pass);
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
    collect_guard_logs();
    collect_egress();
    std::unique_lock lock(mu_);
    if (stopping_) return;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) reap(ids[i - 1]);
    }
    const auto t = clock_.monotonic();
    for (auto& [id, live] : live_) {
      if (!running_.contains(id)) continue;
      live->track_command();
      if (live->kill_if_due(t))
        spdlog::info("event=job_kill id={} reason=\"grace period over\"", id);
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

int JobManager::poll_timeout_ms(Clock::Monotonic now, Clock::Monotonic last_pass) const {
  int timeout_ms = static_cast<int>(config_.tick.count());
  for (const auto& [id, live] : live_) timeout_ms = live->ms_until_kill(now, timeout_ms);
  if (dirty_) {
    // Passes are at most every min_pass_interval: under a burst of submissions or exits one
    // pass handles them all.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(config_.min_pass_interval -
                                                                      (now - last_pass));
    timeout_ms = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, timeout_ms));
  }
  return timeout_ms;
}

void JobManager::stop_job(Live& live, JobState state, std::string reason) {
  live.stop(state, std::move(reason), clock_.monotonic(), config_.kill_grace);
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
    if (live->stopping()) in.stopping.insert(id);
  }
  Plan plan = make_plan(in, config_.policy);

  for (const auto& p : plan.preemptions) {
    const Job& pre = pending_.at(p.for_job);
    for (std::int64_t v : p.victims) {
      auto it = running_.find(v);
      if (it == running_.end()) continue;
      stop_job(*live_.at(v), JobState::kPreempted,
               "preempted by job " + std::to_string(pre.id) + " (priority " +
                   std::to_string(pre.spec.priority) + ")");
      spdlog::info("event=job_preempt id={} for={}", v, pre.id);
    }
  }
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
  if (!starting.empty()) start_jobs(std::move(starting), lock);
}

// Starting: stored as running (one transaction) before anything starts, so a crash from here
// on never runs a job twice. Spawning happens without the lock, so submissions and queries go
// on meanwhile; cancel() of a job in this window is applied once it has started.
void JobManager::start_jobs(std::vector<Job> starting, std::unique_lock<std::mutex>& lock) {
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
  const LaunchContext ctx{config_, caps_, fs_, inventory_, model_, guard_};
  for (Job& job : starting)
    launched.push_back(launch_job(ctx, job, *job.allocation, dir_of(job.id)));
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
        stop_job(*live_[job.id], JobState::kCancelled, c->second);
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

std::vector<JobManager::JobUsageNow> JobManager::usage_now() const {
  // Who runs and in which cgroup under the lock; the cgroup files are read after it, so
  // a metrics pass over many jobs never holds up the scheduler.
  std::vector<std::pair<JobUsageNow, JobCgroup>> found;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, live] : live_) {
      auto job = running_.find(id);
      if (job == running_.end() || !live->cgroup()) continue;
      JobUsageNow u;
      u.id = id;
      u.name = job->second.spec.name;
      u.user = job->second.spec.user;
      u.queue = job->second.spec.queue;
      u.gpus = job->second.allocation ? job->second.allocation->gpus.size() : 0;
      u.sandboxed = !job->second.spec.sandbox.empty();
      if (live->egress()) {  // under the lock: the loop destroys monitors when jobs end
        u.egress_recorded = true;
        for (const auto& f : live->egress()->flows()) {
          u.egress_bytes_out += f.bytes_out;
          u.egress_bytes_in += f.bytes_in;
        }
      }
      found.emplace_back(std::move(u), *live->cgroup());
    }
  }
  std::vector<JobUsageNow> out;
  out.reserve(found.size());
  for (auto& [u, cg] : found) {
    u.stats = cg.stats();
    out.push_back(std::move(u));
  }
  std::lock_guard lock(guard_mu_);
  for (auto& u : out)
    if (auto it = refusals_.find(u.id); it != refusals_.end()) u.refusals = it->second;
  return out;
}

}  // namespace aion::sched
