// aion: the command-line client. Wiring only: global flags, the command files, exit codes.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cli.h"
#include "command.h"
#include "completion.h"
#include "help_index.h"

namespace {

constexpr const char* kFooter = R"(Exit codes:
  0  ok
  1  the command failed (the message says why)
  2  usage or configuration error
  3  the daemon is not reachable (start it with `aiond` or `systemctl start aiond`)

Environment: AION_CONFIG (like --config), AION_HOST_ROOT (like --host-root).
Commands that read the machine or a file work without the daemon; the others talk to aiond
over its unix socket.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace aion::cli;
  Context ctx;
  if (const char* c = std::getenv("AION_CONFIG")) ctx.config = c;
  if (const char* r = std::getenv("AION_HOST_ROOT")) ctx.host_root = r;

  CommandLine line(
      "aion",
      "aion: the AI-native node: hardware, jobs, telemetry, diagnosis and tuning of a GPU server");
  Command app = line.root();
  app.footer(kFooter);
  app.require_subcommand();
  app.fallthrough();
  app.flag("--json", ctx.json, "Machine-readable JSON output");
  app.option("--socket", ctx.socket,
             "The daemon's unix socket (default: your own daemon's, then /run/aion/aiond.sock)");
  app.option("--config", ctx.config,
             "Configuration file (default: ~/.config/aion/aion.toml or /etc/aion/aion.toml)");
  app.option("--host-root", ctx.host_root,
             "Read /proc, /sys, /dev below this directory (a recorded machine)");
  app.flag("--strict", ctx.strict,
           "Treat warnings (unreadable devices, missing drivers) as failures (exit 1)");

  add_status_commands(app, ctx);
  add_hw_commands(app, ctx);
  add_job_commands(app, ctx);
  add_logs_commands(app, ctx);
  add_metrics_commands(app, ctx);
  add_top_command(app, ctx);
  add_tune_commands(app, ctx);
  add_admin_commands(app, ctx);
  add_events_commands(app, ctx);
  add_guard_commands(app, ctx);
  add_sim_commands(app, ctx);
  add_slurm_commands(app, ctx);
  add_env_commands(app, ctx);
  add_data_commands(app, ctx);
  add_pipeline_commands(app, ctx);
  add_diagnose_commands(app, ctx);
  add_k8s_commands(app, ctx);
  add_redact_command(app, ctx);
  add_support_commands(app, ctx);
  add_ask_command(app, ctx);

  std::string shell;
  app.add("completion", "Print a shell completion script: source <(aion completion bash)")
      .action([&] { std::printf("%s", completion_script(line.describe(), shell).c_str()); })
      .option("SHELL", shell, "bash or zsh")
      .required()
      .one_of({"bash", "zsh"});
  // Hidden: a tool for the documentation, not a user command. Added last, to index the rest.
  bool markdown = false;
  app.add("help-index", "Print the index of every command as a Markdown table (for the README)")
      .hidden()
      .action([&] { std::printf("%s", command_index_markdown(line.describe()).c_str()); })
      .flag("--markdown", markdown, "Markdown output (the only format)");

  // `aion run [flags] -- CMD ARGS`: what follows "--" is the job's command line, untouched
  // (the parser would hand it to the parent command). Split it off before parsing.
  int parsed_argc = argc;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      bool job_command = false;
      for (int k = 1; k < i; ++k) {
        job_command = job_command || std::string_view(argv[k]) == "run" ||
                      std::string_view(argv[k]) == "submit";
      }
      if (job_command) {
        parsed_argc = i;
        ctx.job_command.assign(argv + i + 1, argv + argc);
        ctx.has_job_command = true;
      }
      break;
    }
  }
  if (auto done = line.parse(parsed_argc, argv)) return *done;
  return exit_status(ctx);
}
