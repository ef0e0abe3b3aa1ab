#include "aion/sched/job_process.h"

#include <fcntl.h>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace aion::sched {

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

// A process may exit between the open and the read: read() then fails with ESRCH, which a
// std::filebuf reports by throwing from its iterator; so plain system calls, "" on failure.
std::string read_stat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[1024];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return n < 0 ? std::string() : out;
}

}  // namespace

std::optional<ProcStat> proc_stat(pid_t pid) {
  std::string stat = read_stat(pid);
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  ProcStat out;
  if (!(rest >> state >> out.ppid >> out.pgrp >> out.session)) return std::nullopt;
  return out;
}

std::int64_t process_start_time(pid_t pid) {
  std::string stat = read_stat(pid);
  auto p = stat.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream rest(stat.substr(p + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::atoll(field.c_str());
  }
  return 0;
}

JobProcess::JobProcess(std::filesystem::path dir) : dir_(std::move(dir)) {}

JobProcess::~JobProcess() {
  if (pidfd_ >= 0) ::close(pidfd_);
  if (command_pidfd_ >= 0) ::close(command_pidfd_);
}

void JobProcess::attach_child(pid_t shim) {
  shim_ = shim;
  our_child_ = true;
  pidfd_ = pidfd_open(shim, 0);
}

bool JobProcess::adopt(pid_t shim, std::int64_t start_time) {
  // The pidfd first, then the start time: a match after the pidfd is open means the pidfd is
  // that shim's, not a process that got the pid since.
  int fd = pidfd_open(shim, 0);
  if (fd >= 0 && process_start_time(shim) == start_time && pidfd_alive(fd)) {
    shim_ = shim;
    pidfd_ = fd;
    return true;
  }
  if (fd >= 0) ::close(fd);
  return false;
}

void JobProcess::stop(JobState state, std::string reason, Clock::Monotonic now,
                      std::chrono::milliseconds grace) {
  stop_state_ = state;
  stop_reason_ = std::move(reason);
  signal(SIGTERM);
  kill_at_ = now + grace;
}

bool JobProcess::kill_if_due(Clock::Monotonic now) {
  if (!kill_at_ || now < *kill_at_) return false;
  kill_at_.reset();
  signal(SIGKILL);
  return true;
}

int JobProcess::ms_until_kill(Clock::Monotonic now, int cap_ms) const {
  if (!kill_at_) return cap_ms;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*kill_at_ - now);
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, cap_ms));
}

void JobProcess::kill_leftovers() {
  if (cgroup_) {
    if (auto st = cgroup_->kill_all(SIGKILL); !st) {
      spdlog::warn("event=job_kill_failed cgroup={} error=\"{}\"", cgroup_->name(),
                   st.error().message());
    }
  } else if (command_pgid_ > 0) {
    // Without a cgroup: what is left of the command's process group, known to be the job's
    // from a pidfd taken in this run. Its id stays taken while the group has members. A pid
    // recorded before a restart (Job::pid) is never signalled.
    ::kill(-command_pgid_, SIGKILL);
  }
}

void JobProcess::track_command() {
  if (command_pidfd_ >= 0 || shim_ <= 0 || !pidfd_alive(pidfd_)) return;
  pid_t pid = 0;
  {
    std::ifstream f(dir_ / "pid");
    if (!(f >> pid) || pid <= 0) return;  // not started yet
  }
  int fd = pidfd_open(pid, 0);
  if (fd < 0) return;
  // The command is the shim's one child and leads its own process group. What /proc says is
  // about the process behind fd only if that process still exists after the read (a pid is
  // not reused before its process is reaped), and the shim must still be alive then too, so
  // that the parent named is this job's shim and not a process that got its pid since.
  auto st = proc_stat(pid);
  if (!st || st->ppid != shim_ || st->pgrp != pid || !pidfd_alive(fd) || !pidfd_alive(pidfd_)) {
    ::close(fd);
    return;
  }
  command_pidfd_ = fd;
  command_pgid_ = pid;
}

void JobProcess::signal(int sig) {
  if (cgroup_) {
    if (auto st = cgroup_->kill_all(sig); !st) {
      spdlog::warn("event=job_signal_failed cgroup={} signal={} error=\"{}\"", cgroup_->name(), sig,
                   st.error().message());
    }
  }
  // The shim forwards SIGTERM to the command, even when it is only about to start it and
  // neither the cgroup nor the process group holds it yet. (SIGKILL would end the shim.)
  if (sig == SIGTERM && pidfd_alive(pidfd_)) (void)pidfd_send_signal(pidfd_, sig);
  track_command();
  // The command's process group, while its leader is alive: its pid, the group's id, cannot
  // have been reused then.
  if (command_pgid_ > 0 && pidfd_alive(command_pidfd_)) ::kill(-command_pgid_, sig);
}

}  // namespace aion::sched
