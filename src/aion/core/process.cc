#include "aion/core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

  auto start = SteadyClock::now();
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Error e = errno_error(rc, "starting " + o.argv[0]);
    return std::unexpected(e);
  }
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);

  ProcessResult result;
  std::string_view to_write = o.stdin_data;
  if (to_write.empty()) {
    in.close_end(1);
  } else {
    set_nonblocking(in.fd[1]);
  }
  set_nonblocking(out.fd[0]);
  set_nonblocking(err.fd[0]);

  bool term_sent = false, kill_sent = false;
  auto deadline = o.timeout.count() > 0 ? start + o.timeout : SteadyClock::time_point::max();
  char buf[16384];
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
    if (deadline != SteadyClock::time_point::max()) {
      if (now >= deadline) {
        if (!term_sent) {
          ::kill(-pid, SIGTERM);
          term_sent = true;
          result.timed_out = true;
          deadline = now + o.kill_grace;
        } else if (!kill_sent) {
          ::kill(-pid, SIGKILL);
          kill_sent = true;
          deadline = SteadyClock::time_point::max();
        }
        continue;
      }
      wait_ms = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - now).count()) + 1;
    }
    int pr = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return std::unexpected(errno_error(errno, "waiting for " + o.argv[0]));
    }
    auto drain = [&](Pipe& p, int idx, std::string& sink) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t r = ::read(p.fd[0], buf, sizeof(buf));
      if (r > 0) {
        std::size_t room = o.max_output > sink.size() ? o.max_output - sink.size() : 0;
        std::size_t take = std::min(room, static_cast<std::size_t>(r));
        sink.append(buf, take);
        if (take < static_cast<std::size_t>(r)) result.output_truncated = true;
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        p.close_end(0);
      }
    };
    drain(out, idx_out, result.out);
    drain(err, idx_err, result.err);
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in.fd[1], to_write.data(), to_write.size());
      if (w > 0) to_write.remove_prefix(static_cast<std::size_t>(w));
      if (to_write.empty() || (w < 0 && errno != EAGAIN && errno != EINTR)) in.close_end(1);
    }
  }

  // The pipes closed; the child may still run (it closed its stdout), so keep the timeout.
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return std::unexpected(errno_error(errno, "reaping " + o.argv[0]));
    auto now = SteadyClock::now();
    if (now >= deadline) {
      if (!term_sent) {
        ::kill(-pid, SIGTERM);
        term_sent = true;
        result.timed_out = true;
        deadline = now + o.kill_grace;
      } else {
        ::kill(-pid, SIGKILL);
        deadline = SteadyClock::time_point::max();
      }
    }
    ::usleep(2000);
  }
  result.elapsed = std::chrono::duration_cast<Ms>(SteadyClock::now() - start);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace aion
