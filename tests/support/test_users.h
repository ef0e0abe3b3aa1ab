// Local test accounts and running code as one of them, for the tests that play a local user
// against aion's trust boundary.
// Not thread-safe; call from the test's main thread, and only while the test process runs
// no other thread: a thread holding an allocator lock at fork() (ASan's allocator does not
// take its locks across fork) leaves the child hung in its first allocation.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace aion::testing {

struct TestUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The group `name`, created with groupadd when missing; nullopt when that fails.
inline std::optional<gid_t> ensure_group(const std::string& name) {
  if (struct group* g = ::getgrnam(name.c_str())) return g->gr_gid;
  std::string cmd = "groupadd " + name + " >/dev/null 2>&1";
  (void)!std::system(cmd.c_str());
  if (struct group* g = ::getgrnam(name.c_str())) return g->gr_gid;
  return std::nullopt;
}

// A regular local account (uid from UID_MIN up) created with useradd when missing, member of
// `groups` (created too) in the group database. nullopt without root or useradd.
inline std::optional<TestUser> ensure_user(const std::string& name,
                                           const std::vector<std::string>& groups = {}) {
  if (::geteuid() != 0) return std::nullopt;
  for (const auto& g : groups) {
    if (!ensure_group(g)) return std::nullopt;
  }
  if (!::getpwnam(name.c_str())) {
    std::string cmd = "useradd -M -N -s /bin/sh " + name + " >/dev/null 2>&1";
    (void)!std::system(cmd.c_str());
  }
  for (const auto& g : groups) {
    std::string cmd = "usermod -a -G " + g + " " + name + " >/dev/null 2>&1";
    (void)!std::system(cmd.c_str());
  }
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return std::nullopt;
  return TestUser{name, pw->pw_uid, pw->pw_gid};
}

// Runs `fn` in a forked child that holds exactly uid/gid and the supplementary `groups`,
// and returns what it returned ("<child failed>" when it died, "<child timed out>" when it
// had not answered within `limit`: a hung child fails its test instead of stalling the suite).
inline std::string as_user(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                           const std::function<std::string()>& fn,
                           std::chrono::seconds limit = std::chrono::seconds(120)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "<pipe failed>";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
        ::setuid(uid) != 0) {
      ::_exit(126);
    }
    std::string out = fn();
    for (std::size_t done = 0; done < out.size();) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    struct pollfd p {
      fds[0], POLLIN, 0
    };
    int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out = true;
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return "<child timed out>";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "<child failed>";
  return out;
}

}  // namespace aion::testing
