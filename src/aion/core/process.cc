#include "aion/core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "aion/core/strings.h"

extern char** environ;

namespace aion {
namespace {

using Ms = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// Owns a pipe's two ends.
struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

std::vector<std::string> build_env(const ProcessOptions& o) {
  std::vector<std::string> env;
  if (o.inherit_env) {
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv(*e);
      auto eq = kv.find('=');
      std::string key(kv.substr(0, eq));
      if (!o.env_set.contains(key)) env.emplace_back(kv);
    }
  }
  for (const auto& [k, v] : o.env_set) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The timeout of one child: SIGTERM to its process group at the deadline, SIGKILL
// kill_grace later. With no timeout the deadline never comes.
struct Timeout {
  pid_t pid = -1;
  Ms grace{0};
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  bool term_sent = false;
  bool kill_sent = false;

  bool armed() const { return deadline != SteadyClock::time_point::max(); }
  // At or past the deadline: sends the next signal (marking the result timed out at the
  // first) and returns true.
  bool fire(SteadyClock::time_point now, ProcessResult& result) {
    if (now < deadline) return false;
    if (!term_sent) {
      ::kill(-pid, SIGTERM);
      term_sent = true;
      result.timed_out = true;
      deadline = now + grace;
    } else if (!kill_sent) {
      ::kill(-pid, SIGKILL);
      kill_sent = true;
      deadline = SteadyClock::time_point::max();
    }
    return true;
  }
};

// Whether `name` (no slash) names a file in some directory of PATH this process can reach.
bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> dirs = split(path ? path : "/bin:/usr/bin", ':');
  if (dirs.empty()) dirs.emplace_back();  // an empty PATH is the current directory
  return std::any_of(dirs.begin(), dirs.end(), [&](const std::string& dir) {
    const std::string full = (dir.empty() ? std::string(".") : dir) + "/" + name;
    return ::access(full.c_str(), F_OK) == 0;
  });
}

// Starts the child with the pipes' ends as its stdin, stdout and stderr, in its own process
// group (so a timeout kills all of it) with default signal handling and no blocked signals.
Result<pid_t> spawn_child(const ProcessOptions& o, Pipe& in, Pipe& out, Pipe& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  if (o.cwd) posix_spawn_file_actions_addchdir_np(&actions, o.cwd->c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t default_signals, no_signals;
  sigfillset(&default_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  posix_spawnattr_setsigmask(&attr, &no_signals);
  posix_spawnattr_setpgroup(&attr, 0);  // own process group, so a timeout kills all of it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_copy = o.argv;
  std::vector<std::string> env_copy = build_env(o);
  auto argv = c_array(argv_copy);
  auto envp = c_array(env_copy);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  // posix_spawnp says EACCES when a directory of PATH could not be searched, even if the
  // program is in none of them (a PATH inherited from another user): that is "not found".
  if (rc == EACCES && o.argv[0].find('/') == std::string::npos && !on_path(o.argv[0])) rc = ENOENT;
  if (rc != 0) {
    Error e = errno_error(rc, "starting " + o.argv[0]);
    return std::unexpected(e);
  }
  return pid;
}

// One read from a readable pipe into `sink`, keeping at most max_output bytes; closes the
// pipe at end of file or on an error other than EAGAIN/EINTR.
void drain(Pipe& p, short revents, std::string& sink, const ProcessOptions& o,
           ProcessResult& result) {
  if (!(revents & (POLLIN | POLLHUP | POLLERR))) return;
  char buf[16384];
  ssize_t r = ::read(p.fd[0], buf, sizeof(buf));
  if (r > 0) {
    std::size_t room = o.max_output > sink.size() ? o.max_output - sink.size() : 0;
    std::size_t take = std::min(room, static_cast<std::size_t>(r));
    sink.append(buf, take);
    if (take < static_cast<std::size_t>(r)) result.output_truncated = true;
  } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
    p.close_end(0);
  }
}

// Feeds stdin_data and collects stdout and stderr until all three pipes are closed, firing
// the timeout on the way. On a poll failure the child is killed and reaped.
Status pump_pipes(const ProcessOptions& o, Pipe& in, Pipe& out, Pipe& err, Timeout& timeout,
                  ProcessResult& result) {
  std::string_view to_write = o.stdin_data;
  if (to_write.empty()) {
    in.close_end(1);
  } else {
    set_nonblocking(in.fd[1]);
  }
  set_nonblocking(out.fd[0]);
  set_nonblocking(err.fd[0]);

  while (out.fd[0] >= 0 || err.fd[0] >= 0 || in.fd[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out.fd[0] >= 0) {
      idx_out = n;
      fds[n++] = {out.fd[0], POLLIN, 0};
    }
    if (err.fd[0] >= 0) {
      idx_err = n;
      fds[n++] = {err.fd[0], POLLIN, 0};
    }
    if (in.fd[1] >= 0) {
      idx_in = n;
      fds[n++] = {in.fd[1], POLLOUT, 0};
    }

    int wait_ms = -1;
    auto now = SteadyClock::now();
    if (timeout.armed()) {
      if (timeout.fire(now, result)) continue;
      wait_ms =
          static_cast<int>(std::chrono::duration_cast<Ms>(timeout.deadline - now).count()) + 1;
    }
    int pr = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      ::kill(-timeout.pid, SIGKILL);
      ::waitpid(timeout.pid, nullptr, 0);
      return std::unexpected(errno_error(errno, "waiting for " + o.argv[0]));
    }
    if (idx_out >= 0) drain(out, fds[idx_out].revents, result.out, o, result);
    if (idx_err >= 0) drain(err, fds[idx_err].revents, result.err, o, result);
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in.fd[1], to_write.data(), to_write.size());
      if (w > 0) to_write.remove_prefix(static_cast<std::size_t>(w));
      if (to_write.empty() || (w < 0 && errno != EAGAIN && errno != EINTR)) in.close_end(1);
    }
  }
  return {};
}

// Waits for the child's wait status. The pipes closed, but the child may still run (it
// closed its stdout), so the timeout still holds.
Result<int> reap(const ProcessOptions& o, Timeout& timeout, ProcessResult& result) {
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(timeout.pid, &status, WNOHANG);
    if (w == timeout.pid) return status;
    if (w < 0 && errno != EINTR) return std::unexpected(errno_error(errno, "reaping " + o.argv[0]));
    timeout.fire(SteadyClock::now(), result);
    ::usleep(2000);
  }
}

}  // namespace

std::string ProcessResult::describe() const {
  if (timed_out) return "timed out after " + std::to_string(elapsed.count()) + " ms";
  if (term_signal != 0) {
    return "killed by signal " + std::to_string(term_signal) + " (" + ::strsignal(term_signal) +
           ")";
  }
  return "exited with status " + std::to_string(exit_code);
}

Result<ProcessResult> run_process(const ProcessOptions& o) {
  if (o.argv.empty() || o.argv[0].empty()) {
    return fail(ErrorCode::kInvalidArgument, "run_process: no program given");
  }
  Pipe in, out, err;
  if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0 ||
      ::pipe2(err.fd, O_CLOEXEC) != 0) {
    return std::unexpected(errno_error(errno, "creating pipes for " + o.argv[0]));
  }
  auto start = SteadyClock::now();
  auto pid = spawn_child(o, in, out, err);
  if (!pid) return std::unexpected(pid.error());
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);

  ProcessResult result;
  Timeout timeout{.pid = *pid, .grace = o.kill_grace};
  if (o.timeout.count() > 0) timeout.deadline = start + o.timeout;
  if (auto pumped = pump_pipes(o, in, out, err, timeout, result); !pumped) {
    return std::unexpected(pumped.error());
  }
  auto status = reap(o, timeout, result);
  if (!status) return std::unexpected(status.error());
  result.elapsed = std::chrono::duration_cast<Ms>(SteadyClock::now() - start);
  if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.term_signal = WTERMSIG(*status);
  }
  return result;
}

}  // namespace aion
