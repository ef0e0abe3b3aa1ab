#include "aion/api/pipeline_routes.h"

#include <pwd.h>
#include <sys/stat.h>

#include <charconv>

#include "aion/api/job_routes.h"
#include "aion/api/json_reply.h"
#include "aion/api/params.h"
#include "aion/api/visibility.h"
#include "aion/core/fs_identity.h"
#include "aion/core/json.h"
#include "aion/pipeline/dataset_catalog.h"
#include "aion/pipeline/pipeline_spec.h"

namespace aion::api {

Result<std::int64_t> SchedLauncher::submit(const sched::JobSpec& spec) {
  auto job = jobs_.submit(spec);
  if (!job) return std::unexpected(job.error());
  return job->id;
}

Result<pipeline::JobStatus> SchedLauncher::status(std::int64_t job_id) {
  using pipeline::JobPhase;
  auto job = jobs_.get(job_id);
  if (!job) {
    if (job.error().code() == ErrorCode::kNotFound) return pipeline::JobStatus{};
    return std::unexpected(job.error());
  }
  pipeline::JobStatus s;
  s.exit_code = job->exit_code;
  s.reason = job->reason;
  switch (job->state) {
    case sched::JobState::kPending: s.phase = JobPhase::kPending; break;
    case sched::JobState::kRunning: s.phase = JobPhase::kRunning; break;
    case sched::JobState::kCompleted: s.phase = JobPhase::kSucceeded; break;
    case sched::JobState::kCancelled: s.phase = JobPhase::kCancelled; break;
    default: s.phase = JobPhase::kFailed; break;  // failed, preempted, lost
  }
  return s;
}

Status SchedLauncher::cancel(std::int64_t job_id) {
  auto job = jobs_.cancel(job_id, 0, true);
  if (!job && job.error().code() != ErrorCode::kNotFound &&
      job.error().code() != ErrorCode::kConflict) {
    return std::unexpected(job.error());
  }
  return {};
}

Result<std::optional<std::int64_t>> SchedLauncher::find(const std::string& job_name) {
  auto all = jobs_.list({});
  if (!all) return std::unexpected(all.error());
  std::optional<std::int64_t> found;
  for (const auto& j : *all) {
    if (j.spec.name == job_name) found = j.id;
  }
  return found;
}

pipeline::DatasetResolver catalog_datasets(std::filesystem::path daemon_state_dir) {
  return [dir = std::move(daemon_state_dir)](
             std::uint32_t owner, const std::string& name,
             const std::string& version) -> Result<pipeline::DatasetInput> {
    std::filesystem::path file;
    if (owner == 0) {
      file = pipeline::DatasetCatalog::default_file(dir);
    } else {
      struct passwd pw {};
      struct passwd* found = nullptr;
      char buf[4096];
      if (::getpwuid_r(owner, &pw, buf, sizeof buf, &found) != 0 || !found) {
        return fail(ErrorCode::kNotFound, "uid " + std::to_string(owner) + " has no account");
      }
      file = std::filesystem::path(pw.pw_dir) / ".local/state/aion/datasets.db";
    }
    // Only the owner's own catalog, never a link to another one: aiond reads it as root.
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != owner) {
      return fail(ErrorCode::kNotFound, "no dataset catalog of the pipeline's owner at " +
                                            file.string() + " (run `aion data add` as that user)");
    }
    auto cat = pipeline::DatasetCatalog::open_read_only(file);
    if (!cat) return std::unexpected(cat.error());
    pipeline::VersionRef ref{name, std::nullopt};
    if (!version.empty()) {
      int v = 0;
      auto [p, ec] = std::from_chars(version.data(), version.data() + version.size(), v);
      if (ec != std::errc() || p != version.data() + version.size() || v <= 0) {
        return fail(ErrorCode::kInvalidArgument,
                    "dataset version '" + version + "' of '" + name + "' is not a number");
      }
      ref.version = v;
    }
    auto info = (*cat)->resolve(ref);
    if (!info) return std::unexpected(info.error());
    return pipeline::DatasetInput{info->id, info->manifest_id.hex(), info->source,
                                  std::to_string(info->version)};
  };
}

namespace {

// The owner uid of a run, from list()'s entry or get()'s {"run": ...}.
std::uint32_t run_owner(const Json& run) {
  const Json& r = run.contains("run") ? run["run"] : run;
  return r.value("owner_uid", 0u);
}

// The run when the caller may see and act on it (its owner, a token acting for the owner, an
// admin); 403 otherwise, 404 for no such run.
Result<Json> owned_run(pipeline::PipelineService& p, const Request& r) {
  auto id = positive_id_param(r, "a pipeline run");
  if (!id) return std::unexpected(id.error());
  auto run = p.get(*id);
  if (!run) return std::unexpected(run.error());
  if (!may_see_private(r.caller, run_owner(*run))) {
    return fail(
        ErrorCode::kPermissionDenied,
        "only the pipeline's owner or an admin may see or change run " + std::to_string(*id));
  }
  return run;
}

pipeline::NodeCapacity capacity(sched::JobManager& jobs) {
  const auto& m = jobs.model();
  return {static_cast<int>(m.gpus.size()), m.cpu_count, m.memory_bytes};
}

// Each stage's command must be one its owner can run, as a job submit checks it.
Status check_commands(const pipeline::PipelineSpec& spec, const sched::JobSpec& owner) {
  for (const auto& st : spec.stages) {
    sched::JobSpec probe = owner;
    probe.command = st.command;
    probe.cwd = st.cwd;
    probe.env = st.env;
    if (auto path = sched::resolve_command(probe); !path) {
      return fail(ErrorCode::kInvalidArgument,
                  "stage '" + st.name + "': field 'command': " + path.error().message());
    }
  }
  return {};
}

void add_submit_route(Router& router, pipeline::PipelineService& p, sched::JobManager& jobs,
                      const HostFs& host) {
  router.add({"POST", "/v1/pipelines", Role::kViewer,
              "Run a pipeline: {\"pipeline\": TOML text, \"dir\": where its relative paths "
              "start, \"user\", \"force\"}; refused before anything runs when invalid",
              [&p, &jobs, host](Request& r) {
                Json body = Json::parse(r.body, nullptr, false);
                if (!body.is_object() || !body.contains("pipeline") ||
                    !body["pipeline"].is_string() || !body.contains("dir") ||
                    !body["dir"].is_string()) {
                  return Response::error(
                      400, "invalid_argument",
                      "the body must be {\"pipeline\": \"<TOML>\", \"dir\": \"/abs/dir\"}");
                }
                std::filesystem::path dir = body["dir"].get<std::string>();
                if (!dir.is_absolute()) {
                  return Response::error(400, "invalid_argument", "dir must be absolute");
                }
                sched::JobSpec owner;
                const std::string user = body.contains("user") && body["user"].is_string()
                                             ? body["user"].get<std::string>()
                                             : "";
                if (auto st = resolve_job_user(r.caller, owner, user, host); !st) {
                  return Response::from_error(st.error());
                }
                auto spec = pipeline::parse_pipeline(body["pipeline"].get<std::string>(), dir);
                if (!spec) return Response::from_error(spec.error());
                // Inputs are looked for with the owner's file rights: the answer must not
                // tell whether a path the owner cannot reach exists.
                Status valid = [&] {
                  ThreadFsIdentity as_owner(owner.uid, owner.gid);
                  if (as_owner.failed()) {
                    return Status(fail(ErrorCode::kInternal,
                                       "cannot take the owner's file rights to check the inputs"));
                  }
                  return pipeline::validate(*spec, capacity(jobs));
                }();
                if (!valid) return Response::from_error(valid.error());
                if (auto st = check_commands(*spec, owner); !st) {
                  return Response::from_error(st.error());
                }
                pipeline::RunOptions opts;
                opts.force = body.contains("force") && body["force"].is_boolean() &&
                             body["force"].get<bool>();
                auto id = p.submit(std::move(*spec), {owner.uid, owner.gid, owner.user}, opts);
                if (!id) return Response::from_error(id.error());
                auto run = p.get(*id);
                if (!run) return Response::from_error(run.error());
                return json_reply(201, *run);
              }});
}

void add_run_routes(Router& router, pipeline::PipelineService& p) {
  router.add({"GET", "/v1/pipelines", Role::kViewer,
              "Pipeline runs, newest first, with their stages' states (the caller's own; "
              "admins: all)",
              [&p](Request& r) {
                auto all = p.list(std::nullopt);
                if (!all) return Response::from_error(all.error());
                Json runs = Json::array();
                for (const auto& run : *all) {
                  if (may_see_private(r.caller, run_owner(run))) runs.push_back(run);
                }
                return json_reply(200, {{"runs", runs}});
              }});

  router.add({"GET", "/v1/pipelines/{id}", Role::kViewer,
              "One run: its stages (state, attempt, job, fingerprint, message) and artifacts",
              [&p](Request& r) {
                auto run = owned_run(p, r);
                if (!run) return Response::from_error(run.error());
                return json_reply(200, *run);
              }});

  router.add({"POST", "/v1/pipelines/{id}/cancel", Role::kViewer,
              "Cancel a run: its running stages' jobs are cancelled, the rest will not run",
              [&p](Request& r) {
                auto run = owned_run(p, r);
                if (!run) return Response::from_error(run.error());
                auto id = positive_id_param(r, "a pipeline run");
                if (auto st = p.cancel(*id); !st) return Response::from_error(st.error());
                auto now = p.get(*id);
                if (!now) return Response::from_error(now.error());
                return json_reply(200, *now);
              }});

  router.add({"POST", "/v1/pipelines/{id}/retry", Role::kViewer,
              "Run a failed or cancelled run's stage again, and every stage after it: "
              "{\"stage\"}",
              [&p](Request& r) {
                auto run = owned_run(p, r);
                if (!run) return Response::from_error(run.error());
                Json body = Json::parse(r.body, nullptr, false);
                if (!body.is_object() || !body.contains("stage") || !body["stage"].is_string()) {
                  return Response::error(400, "invalid_argument",
                                         "the body must be {\"stage\": \"NAME\"}");
                }
                auto id = positive_id_param(r, "a pipeline run");
                if (auto st = p.retry(*id, body["stage"].get<std::string>()); !st) {
                  return Response::from_error(st.error());
                }
                auto now = p.get(*id);
                if (!now) return Response::from_error(now.error());
                return json_reply(200, *now);
              }});
}

void add_artifact_routes(Router& router, pipeline::PipelineService& p) {
  router.add({"GET", "/v1/artifacts", Role::kViewer,
              "Recorded artifacts (path, size, checksum, stage, run), newest first; ?run=ID",
              [&p](Request& r) {
                auto q = int_query(r, "run", 0, 1, INT64_MAX);
                if (!q) return Response::from_error(q.error());
                std::optional<std::int64_t> run;
                if (*q > 0) run = *q;
                auto list = p.artifacts(run);
                if (!list) return Response::from_error(list.error());
                // Only artifacts of runs the caller may see (admins see all).
                std::map<std::int64_t, bool> may;
                if (!is_admin(r.caller)) {
                  auto runs = p.list(std::nullopt);
                  if (!runs) return Response::from_error(runs.error());
                  for (const auto& run : *runs) {
                    may[run.value("id", std::int64_t{0})] =
                        may_see_private(r.caller, run_owner(run));
                  }
                }
                Json shown = Json::array();
                for (const auto& a : *list) {
                  if (is_admin(r.caller) || may[a.value("run_id", std::int64_t{0})]) {
                    shown.push_back(a);
                  }
                }
                return json_reply(200, {{"artifacts", shown}});
              }});

  router.add({"GET", "/v1/artifacts/lineage", Role::kViewer,
              "How ?path= was made: the stage, command and inputs that produced it, and theirs",
              [&p](Request& r) {
                std::string path = r.query_or("path", "");
                if (path.empty() || path.front() != '/') {
                  return Response::error(400, "invalid_argument", "path must be absolute");
                }
                auto lin = p.lineage(path);
                if (!lin) return Response::from_error(lin.error());
                auto got = p.get((*lin)["artifact"].value("run_id", std::int64_t{0}));
                if (!got || !may_see_private(r.caller, run_owner(*got))) {
                  return Response::error(403, "permission_denied",
                                         "only the owner of the run that made " + path +
                                             " or an admin may see its lineage");
                }
                return json_reply(200, *lin);
              }});
}

}  // namespace

void add_pipeline_routes(Router& router, pipeline::PipelineService& pipelines,
                         sched::JobManager& jobs, HostFs host) {
  add_submit_route(router, pipelines, jobs, host);
  add_run_routes(router, pipelines);
  add_artifact_routes(router, pipelines);
}

}  // namespace aion::api
