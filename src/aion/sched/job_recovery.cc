// JobManager, recovery at start: every job stored as running is re-adopted when its shim
// still runs, finished from its status file when the shim recorded one, requeued when aiond
// stopped before its shim got going, and otherwise marked lost with the reason. Runs once in
// start(), before the loop's thread exists.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>
#include "aion/sched/job_process.h"
#include "aion/sched/runner.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

// What the job directory says about its shim.
struct ShimTrace {
  int lock = -1;                // shim.lock, open; -1 when it could not be opened
  bool alive = false;           // a shim holds shim.lock
  pid_t shim = 0;               // the stored pid, or the one the shim recorded itself
  std::int64_t start_time = 0;  // its start time (see process_start_time)
};

// Is a shim alive? It holds shim.lock for its whole life, from before it records its pid: a
// lock we cannot take means one is, even if aiond died between starting it and storing its
// pid, and even before the shim wrote shim.pid. Which shim: the stored pid, or the one the
// shim recorded itself (a crash between starting it and storing its pid).
ShimTrace trace_shim(const fs::path& dir, const Job& job) {
  ShimTrace t;
  t.lock = ::open((dir / "shim.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  t.alive = t.lock >= 0 && ::flock(t.lock, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  t.shim = job.shim_pid;
  t.start_time = job.shim_start;
  auto read_shim_pid = [&] {
    std::ifstream f(dir / "shim.pid");
    return static_cast<bool>(f >> t.shim >> t.start_time);
  };
  if (t.shim <= 0 && t.alive) {
    // It has the lock and writes shim.pid next.
    for (int i = 0; i < 100 && !read_shim_pid(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } else if (t.shim <= 0) {
    read_shim_pid();
  }
  return t;
}

// No shim alive and none ever recorded itself: aiond died between choosing the job and its
// shim getting going, so the command never ran.
bool never_started(const fs::path& dir, const ShimTrace& t) {
  const bool never_launched = !fs::exists(dir / "launch");  // aiond died before writing it
  return !t.alive && (t.lock >= 0 || never_launched) && t.shim <= 0 && !fs::exists(dir / "status");
}

}  // namespace

void JobManager::recover() {
  auto jobs = jobs_.list({.states = {JobState::kPending, JobState::kRunning}});
  if (!jobs) {
    spdlog::error("event=job_recover_failed error=\"{}\"", jobs.error().message());
    return;
  }
  RecoveryCounts n;
  for (Job& job : *jobs) {
    if (job.state == JobState::kPending) {
      pending_.emplace(job.id, std::move(job));
      continue;
    }
    recover_running(std::move(job), n);
  }
  if (n.adopted + n.lost + n.finished + n.requeued > 0) {
    spdlog::info("event=jobs_recovered adopted={} finished={} lost={} requeued={} pending={}",
                 n.adopted, n.finished, n.lost, n.requeued, pending_.size());
  }
}

void JobManager::recover_running(Job job, RecoveryCounts& n) {
  fs::path dir = dir_of(job.id);
  auto live = std::make_unique<Live>(dir);
  if (caps_.version != CgroupVersion::kNone && config_.cgroups) {
    if (auto cg =
            JobCgroup::open(fs_, caps_, config_.cgroup_parent, "job-" + std::to_string(job.id))) {
      live->cgroup() = std::move(*cg);
    }
  }
  ShimTrace trace = trace_shim(dir, job);
  if (never_started(dir, trace)) {
    // Without a launch file a shim that is still starting exits at once; the job goes back
    // to the queue as it was.
    std::error_code ec;
    fs::remove(dir / "launch", ec);
    ::close(trace.lock);
    if (live->cgroup()) {
      if (auto st = live->cgroup()->remove(); !st) {
        spdlog::warn("event=job_cgroup_remove_failed id={} error=\"{}\"", job.id,
                     st.error().message());
      }
    }
    requeue_unstarted(std::move(job));
    ++n.requeued;
    return;
  }
  if (trace.lock >= 0) ::close(trace.lock);
  live->set_shim(trace.shim);
  if (job.allocation) state_->add(*job.allocation);
  const bool has_status = fs::exists(dir / "status");
  running_.emplace(job.id, job);
  if (trace.shim > 0 && trace.start_time != 0 && !has_status &&
      live->adopt(trace.shim, trace.start_time)) {
    live->track_command();
    reattach_egress(job, *live);
    live_[job.id] = std::move(live);
    ++n.adopted;
    spdlog::info("event=job_adopted id={} shim={}", job.id, trace.shim);
    return;
  }
  live_[job.id] = std::move(live);
  if (!has_status)
    ++n.lost;
  else
    ++n.finished;
  reap(job.id);  // finishes from the status file, or marks it lost
}

void JobManager::requeue_unstarted(Job job) {
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
}

}  // namespace aion::sched
