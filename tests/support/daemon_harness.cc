#include "support/daemon_harness.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/fixtures.h"

namespace aion::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<char*> c_argv(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The directory of reachable_program()'s copies; removed when the test process exits.
class ReachableDir {
 public:
  std::string copy(const std::string& program) {
    std::lock_guard lock(mu_);
    if (auto it = copies_.find(program); it != copies_.end()) return it->second;
    if (!dir_) {
      dir_.emplace("it-bin", "/tmp");
      dir_->make_reachable();
    }
    fs::path to = *dir_ / fs::path(program).filename();
    std::error_code ec;
    fs::copy_file(program, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return program;
    fs::permissions(to,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    ec);
    copies_[program] = to.string();
    return to.string();
  }

 private:
  std::mutex mu_;
  std::optional<TempDir> dir_;                 // guarded by mu_
  std::map<std::string, std::string> copies_;  // guarded by mu_
};

}  // namespace

std::string reachable_program(const std::string& program) {
  static ReachableDir dir;
  return dir.copy(program);
}

std::string DaemonHarness::aiond_path() {
  return bin_path("aiond").string();
}
std::string DaemonHarness::aion_path() {
  return bin_path("aion").string();
}

Exit run_program(const std::vector<std::string>& argv_in, std::optional<uid_t> as_uid,
                 std::chrono::seconds timeout) {
  std::vector<std::string> argv = argv_in;
  if (as_uid && !argv.empty()) argv[0] = reachable_program(argv[0]);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (as_uid) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(*as_uid) != 0 || ::setuid(*as_uid) != 0)
        ::_exit(126);
    }
    auto a = c_argv(argv);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Exit e;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      ssize_t n = ::read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      e.out.append(buf, static_cast<std::size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
  return e;
}

DaemonHarness::DaemonHarness() : dir_("it", "/tmp") {
  fs::permissions(dir_.path(), fs::perms::all);  // tests that drop privileges reach the socket
}

DaemonHarness::~DaemonHarness() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (log_fd_ >= 0) ::close(log_fd_);
}

void DaemonHarness::write_config(const std::string& toml) {
  std::ofstream(config()) << toml;
}

Status DaemonHarness::start(std::vector<std::string> extra) {
  std::vector<std::string> argv = {aiond_path(),         "--foreground", "--state-dir",
                                   state_dir().string(), "--socket",     socket().string()};
  if (fs::exists(config())) {
    argv.push_back("--config");
    argv.push_back(config().string());
  }
  for (auto& a : extra) argv.push_back(a);
  if (log_fd_ < 0)
    log_fd_ = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log_fd_, 1);
    ::dup2(log_fd_, 2);
    ::setenv("AION_CONFIG", "", 1);
    for (const auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
    auto a = c_argv(argv);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail(ErrorCode::kUnavailable, "aiond exited during start-up: " + log());
    }
    if (auto c = client()) {
      if (auto r = c->get("/v1/status"); r && r->status == 200) return {};
    }
    std::this_thread::sleep_for(10ms);
  }
  return fail(ErrorCode::kTimeout, "aiond did not answer within 30 s: " + log());
}

void DaemonHarness::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

Exit DaemonHarness::wait(std::chrono::seconds timeout) {
  Exit e;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
      pid_ = -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      deadline = std::chrono::steady_clock::now() + 10s;
    }
    std::this_thread::sleep_for(5ms);
  }
  e.out = log();
  return e;
}

std::string DaemonHarness::log() const {
  std::ifstream in(log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace aion::testing
