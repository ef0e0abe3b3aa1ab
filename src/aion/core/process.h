// run_process: the subprocess helper. Every child process in aion starts here.
//
// Starts argv[0] (looked up in PATH when it has no '/') with posix_spawn: no shell, so no
// quoting bugs and no injection. Captures stdout and stderr, feeds optional stdin, and
// enforces a timeout by sending SIGTERM then SIGKILL to the child's process group. Blocks
// the calling thread until the child has exited and been reaped. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion {

struct ProcessOptions {
  std::vector<std::string> argv;               // argv[0] is the program
  std::map<std::string, std::string> env_set;  // added to (or replacing in) the environment
  bool inherit_env = true;                     // false: only env_set
  std::optional<std::filesystem::path> cwd;
  std::string stdin_data;                      // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{0};        // 0 = no timeout
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM -> SIGKILL delay on timeout
  std::size_t max_output = 16 << 20;           // per stream; the rest is discarded
};

struct ProcessResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the child, 0 if it exited
  bool timed_out = false;
  bool output_truncated = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};

  bool ok() const { return term_signal == 0 && exit_code == 0 && !timed_out; }
  // "exited with status 3", "killed by signal 9 (Killed)", "timed out after 5000 ms".
  std::string describe() const;
};

// Errors only when the child could not be started (kNotFound for a missing program,
// kPermissionDenied when not executable); a child that fails is a ProcessResult.
Result<ProcessResult> run_process(const ProcessOptions& options);

}  // namespace aion
