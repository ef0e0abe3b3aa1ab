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

// Tuning held for a batch job (tune_command.cc, used by `aion slurm prolog|epilog`): apply
// `profile` for `job`, or join it when other jobs hold it; release the job's hold, rolling
// the profile back when it was the last. `who` names the caller in messages ("prolog");
// `state_dir` "" means the config's. A profile named by the job's user that does not exist
// is a warning (the job runs untuned); false when the node should not run the job (an apply
// that failed, a rollback that did not hold, no root), with ctx.exit_code set.
bool hold_job_tuning(Context& ctx, const std::string& who, const std::string& job,
                     const std::string& profile, bool named_by_user, const std::string& state_dir);
bool release_job_tuning(Context& ctx, const std::string& who, const std::string& job,
                        const std::string& state_dir);

}  // namespace aion::cli
