// aiond speaks systemd's notification protocol (Type=notify) and journald's log format.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/daemon_harness.h"

namespace aion::testing {
namespace {

using namespace std::chrono_literals;

// True while `pid` runs: not gone and not a zombie (a detached daemon is reaped by whoever
// adopted it, possibly late).
bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() { ::close(fd_); }

  // Everything received until `until` appears or the timeout passes.
  std::string read_until(const std::string& until, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && got_.find(until) == std::string::npos) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) got_ += std::string(buf, static_cast<std::size_t>(n)) + "\n";
    }
    return got_;
  }

 private:
  std::filesystem::path path_;
  int fd_;
  std::string got_;
};

TEST(SystemdTest, NotifiesReadyWatchdogReloadAndStopping) {
  DaemonHarness h;
  NotifySocket notify(h.dir() / "notify.sock");
  h.set_env("NOTIFY_SOCKET", (h.dir() / "notify.sock").string());
  h.set_env("WATCHDOG_USEC", "200000");  // ping every 100 ms
  ASSERT_TRUE(h.start());
  std::string got = notify.read_until("READY=1", 5s);
  EXPECT_NE(got.find("READY=1"), std::string::npos) << got;
  EXPECT_NE(got.find("MAINPID=" + std::to_string(h.pid())), std::string::npos) << got;
  got = notify.read_until("WATCHDOG=1", 5s);
  EXPECT_NE(got.find("WATCHDOG=1"), std::string::npos) << got;
  h.signal(SIGHUP);
  got = notify.read_until("RELOADING=1", 5s);
  EXPECT_NE(got.find("RELOADING=1"), std::string::npos) << got;
  h.signal(SIGTERM);
  got = notify.read_until("STOPPING=1", 5s);
  EXPECT_NE(got.find("STOPPING=1"), std::string::npos) << got;
  EXPECT_EQ(h.wait().code, 0);
}

TEST(SystemdTest, LogsPlainPriorityLinesUnderJournald) {
  DaemonHarness h;
  { std::ofstream touch(h.log_path()); }
  struct stat st {};
  ASSERT_EQ(::stat(h.log_path().c_str(), &st), 0);
  h.set_env("JOURNAL_STREAM", std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
  ASSERT_TRUE(h.start());
  h.signal(SIGTERM);
  Exit e = h.wait();
  ASSERT_EQ(e.code, 0);
  // Every log line starts with a syslog priority and carries no timestamp of its own.
  std::istringstream lines(e.out);
  std::string line;
  int log_lines = 0;
  while (std::getline(lines, line)) {
    if (line.find("event=") == std::string::npos) continue;  // the start-up summary on stdout
    ++log_lines;
    // <6> for info; a warning (an incident from the machine's own kernel log) is <4>.
    ASSERT_GE(line.size(), 4u) << line;
    EXPECT_TRUE(line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>' &&
                line.compare(3, 6, "event=") == 0)
        << line;
  }
  EXPECT_GE(log_lines, 2);
}

TEST(SystemdTest, BackgroundModeDetachesAfterReady) {
  DaemonHarness h;
  Exit e = run_program({DaemonHarness::aiond_path(), "--state-dir", h.state_dir().string(),
                        "--socket", h.socket().string()});
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("is ready"), std::string::npos) << e.out;
  auto c = h.client();
  ASSERT_TRUE(c) << "the detached daemon must be serving when the parent returns";
  auto r = c->get("/v1/status");
  ASSERT_TRUE(r);
  auto pid_at = r->body.find("\"pid\":");
  ASSERT_NE(pid_at, std::string::npos);
  pid_t pid = std::stoi(r->body.substr(pid_at + 6));
  ::kill(pid, SIGTERM);
  // Wait for the events themselves, not a fixed time: a busy machine (or a sanitizer build)
  // may take seconds to finish the requests in flight and close the store. The bound only
  // keeps a daemon that never stops from hanging the test.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         (process_alive(pid) || h.client().has_value())) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(process_alive(pid)) << "the daemon did not exit within 60 s of SIGTERM";
  EXPECT_FALSE(h.client().has_value()) << "the daemon's socket still accepts after SIGTERM";
  EXPECT_TRUE(std::filesystem::exists(h.state_dir() / "aiond.log"));
  // A failed start in background mode still reports the error and code to the caller.
  Exit second = run_program({DaemonHarness::aiond_path(), "--state-dir", "/proc/aion-cannot-exist",
                             "--socket", (h.dir() / "y.sock").string()});
  EXPECT_EQ(second.code, 2) << second.out;
}

}  // namespace
}  // namespace aion::testing
