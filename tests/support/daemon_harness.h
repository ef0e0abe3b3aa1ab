// DaemonHarness: starts the real aiond binary on a private state directory and socket,
// for integration tests. Not thread-safe; one per test.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aion/api/client.h"
#include "aion/core/error.h"
#include "support/temp_dir.h"

namespace aion::testing {

struct Exit {
  int code = -1;  // exit status, or -1 when killed
  int signal = 0;
  std::string out;  // stdout + stderr
};

// Runs a program to completion, optionally as another uid/gid (root only). Run as another uid,
// the program is a copy made by reachable_program(), so that it starts even when the build
// tree sits below a directory that uid cannot enter (a checkout in /root).
Exit run_program(const std::vector<std::string>& argv, std::optional<uid_t> as_uid = std::nullopt,
                 std::chrono::seconds timeout = std::chrono::seconds(60));

// A copy of the executable `program` in a directory every user can enter and read (one
// 0755 directory under /tmp per test process, removed at exit), for the side of a test that
// drops privileges. The same program is copied once. Returns `program` itself when it
// cannot be copied (the exec then reports why).
std::string reachable_program(const std::string& program);

class DaemonHarness {
 public:
  // A fresh directory under /tmp (open to every user: tests that drop privileges must reach
  // the socket) holding state/, aiond.sock and aion.toml; removed with the harness.
  DaemonHarness();
  ~DaemonHarness();

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path state_dir() const { return dir() / "state"; }
  std::filesystem::path socket() const { return dir() / "aiond.sock"; }
  std::filesystem::path config() const { return dir() / "aion.toml"; }
  void write_config(const std::string& toml);
  // Environment variables set for the daemon started by start().
  void set_env(const std::string& key, const std::string& value) { env_.emplace_back(key, value); }

  // Starts aiond --foreground with the harness's paths and waits until its socket answers.
  Status start(std::vector<std::string> extra_args = {});
  // Sends a signal; wait() reaps the daemon.
  void signal(int sig);
  Exit wait(std::chrono::seconds timeout = std::chrono::seconds(30));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string log() const;
  // The file the daemon's stdout and stderr go to (created before the first start).
  std::filesystem::path log_path() const { return dir() / "aiond.log"; }

  Result<api::Client> client() const { return api::Client::connect_unix(socket()); }

  static std::string aiond_path();
  static std::string aion_path();

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int log_fd_ = -1;
  std::vector<std::pair<std::string, std::string>> env_;
};

}  // namespace aion::testing
