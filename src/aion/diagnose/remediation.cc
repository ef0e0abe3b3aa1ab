#include "aion/diagnose/remediation.h"
#include "aion/core/strings.h"

#include <unistd.h>
#include "aion/core/data_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "aion/core/clock.h"
#include "aion/core/host_fs.h"
#include "aion/core/process.h"

namespace aion::diagnose {
namespace {

const std::set<std::string, std::less<>> kActions = {"drain_gpu", "reset_gpu", "restart_service",
                                                     "requeue_jobs", "mark_unhealthy"};

std::vector<std::string> expand(const std::vector<std::string>& tmpl,
                                const std::map<std::string, std::string>& vars) {
  std::vector<std::string> out;
  for (const auto& a : tmpl) out.push_back(fill_placeholders(a, vars));
  return out;
}

// The program a command names, looked up in the PATH of the commands' environment (when the
// hooks set one) rather than aiond's own.
std::vector<std::string> resolve(std::vector<std::string> argv,
                                 const std::map<std::string, std::string>& env) {
  auto path = env.find("PATH");
  if (argv.empty() || argv[0].find('/') != std::string::npos || path == env.end()) return argv;
  std::string_view dirs = path->second;
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    std::filesystem::path candidate =
        std::filesystem::path(std::string(dirs.substr(0, colon))) / argv[0];
    if (::access(candidate.c_str(), X_OK) == 0) {
      argv[0] = candidate.string();
      break;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return argv;
}

// Runs one step of an approved plan: its command, or the scheduler or health-file action.
StepResult run_step(const RemediationHooks& hooks, const PlannedStep& s, const Incident& inc) {
  StepResult r{s, "ok", ""};
  if (!s.argv.empty()) {
    auto res = run_process({.argv = resolve(s.argv, hooks.env),
                            .env_set = hooks.env,
                            .timeout = hooks.command_timeout});
    if (!res) {
      r.outcome = "failed";
      r.detail = res.error().message();
    } else if (!res->ok()) {
      r.outcome = "failed";
      r.detail = res->describe() + (res->err.empty() ? "" : ": " + res->err.substr(0, 400));
    } else {
      r.detail = res->out.substr(0, 400);
    }
  } else if (s.action == "drain_gpu") {
    int gpu = std::atoi(s.target.c_str() + 4);
    Status st = hooks.drain_gpu
                    ? hooks.drain_gpu(gpu, "incident " + std::to_string(inc.id) + ": " + inc.title)
                    : fail(ErrorCode::kUnavailable, "no scheduler to drain GPUs in");
    if (!st) {
      r.outcome = "failed";
      r.detail = st.error().message();
    } else {
      r.detail = "GPU " + std::to_string(gpu) + " drained";
    }
  } else if (s.action == "requeue_jobs" && s.target.empty()) {
    r.detail = "no job to requeue";
  } else if (s.action == "requeue_jobs") {
    std::int64_t job = std::atoll(s.target.c_str() + 4);
    auto id = hooks.requeue_job ? hooks.requeue_job(job)
                                : Result<std::int64_t>(fail(ErrorCode::kUnavailable,
                                                            "no scheduler to requeue jobs in"));
    if (!id) {
      r.outcome = "failed";
      r.detail = id.error().message();
    } else {
      r.detail = "job " + std::to_string(job) + " requeued as job " + std::to_string(*id);
    }
  } else if (s.action == "mark_unhealthy") {
    // Whole or not at all (temp file, fsync, rename): a health check running meanwhile
    // must never read an empty or half-written reason.
    const auto marker = (hooks.health_dir / "unhealthy").string();
    auto st =
        HostFs("/").write_atomic(marker,
                                 "incident " + std::to_string(inc.id) + ": " + inc.title +
                                     "\nsince " + format_rfc3339(Clock::system().wall()) + "\n",
                                 0644);
    if (!st) {
      r.outcome = "failed";
      r.detail = "cannot write " + marker + ": " + st.error().message();
    } else {
      r.detail = "wrote " + (hooks.health_dir / "unhealthy").string();
    }
  }
  return r;
}

}  // namespace

Result<Playbook> parse_playbook(std::string_view text, const std::string& file) {
  auto data = DataFile::parse(text, file);
  if (!data) return std::unexpected(data.error());
  const toml::table& root = data->root();
  auto version = root["schema_version"].value<std::int64_t>();
  if (!version || *version != kPlaybookSchemaVersion) {
    return fail(ErrorCode::kCorrupt,
                file + ": schema_version must be " + std::to_string(kPlaybookSchemaVersion));
  }
  Playbook p;
  p.file = file;
  p.id = root["id"].value_or(std::string());
  p.title = root["title"].value_or(std::string());
  p.description = root["description"].value_or(std::string());
  if (p.id.empty() || p.title.empty()) {
    return fail(ErrorCode::kCorrupt, file + ": 'id' and 'title' are required");
  }
  const toml::array* steps = root["step"].as_array();
  if (!steps || steps->empty()) return fail(ErrorCode::kCorrupt, file + ": no [[step]]");
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const toml::table* t = (*steps)[i].as_table();
    std::string where = file + ": step " + std::to_string(i + 1);
    if (!t) return fail(ErrorCode::kCorrupt, where + ": must be a table");
    PlaybookStep s;
    s.action = (*t)["action"].value_or(std::string());
    if (!kActions.contains(s.action)) {
      return fail(ErrorCode::kCorrupt,
                  where + ": action '" + s.action +
                      "' is not one of drain_gpu, reset_gpu, restart_service, requeue_jobs, "
                      "mark_unhealthy");
    }
    if (const toml::array* c = (*t)["command"].as_array()) {
      for (const auto& a : *c) {
        auto v = a.value<std::string>();
        if (!v || v->empty())
          return fail(ErrorCode::kCorrupt, where + ": command holds non-strings");
        s.command.push_back(*v);
      }
    }
    s.service = (*t)["service"].value_or(std::string());
    bool needs_command = s.action == "reset_gpu" || s.action == "restart_service";
    if (needs_command && s.command.empty()) {
      return fail(ErrorCode::kCorrupt, where + ": " + s.action + " needs a 'command'");
    }
    if (s.action == "restart_service" && s.service.empty()) {
      return fail(ErrorCode::kCorrupt, where + ": restart_service needs a 'service'");
    }
    p.steps.push_back(std::move(s));
  }
  return p;
}

Result<std::vector<Playbook>> load_playbooks(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(ErrorCode::kNotFound, "playbook directory " + dir.string() + " does not exist");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Playbook> out;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = parse_playbook(ss.str(), f.string());
    if (!p) return std::unexpected(p.error());
    for (const auto& q : out) {
      if (q.id == p->id) {
        return fail(ErrorCode::kCorrupt,
                    f.string() + ": playbook " + p->id + " is already defined in " + q.file);
      }
    }
    out.push_back(std::move(*p));
  }
  return out;
}

Remediator::Remediator(std::vector<Playbook> playbooks, std::set<std::string> automatic,
                       IncidentStore* audit, RemediationHooks hooks)
    : playbooks_(std::move(playbooks)),
      automatic_(std::move(automatic)),
      audit_(audit),
      hooks_(std::move(hooks)) {}

Result<Plan> Remediator::plan(const Incident& inc, const std::string& playbook) const {
  std::string id = playbook;
  if (id.empty()) {
    for (const auto& h : inc.hypotheses) {
      if (!h.playbook.empty()) {
        id = h.playbook;
        break;
      }
    }
  }
  if (id.empty()) {
    return fail(ErrorCode::kNotFound, "incident " + std::to_string(inc.id) +
                                          " has no hypothesis with a playbook; name one with "
                                          "--playbook");
  }
  auto pb = std::find_if(playbooks_.begin(), playbooks_.end(),
                         [&](const Playbook& p) { return p.id == id; });
  if (pb == playbooks_.end()) {
    std::string known;
    for (const auto& p : playbooks_) known += (known.empty() ? "" : ", ") + p.id;
    return fail(ErrorCode::kNotFound, "no playbook '" + id + "' (known: " + known + ")");
  }
  Plan plan;
  plan.incident_id = inc.id;
  plan.playbook = pb->id;
  plan.title = pb->title;
  plan.automatic = automatic_.contains(pb->id);
  auto gpus = device_values(inc, "gpu");
  auto pcis = device_values(inc, "pci");
  int n = 0;
  for (const auto& s : pb->steps) {
    auto add = [&](PlannedStep p) {
      p.number = ++n;
      p.action = s.action;
      plan.steps.push_back(std::move(p));
    };
    if (s.action == "drain_gpu" || s.action == "reset_gpu") {
      if (gpus.empty()) {
        add({.description =
                 s.action == "drain_gpu" ? "drain the incident's GPU" : "reset the incident's GPU",
             .problem = "the incident names no GPU index (only: " + join(inc.devices, " ") + ")"});
      }
      for (std::size_t k = 0; k < gpus.size(); ++k) {
        std::string pci = k < pcis.size() ? pcis[k] : "";
        if (s.action == "drain_gpu") {
          add({.description = "drain GPU " + gpus[k] + (pci.empty() ? "" : " (" + pci + ")") +
                              " from aion's scheduler: no new job is placed on it",
               .target = "gpu:" + gpus[k]});
        } else {
          auto argv = expand(s.command, {{"gpu", gpus[k]}, {"pci", pci}});
          add({.description = "reset GPU " + gpus[k] + ": " + join(argv, " "),
               .argv = argv,
               .target = "gpu:" + gpus[k]});
        }
      }
    } else if (s.action == "restart_service") {
      auto argv = expand(s.command, {{"service", s.service}});
      add({.description = "restart " + s.service + ": " + join(argv, " "),
           .argv = argv,
           .target = "service:" + s.service});
    } else if (s.action == "requeue_jobs") {
      if (inc.jobs.empty()) {
        add({.description = "requeue the incident's jobs: none is linked to it, nothing to do"});
      }
      for (auto j : inc.jobs) {
        add({.description =
                 "requeue job " + std::to_string(j) + " (submit its command again as a new job)",
             .target = "job:" + std::to_string(j)});
      }
    } else if (s.action == "mark_unhealthy") {
      add({.description = "mark the node unhealthy for Slurm/Kubernetes: write " +
                          (hooks_.health_dir / "unhealthy").string(),
           .target = "node"});
    }
  }
  return plan;
}

Result<RemediateOutcome> Remediator::remediate(const Incident& inc, const RemediateRequest& req) {
  auto p = plan(inc, req.playbook);
  if (!p) return std::unexpected(p.error());
  RemediateOutcome out;
  out.plan = std::move(*p);
  if (req.dry_run) return out;
  auto record = [&](AuditRecord a) {
    a.incident_id = inc.id;
    a.playbook = out.plan.playbook;
    a.caller = req.caller;
    if (!audit_) return;
    if (auto r = audit_->audit(std::move(a)); !r) {
      spdlog::error("event=audit_failed incident={} error=\"{}\"", inc.id, r.error().message());
    }
  };
  if (!req.privileged) {
    record(
        {.action = "refuse", .outcome = "refused", .detail = "caller is not an operator or admin"});
    return fail(ErrorCode::kPermissionDenied,
                "running a playbook needs the operator or admin role; " + req.caller +
                    " may only ask for a dry run");
  }
  if (!req.approve && !out.plan.automatic) {
    record({.action = "refuse", .outcome = "refused", .detail = "no explicit approval"});
    return fail(ErrorCode::kPermissionDenied,
                "playbook " + out.plan.playbook +
                    " needs an explicit approval (--approve), or list it in "
                    "diagnose.automatic_playbooks");
  }
  for (const auto& s : out.plan.steps) {
    if (!s.problem.empty()) {
      record({.action = "refuse",
              .outcome = "refused",
              .detail = "step " + std::to_string(s.number) + ": " + s.problem});
      return fail(ErrorCode::kConflict, "step " + std::to_string(s.number) + " (" + s.action +
                                            ") cannot run: " + s.problem);
    }
  }
  const std::string approved_by =
      req.approve ? req.caller : "automatic (diagnose.automatic_playbooks)";
  record(
      {.action = "approve", .approved_by = approved_by, .outcome = "ok", .detail = out.plan.title});
  out.executed = true;
  bool failed = false;
  for (const auto& s : out.plan.steps) {
    StepResult r{s, "skipped", "an earlier step failed"};
    if (!failed) r = run_step(hooks_, s, inc);
    failed = failed || r.outcome == "failed";
    spdlog::warn(
        "event=remediation_step incident={} playbook={} step={} action={} outcome={} "
        "approved_by=\"{}\"",
        inc.id, out.plan.playbook, s.number, s.action, r.outcome, approved_by);
    record({.step = s.number,
            .action = s.action,
            .command = join(s.argv, " "),
            .approved_by = approved_by,
            .outcome = r.outcome,
            .detail = r.detail.empty() ? s.description : r.detail});
    out.steps.push_back(std::move(r));
  }
  return out;
}

}  // namespace aion::diagnose
