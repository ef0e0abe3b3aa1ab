// The aion command-line client: shared context for every command, and the command files.
//
// main.cc builds the command tree (command.h) with the global flags and calls each command
// file's add_*() to register its subcommands. A command's action reads the context, does its
// work and sets ctx.exit_code; it prints human tables (table.h) on stdout by default and JSON
// with --json, errors and warnings on stderr.
//
// Exit codes (documented in README and `aion --help`):
//   0 ok, 1 failure, 2 usage or configuration error, 3 daemon unreachable.
// --strict: a command that warned (warn()) exits 1 instead of 0; main applies it, once the
// command is done, through exit_status(). Commands whose exit status means something else
// refuse --strict (strict_applies()).
//
// Not thread-safe: a command runs on the CLI's main thread, and the Context and the
// functions here belong to it. Commands that serve (the extender) hand their server threads
// objects of their own, never the Context.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aion::cli {

class Command;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

struct Context {
  bool json = false;
  std::string socket;     // --socket; empty = default candidates
  std::string config;     // --config / AION_CONFIG
  std::string host_root;  // --host-root / AION_HOST_ROOT; empty = "/"
  bool strict = false;    // --strict: a command that warned exits 1
  int exit_code = kExitOk;
  // Warnings so far: warn() counts them, and a command counts results that are warnings of
  // their own kind (a doctor check that warns).
  int warnings = 0;
  // `aion run/submit ... -- CMD ARGS`: the words after "--", split off before parsing.
  std::vector<std::string> job_command;
  bool has_job_command = false;
};

// Prints "warning: <message>" on stderr and counts it.
void warn(Context& ctx, std::string_view message);

// For a command --strict cannot apply to, because `why` (its exit status is the job's, it
// serves until stopped): false after a usage error naming the command and why, when --strict
// was given; true otherwise.
bool strict_applies(Context& ctx, std::string_view command, std::string_view why);

// The process's exit status once the command is done: ctx.exit_code, or 1 when it is 0 and
// the command warned under --strict.
int exit_status(const Context& ctx);

// The command files: each registers its commands under `root`.
void add_status_commands(Command& root, Context& ctx);
void add_ask_command(Command& root, Context& ctx);
void add_admin_commands(Command& root, Context& ctx);
void add_events_commands(Command& root, Context& ctx);
void add_guard_commands(Command& root, Context& ctx);
void add_hw_commands(Command& root, Context& ctx);
void add_job_commands(Command& root, Context& ctx);
void add_metrics_commands(Command& root, Context& ctx);
void add_top_command(Command& root, Context& ctx);
void add_sim_commands(Command& root, Context& ctx);
void add_tune_commands(Command& root, Context& ctx);
void add_logs_commands(Command& root, Context& ctx);
void add_slurm_commands(Command& root, Context& ctx);
void add_env_commands(Command& root, Context& ctx);
void add_diagnose_commands(Command& root, Context& ctx);
void add_k8s_commands(Command& root, Context& ctx);
void add_redact_command(Command& root, Context& ctx);
void add_support_commands(Command& root, Context& ctx);
void add_data_commands(Command& root, Context& ctx);
void add_pipeline_commands(Command& root, Context& ctx);

}  // namespace aion::cli
