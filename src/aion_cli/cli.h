// The aion command-line client: shared context for every command.
//
// main.cc builds the CLI11 app with the global flags and calls each command file's add_*()
// to register its subcommands. A command's callback reads the context, does its work and
// sets ctx.exit_code; it prints human tables on stdout by default and JSON with --json,
// errors on stderr.
//
// Exit codes (documented in README and `aion --help`):
//   0 ok, 1 failure, 2 usage or configuration error, 3 daemon unreachable.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace aion::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

struct Context {
  bool json = false;
  std::string socket;     // --socket; empty = default candidates
  std::string config;     // --config / AION_CONFIG
  std::string host_root;  // --host-root / AION_HOST_ROOT; empty = "/"
  bool strict = false;    // --strict: warnings become a non-zero exit where a command says so
  int exit_code = kExitOk;
  // `aion run/submit ... -- CMD ARGS`: the words after "--", split off before parsing.
  std::vector<std::string> job_command;
  bool has_job_command = false;
};

}  // namespace aion::cli
