// aion slurm gres | node | healthcheck | prolog | epilog: Slurm integration, without the
// daemon (it is asked for its events when reachable). The facts and decisions live in
// aion/cluster/slurm_gres.h and slurm_health.h; this file gathers inputs and runs scontrol.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "aion/cluster/slurm_gres.h"
#include "aion/cluster/slurm_health.h"
#include "aion/core/config.h"
#include "aion/core/cpu_list.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/process.h"
#include "aion/core/settings.h"
#include "aion/hw/discovery.h"
#include "aion/tune/job_tuning.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

using namespace std::chrono_literals;

// Slurm keeps gres.conf beside slurm.conf ($SLURM_CONF, else /etc/slurm/slurm.conf).
std::string default_gres_conf() {
  const char* conf = std::getenv("SLURM_CONF");
  std::filesystem::path p = conf && *conf ? conf : "/etc/slurm/slurm.conf";
  return (p.parent_path() / "gres.conf").string();
}

struct SlurmArgs {
  std::string node;
  std::string dev_dir;  // "" -> /dev below the host root
  bool no_check = false;
  std::string gres_conf;
  std::string state_dir;
  std::string scontrol = "scontrol";
  bool dry_run = false;
  bool no_daemon = false;
  std::string tune;  // prolog: the profile every job gets (else the job's comment names one)
};

// The tuning profile a job asks for: `aion-tune=NAME` among the words of its comment
// (`sbatch --comment "aion-tune=ai-training"`; words split at blanks, commas, semicolons).
std::string profile_in_comment(std::string_view comment) {
  constexpr std::string_view kKey = "aion-tune=";
  std::size_t i = 0;
  while (i < comment.size()) {
    std::size_t end = comment.find_first_of(" \t,;", i);
    if (end == std::string_view::npos) end = comment.size();
    std::string_view word = comment.substr(i, end - i);
    if (word.starts_with(kKey) && word.size() > kKey.size())
      return std::string(word.substr(kKey.size()));
    i = end + 1;
  }
  return {};
}

std::string short_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

struct SlurmMachine {
  Config config;
  hw::Inventory inventory;
  std::string root;
};

// Loads the config (simulated GPUs, NVML path, state dir) and discovers the machine.
std::optional<SlurmMachine> load_slurm_machine(Context& ctx) {
  auto m = cli::load_machine(ctx);
  if (!m) return std::nullopt;
  hw::Inventory inv = discover(ctx, *m);
  return SlurmMachine{std::move(m->config), std::move(inv), m->fs.root().string()};
}

cluster::GresOptions gres_options(const SlurmArgs& a, const SlurmMachine& m) {
  cluster::GresOptions o;
  o.dev_dir = a.dev_dir.empty() ? "/dev" : a.dev_dir;
  // --dev-dir names a real directory; the default /dev lives below the host root.
  o.check_root = a.dev_dir.empty() ? std::filesystem::path(m.root) : "/";
  o.check_devices = !a.no_check;
  return o;
}

std::optional<std::vector<cluster::GresDevice>> devices(Context& ctx, const SlurmMachine& m,
                                                        const cluster::GresOptions& o) {
  auto cores = cluster::read_core_map(HostFs(m.root));
  if (!cores) {
    report(ctx, cores.error());
    return std::nullopt;
  }
  auto d = cluster::gres_devices(m.inventory, *cores, o);
  if (!d) {
    report(ctx, d.error());
    return std::nullopt;
  }
  return std::move(*d);
}

Json device_json(const cluster::GresDevice& d) {
  return {{"name", d.name},  {"type", d.type},   {"file", d.file},
          {"gpu", d.gpu},    {"cores", d.cores}, {"cores_text", format_cpu_list(d.cores)},
          {"links", d.links}};
}

// Everything wrong with the node: the marker, the local check and aiond's events.
std::optional<std::vector<cluster::Fault>> gather_faults(Context& ctx, const SlurmArgs& a,
                                                         const SlurmMachine& m,
                                                         std::vector<std::string>& notes) {
  std::vector<cluster::Fault> faults;
  const std::filesystem::path state_dir =
      a.state_dir.empty() ? settings_from(m.config).state_dir : std::filesystem::path(a.state_dir);
  auto marker = cluster::marker_fault(state_dir);
  if (!marker) {
    report(ctx, marker.error());
    return std::nullopt;
  }
  if (*marker) faults.push_back(**marker);

  cluster::GresOptions o = gres_options(a, m);
  o.check_devices = false;
  auto cores = cluster::read_core_map(HostFs(m.root));
  if (!cores) {
    report(ctx, cores.error());
    return std::nullopt;
  }
  auto discovered = cluster::gres_devices(m.inventory, *cores, o);
  if (!discovered) {
    report(ctx, discovered.error());
    return std::nullopt;
  }
  std::vector<cluster::GresDevice> expected;
  std::string gres_path = a.gres_conf;
  if (gres_path.empty() && std::filesystem::exists(default_gres_conf()))
    gres_path = default_gres_conf();
  if (!gres_path.empty()) {
    std::ifstream in(gres_path);
    if (!in) {
      report(ctx, Error(ErrorCode::kNotFound, "cannot read " + gres_path));
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = cluster::parse_gres_conf(ss.str(), gres_path, a.node);
    if (!parsed) {
      report(ctx, parsed.error());
      return std::nullopt;
    }
    expected = std::move(*parsed);
    notes.push_back("checked " + std::to_string(expected.size()) + " GPU(s) of " + gres_path);
  } else {
    notes.push_back("no gres.conf to check against (--gres-conf); checked discovered GPUs only");
  }
  for (auto& f : cluster::local_faults(m.inventory, expected, *discovered, o.check_root))
    faults.push_back(std::move(f));

  if (a.no_daemon) return faults;
  auto client = try_connect(ctx);
  if (!client) {
    notes.push_back("aiond not reachable: its GPU events were not consulted");
    return faults;
  }
  auto boot = cluster::boot_time_ms(HostFs(m.root));
  const std::int64_t since = boot ? *boot : 0;
  for (const char* kind : {"gpu", "hw_change"}) {
    auto r = client->get(std::string("/v1/events?limit=10000&kind=") + kind);
    if (!r || !r->ok()) {
      notes.push_back(std::string("aiond did not answer GET /v1/events?kind=") + kind);
      continue;
    }
    Json j = Json::parse(r->body, nullptr, false);
    for (auto& f : cluster::daemon_faults(j, since)) faults.push_back(std::move(f));
  }
  notes.push_back("consulted aiond's gpu and hw_change events since boot");
  return faults;
}

Result<ProcessResult> scontrol(const SlurmArgs& a, std::vector<std::string> args) {
  args.insert(args.begin(), a.scontrol);
  auto r = run_process({.argv = args, .timeout = 30s});
  if (!r) return std::unexpected(r.error().context("running " + a.scontrol));
  if (!r->ok()) {
    std::string cmd;
    for (const auto& s : args) cmd += (cmd.empty() ? "" : " ") + s;
    return fail(ErrorCode::kUnavailable, "`" + cmd + "` " + r->describe() + ": " + r->err + r->out);
  }
  return r;
}

const char* action_name(cluster::HealthAction a) {
  switch (a) {
    case cluster::HealthAction::kDrain: return "drain";
    case cluster::HealthAction::kResume: return "resume";
    case cluster::HealthAction::kNone: break;
  }
  return "none";
}

void run_healthcheck(Context& ctx, SlurmArgs& a) {
  if (a.node.empty()) a.node = short_hostname();
  auto m = load_slurm_machine(ctx);
  if (!m) return;
  std::vector<std::string> notes;
  auto faults = gather_faults(ctx, a, *m, notes);
  if (!faults) return;

  auto shown = scontrol(a, {"show", "node", a.node});
  if (!shown) {
    report(ctx, shown.error());
    return;
  }
  auto node = cluster::parse_scontrol_node(shown->out, a.node);
  if (!node) {
    report(ctx, node.error());
    return;
  }
  auto decision = cluster::decide_health(*faults, *node);
  if (!a.dry_run && decision.action != cluster::HealthAction::kNone) {
    std::vector<std::string> args = {"update", "nodename=" + a.node};
    if (decision.action == cluster::HealthAction::kDrain) {
      args.push_back("state=drain");
      args.push_back("reason=" + decision.reason);
    } else {
      args.push_back("state=resume");
    }
    if (auto r = scontrol(a, args); !r) {
      // Slurm may run the health check while an operator runs it too: when the other run
      // already did what this one wanted, scontrol refuses the transition, and that is fine.
      auto again = scontrol(a, {"show", "node", a.node});
      auto now = again ? cluster::parse_scontrol_node(again->out, a.node) : node;
      const bool done = now && (decision.action == cluster::HealthAction::kDrain
                                    ? now->drained() && now->reason == decision.reason
                                    : !now->drained());
      if (!done) {
        report(ctx, r.error());
        return;
      }
    }
  }
  if (ctx.json) {
    Json f = Json::array();
    for (const auto& x : *faults)
      f.push_back({{"source", x.source}, {"message", x.message}, {"gpu", x.gpu}});
    Json out = {{"node", a.node},
                {"faults", f},
                {"state", node->state},
                {"reason", node->reason},
                {"action", action_name(decision.action)},
                {"drain_reason", decision.reason},
                {"why", decision.why},
                {"dry_run", a.dry_run},
                {"notes", notes}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    Table t;  // no header: what was found, then what was decided
    for (const auto& x : *faults) t.add({"fault", "[" + x.source + "] " + x.message});
    for (const auto& n : notes) t.add({"note", n});
    const std::string reason = node->reason.empty() ? "" : " reason=\"" + node->reason + "\"";
    t.add({"node", a.node + " state=" + node->state + reason});
    t.add({"action", std::string(action_name(decision.action)) + (a.dry_run ? " (dry run)" : "") +
                         ": " + decision.why});
    t.print();
  }
  if (!faults->empty()) ctx.exit_code = kExitFailure;
}

// Where job tuning happens: the machine of --host-root and --config, aiond's state directory
// (--state-dir, else the config's).
std::optional<tune::JobTuningSite> tuning_site(Context& ctx, const SlurmArgs& a) {
  auto m = cli::load_machine(ctx);
  if (!m) return std::nullopt;
  std::filesystem::path state_dir =
      a.state_dir.empty() ? settings_from(m->config).state_dir : std::filesystem::path(a.state_dir);
  return tune::JobTuningSite{m->fs, std::move(state_dir), m->options};
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ",") + w;
  return out;
}

// The prolog applies the job's profile, or joins it; false when the node should not run the
// job (an apply that failed, no root), with ctx.exit_code set.
bool hold_job_tuning(Context& ctx, const SlurmArgs& a, const std::string& job,
                     const std::string& profile, bool named_by_user) {
  auto site = tuning_site(ctx, a);
  if (!site) return false;
  auto r = tune::hold_job_tuning(*site, job, profile, named_by_user);
  if (!r) {
    Error e = r.error();
    report(ctx, e.context("prolog"));
    return false;
  }
  switch (r->outcome) {
    case tune::JobHoldOutcome::kApplied:
      if (!ctx.json)
        std::printf("tuning: applied %s for job %s (%s)\n", profile.c_str(), job.c_str(),
                    r->hold.snapshot_id.empty() ? "everything was already set"
                                                : ("snapshot " + r->hold.snapshot_id).c_str());
      return true;
    case tune::JobHoldOutcome::kJoined:
      if (!ctx.json)
        std::printf("tuning: %s already applied; job %s joins (%zu job(s) hold it)\n",
                    profile.c_str(), job.c_str(), r->hold.jobs.size());
      return true;
    case tune::JobHoldOutcome::kUnknownProfile:
      // A typo in a job's comment must not drain the node: the job runs untuned.
      warn(ctx, "aion prolog: job " + job + " asks for tuning profile '" + profile +
                    "': " + r->unknown_profile + "; running untuned");
      return true;
    case tune::JobHoldOutcome::kConflict:
      warn(ctx, "aion prolog: job " + job + " asks for tuning profile " + profile + ", but " +
                    r->hold.profile + " is applied for job(s) " + joined(r->hold.jobs) +
                    "; running with " + r->hold.profile);
      return true;
    case tune::JobHoldOutcome::kFailed:
      std::fprintf(stderr, "aion prolog: applying %s for job %s failed and was rolled back: %s\n",
                   profile.c_str(), job.c_str(), r->report ? r->report->failure.c_str() : "");
      ctx.exit_code = kExitFailure;
      return false;
  }
  return false;
}

// The epilog gives the job's hold back; false when the node should not run jobs (a rollback
// that did not hold, no root), with ctx.exit_code set.
bool release_job_tuning(Context& ctx, const SlurmArgs& a, const std::string& job) {
  auto site = tuning_site(ctx, a);
  if (!site) return false;
  auto r = tune::release_job_tuning(*site, job, "job " + job + " ended (slurm epilog)");
  if (!r) {
    Error e = r.error();
    report(ctx, e.context("epilog"));
    return false;
  }
  if (!r->held) return true;
  if (!r->last) {
    if (!ctx.json)
      std::printf("tuning: %s stays applied for %zu other job(s)\n", r->hold.profile.c_str(),
                  r->hold.jobs.size() - 1);
    return true;
  }
  if (r->rollback && !r->rollback->ok) {
    for (const auto& e : r->rollback->entries) {
      if (!e.ok)
        std::fprintf(stderr, "aion epilog: rollback of %s: %s: %s\n", r->hold.profile.c_str(),
                     e.path.c_str(), e.message.c_str());
    }
    std::fprintf(stderr, "aion epilog: retry with `aion tune rollback %s`\n",
                 r->hold.snapshot_id.c_str());
    ctx.exit_code = kExitFailure;
    return false;
  }
  if (!ctx.json)
    std::printf("tuning: %s rolled back after job %s\n", r->hold.profile.c_str(), job.c_str());
  return true;
}

// Prolog/epilog: the job's GPUs and the node must be healthy. A non-zero exit makes Slurm
// drain the node (and requeue the job, for a prolog), so aion does not call scontrol here.
void run_job_check(Context& ctx, SlurmArgs& a, const char* what) {
  if (a.node.empty()) a.node = short_hostname();
  std::string gpus_text;
  for (const char* var : {"SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"}) {
    if (const char* v = std::getenv(var); v && *v) {
      gpus_text = v;
      break;
    }
  }
  auto gpus = cluster::parse_job_gpus(gpus_text);
  if (!gpus) {
    report(ctx, gpus.error());
    return;
  }
  auto m = load_slurm_machine(ctx);
  if (!m) return;
  std::vector<std::string> notes;
  auto faults = gather_faults(ctx, a, *m, notes);
  if (!faults) return;
  std::vector<cluster::Fault> relevant;
  for (const auto& f : *faults) {
    if (f.gpu < 0 || std::find(gpus->begin(), gpus->end(), f.gpu) != gpus->end())
      relevant.push_back(f);
  }
  for (int g : *gpus) {
    auto it = std::find_if(m->inventory.accelerators.begin(), m->inventory.accelerators.end(),
                           [&](const hw::Accelerator& x) { return x.index == g; });
    if (it == m->inventory.accelerators.end())
      relevant.push_back({"local", "the job's GPU " + std::to_string(g) + " was not found", g});
  }
  if (ctx.json) {
    Json f = Json::array();
    for (const auto& x : relevant)
      f.push_back({{"source", x.source}, {"message", x.message}, {"gpu", x.gpu}});
    std::printf("%s\n",
                Json{{"check", what}, {"gpus", *gpus}, {"faults", f}, {"ok", relevant.empty()}}
                    .dump(2)
                    .c_str());
  }
  if (!relevant.empty()) {
    // Slurm shows the prolog's stderr in slurmd's log; one line per fault.
    for (const auto& x : relevant) std::fprintf(stderr, "aion %s: %s\n", what, x.message.c_str());
    ctx.exit_code = kExitFailure;
    return;
  }
  // A healthy node: the job's tuning, held from prolog to epilog.
  const char* job = std::getenv("SLURM_JOB_ID");
  if (std::string_view(what) == "prolog") {
    const char* comment = std::getenv("SLURM_JOB_COMMENT");
    const bool from_user = a.tune.empty();
    const std::string profile = from_user ? profile_in_comment(comment ? comment : "") : a.tune;
    if (profile.empty()) return;
    if (!job || !*job) {
      report(ctx, Error(ErrorCode::kInvalidArgument,
                        "SLURM_JOB_ID is not set: tuning is held per job, so the prolog applies "
                        "a profile only when Slurm runs it"));
      return;
    }
    hold_job_tuning(ctx, a, job, profile, from_user);
  }
}

// The epilog first gives back the job's tuning (whatever the node's health), then checks.
void run_epilog(Context& ctx, SlurmArgs& a) {
  if (const char* job = std::getenv("SLURM_JOB_ID"); job && *job) {
    if (!release_job_tuning(ctx, a, job)) return;
  }
  run_job_check(ctx, a, "epilog");
}

void add_node_options(Command c, SlurmArgs& a) {
  c.option("--node", a.node, "Slurm node name (default: the short hostname)");
  c.option("--dev-dir", a.dev_dir,
           "Directory holding the GPU device nodes, for File= (default: /dev)");
}

void add_check_options(Command c, SlurmArgs& a) {
  add_node_options(c, a);
  c.option("--gres-conf", a.gres_conf,
           "gres.conf to check the node against (default: the one beside $SLURM_CONF or "
           "/etc/slurm/slurm.conf, when it exists)");
  c.option("--state-dir", a.state_dir,
           "aiond's state directory, for the health/unhealthy marker (default: the "
           "config's daemon.state_dir)");
  c.flag("--no-daemon", a.no_daemon, "Do not ask aiond for its GPU events");
}

}  // namespace

void add_slurm_commands(Command& app, Context& ctx) {
  auto args = std::make_shared<SlurmArgs>();
  Command slurm = app.add("slurm", "Slurm integration: gres.conf, NodeName, health check");
  slurm.require_subcommand();

  Command gres =
      slurm.add("gres", "Print gres.conf lines for this node's GPUs from the discovered topology");
  add_node_options(gres, *args);
  gres.flag("--no-check", args->no_check, "Do not require the device nodes to exist");
  gres.action([&ctx, args] {
    if (args->node.empty()) args->node = short_hostname();
    auto m = load_slurm_machine(ctx);
    if (!m) return;
    auto d = devices(ctx, *m, gres_options(*args, *m));
    if (!d) return;
    if (ctx.json) {
      Json list = Json::array();
      for (const auto& x : *d) list.push_back(device_json(x));
      std::printf("%s\n", Json{{"node", args->node}, {"gres", list}}.dump(2).c_str());
    } else {
      std::printf("%s", cluster::format_gres_conf(*d, args->node).c_str());
    }
  });

  Command node =
      slurm.add("node", "Print the slurm.conf NodeName line for this node (CPUs, memory, Gres)");
  add_node_options(node, *args);
  node.action([&ctx, args] {
    if (args->node.empty()) args->node = short_hostname();
    auto m = load_slurm_machine(ctx);
    if (!m) return;
    cluster::GresOptions o = gres_options(*args, *m);
    o.check_devices = false;
    auto d = devices(ctx, *m, o);
    if (!d) return;
    const std::string line = cluster::format_node_line(m->inventory, *d, args->node);
    if (ctx.json) {
      std::string trimmed = line.substr(0, line.size() - 1);
      std::printf("%s\n", Json{{"node", args->node}, {"line", trimmed}}.dump(2).c_str());
    } else {
      std::printf("%s", line.c_str());
    }
  });

  Command health = slurm.add(
      "healthcheck",
      "Slurm HealthCheckProgram: drain the node on a GPU/node fault, resume it when cleared "
      "(only if aion drained it). Exit 1 while a fault is present");
  add_check_options(health, *args);
  health.option("--scontrol", args->scontrol, "scontrol program (default: scontrol on PATH)");
  health.flag("--dry-run", args->dry_run, "Decide and print, but do not run scontrol update");
  health.action([&ctx, args] { run_healthcheck(ctx, *args); });

  Command prolog = slurm.add(
      "prolog",
      "Slurm Prolog: check the job's GPUs (SLURM_JOB_GPUS or CUDA_VISIBLE_DEVICES) and the "
      "node, exit 1 on a fault (Slurm then drains the node and requeues the job); on a healthy "
      "node apply the job's tuning profile (--tune, or `aion-tune=NAME` in the job's --comment) "
      "until its epilog");
  add_check_options(prolog, *args);
  prolog.option("--tune", args->tune,
                "Tuning profile for every job on this node (default: the one the job's "
                "comment names, if any)");
  prolog.action([&ctx, args] { run_job_check(ctx, *args, "prolog"); });
  Command epilog = slurm.add(
      "epilog",
      "Slurm Epilog: roll back the job's tuning when no other job holds it, then check the "
      "job's GPUs and the node; exit 1 on a fault or a rollback that did not hold (Slurm "
      "then drains the node)");
  add_check_options(epilog, *args);
  epilog.action([&ctx, args] { run_epilog(ctx, *args); });
}

}  // namespace aion::cli
