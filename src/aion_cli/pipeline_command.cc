// aion pipeline run / ls / show / logs / cancel / retry, and aion artifact ls / show /
// lineage: multi-stage model workflows run by aiond (aion/pipeline), and what they made.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aion/api/http.h"
#include "aion/core/clock.h"
#include "aion/core/json.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

std::string when(long long ms) {
  if (ms <= 0) return "-";
  return format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

std::optional<Json> get_json(Context& ctx, api::Client& c, const std::string& method,
                             const std::string& target, const std::string& body = {}) {
  auto text = call(ctx, c, method, target, body);
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    report(ctx, Error(ErrorCode::kParse, "aiond sent invalid JSON"));
    return std::nullopt;
  }
  return j;
}

// "3/4 succeeded, 1 running"
std::string stage_summary(const Json& stages) {
  std::map<std::string, int> n;
  for (const auto& s : stages) ++n[s.value("state", "?")];
  std::string out;
  for (const auto& [state, count] : n) {
    out += (out.empty() ? "" : ", ") + std::to_string(count) + " " + state;
  }
  return out.empty() ? "-" : out;
}

void print_run(const Json& j) {
  const Json& run = j["run"];
  std::printf("run %lld  %s  %s  (user %s, started %s)\n", run.value("id", 0LL),
              run.value("name", "").c_str(), run.value("state", "").c_str(),
              run.value("user", "").c_str(), when(run.value("created_ms", 0LL)).c_str());
  if (auto m = run.value("message", ""); !m.empty()) std::printf("  %s\n", m.c_str());
  Table t({"STAGE", "STATE", "ATTEMPT", "JOB", "MESSAGE"});
  for (const auto& s : j.value("stages", Json::array())) {
    const long long job = s.value("job_id", 0LL);
    t.add({s.value("stage", ""), s.value("state", ""), std::to_string(s.value("attempt", 0)),
           job > 0 ? std::to_string(job) : "-", s.value("message", "")});
  }
  t.print();
  const Json arts = j.value("artifacts", Json::array());
  if (!arts.empty()) {
    std::printf("\nartifacts\n");
    Table a({"PATH", "STAGE", "SIZE", "XXH3"});
    for (const auto& x : arts) {
      a.add({x.value("path", ""), x.value("stage", ""), std::to_string(x.value("size", 0ULL)),
             x.value("xxh3", "").substr(0, 16)});
    }
    a.print();
  }
}

bool run_finished(const Json& j) {
  const std::string s = j["run"].value("state", "");
  return s == "succeeded" || s == "failed" || s == "cancelled";
}

struct RunArgs {
  std::string file;
  std::string user;
  bool force = false;
  bool watch = false;
};

// Follows a run, printing each stage's state as it changes, until the run ends.
void watch_run(Context& ctx, api::Client& c, long long id) {
  std::map<std::string, std::string> seen;
  const std::string target = "/v1/pipelines/" + std::to_string(id);
  while (true) {
    auto j = get_json(ctx, c, "GET", target);
    if (!j) return;
    for (const auto& s : (*j)["stages"]) {
      std::string line =
          s.value("state", "") + " (attempt " + std::to_string(s.value("attempt", 0)) + ")";
      if (auto m = s.value("message", ""); !m.empty()) line += ": " + m;
      auto& last = seen[s.value("stage", "")];
      if (last != line && !ctx.json) {
        std::printf("%s  %-12s %s\n", format_rfc3339(Clock::system().wall()).c_str(),
                    s.value("stage", "").c_str(), line.c_str());
        std::fflush(stdout);
      }
      last = line;
    }
    if (run_finished(*j)) {
      if (ctx.json)
        std::printf("%s\n", j->dump(2).c_str());
      else
        std::printf("run %lld %s\n", id, (*j)["run"].value("state", "").c_str());
      if ((*j)["run"].value("state", "") != "succeeded") ctx.exit_code = 1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void cmd_run(Context& ctx, const RunArgs& a) {
  std::ifstream in(a.file);
  if (!in) return report(ctx, Error(ErrorCode::kNotFound, "cannot read " + a.file));
  std::stringstream text;
  text << in.rdbuf();
  std::error_code ec;
  auto dir = std::filesystem::absolute(a.file, ec).parent_path();
  Json body{{"pipeline", text.str()}, {"dir", dir.string()}, {"force", a.force}};
  if (!a.user.empty()) body["user"] = a.user;
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "POST", "/v1/pipelines", body.dump());
  if (!j) return;
  const long long id = (*j)["run"].value("id", 0LL);
  if (a.watch) return watch_run(ctx, *c, id);
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  std::printf(
      "pipeline %s: run %lld started with %zu stages; follow it with `aion pipeline show %lld` "
      "(or run with --watch)\n",
      (*j)["run"].value("name", "").c_str(), id, (*j)["stages"].size(), id);
}

void cmd_ls(Context& ctx) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "GET", "/v1/pipelines");
  if (!j) return;
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  Table t({"RUN", "PIPELINE", "STATE", "STAGES", "USER", "STARTED"});
  for (const auto& run : (*j)["runs"]) {
    t.add({std::to_string(run.value("id", 0LL)), run.value("name", ""), run.value("state", ""),
           stage_summary(run.value("stages", Json::array())), run.value("user", ""),
           when(run.value("created_ms", 0LL))});
  }
  if (t.empty())
    return (void)std::printf("no pipeline runs; start one with `aion pipeline run FILE`\n");
  t.print();
}

void cmd_show(Context& ctx, long long id, bool watch) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  if (watch) return watch_run(ctx, *c, id);
  auto j = get_json(ctx, *c, "GET", "/v1/pipelines/" + std::to_string(id));
  if (!j) return;
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  print_run(*j);
}

void cmd_logs(Context& ctx, long long id, const std::string& stage) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "GET", "/v1/pipelines/" + std::to_string(id));
  if (!j) return;
  bool any = false;
  for (const auto& s : (*j)["stages"]) {
    if (!stage.empty() && s.value("stage", "") != stage) continue;
    any = true;
    const long long job = s.value("job_id", 0LL);
    std::printf("==> stage %s (%s, job %s)\n", s.value("stage", "").c_str(),
                s.value("state", "").c_str(), job > 0 ? std::to_string(job).c_str() : "none");
    if (job <= 0) continue;
    auto out = get_json(ctx, *c, "GET", "/v1/jobs/" + std::to_string(job) + "/logs?max=1048576");
    if (!out) return;
    std::fputs((*out).value("data", "").c_str(), stdout);
  }
  if (!any)
    report(ctx, Error(ErrorCode::kNotFound,
                      "run " + std::to_string(id) + " has no stage '" + stage + "'"));
}

void cmd_cancel(Context& ctx, long long id) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "POST", "/v1/pipelines/" + std::to_string(id) + "/cancel", "{}");
  if (!j) return;
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  print_run(*j);
}

void cmd_retry(Context& ctx, long long id, const std::string& stage, bool watch) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "POST", "/v1/pipelines/" + std::to_string(id) + "/retry",
                    Json{{"stage", stage}}.dump());
  if (!j) return;
  if (watch) return watch_run(ctx, *c, id);
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  print_run(*j);
}

void cmd_artifacts(Context& ctx, long long run) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  std::string target = "/v1/artifacts";
  if (run > 0) target += "?run=" + std::to_string(run);
  auto j = get_json(ctx, *c, "GET", target);
  if (!j) return;
  if (ctx.json) return (void)std::printf("%s\n", j->dump(2).c_str());
  Table t({"PATH", "RUN", "STAGE", "KIND", "SIZE", "XXH3", "MADE"});
  for (const auto& a : (*j)["artifacts"]) {
    t.add({a.value("path", ""), std::to_string(a.value("run_id", 0LL)), a.value("stage", ""),
           a.value("kind", ""), std::to_string(a.value("size", 0ULL)),
           a.value("xxh3", "").substr(0, 16), when(a.value("created_ms", 0LL))});
  }
  if (t.empty()) return (void)std::printf("no artifacts recorded yet\n");
  t.print();
}

std::string absolute_text(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// An artifact, what made it, and each input: a dataset, a plain input, or an artifact of an
// earlier stage, whose own lineage follows indented.
void print_lineage(const Json& node, int depth) {
  const std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
  const Json& a = node["artifact"];
  std::printf("%s%s  (run %lld, stage %s, xxh3 %s)\n", pad.c_str(), a.value("path", "").c_str(),
              a.value("run_id", 0LL), a.value("stage", "").c_str(),
              a.value("xxh3", "").substr(0, 16).c_str());
  if (a.contains("command")) {
    std::printf("%s  made by: %s\n", pad.c_str(), a["command"].dump().c_str());
  }
  for (const auto& in : node.value("inputs", Json::array())) {
    if (in.contains("lineage")) {
      print_lineage(in["lineage"], depth + 1);
    } else if (in.contains("dataset")) {
      std::printf("%s  dataset %s@%s (manifest %s)\n", pad.c_str(), in.value("dataset", "").c_str(),
                  in.value("version", "").c_str(),
                  in.value("manifest_id", "").substr(0, 16).c_str());
    } else {
      std::printf("%s  input %s (xxh3 %s)%s\n", pad.c_str(), in.value("path", "").c_str(),
                  in.value("xxh3", "").substr(0, 16).c_str(),
                  in.value("cycle", false) ? " (rewritten in place: see above)" : "");
    }
  }
}

void cmd_lineage(Context& ctx, const std::string& path, bool show_only) {
  auto c = connect_daemon(ctx);
  if (!c) return;
  auto j = get_json(ctx, *c, "GET",
                    "/v1/artifacts/lineage?path=" + api::url_encode(absolute_text(path)));
  if (!j) return;
  if (ctx.json) {
    return (void)std::printf("%s\n", (show_only ? (*j)["artifact"] : *j).dump(2).c_str());
  }
  if (show_only) {
    for (const auto& [k, v] : (*j)["artifact"].items()) {
      std::printf("%-12s %s\n", k.c_str(),
                  v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
    return;
  }
  print_lineage(*j, 0);
}

}  // namespace

void add_pipeline_commands(Command& app, Context& ctx) {
  Command p = app.add("pipeline",
                      "Multi-stage model workflows (prepare, train, evaluate, deploy) run by aiond "
                      "as resumable jobs, with retries, checkpoints and tracked artifacts");
  p.require_subcommand();
  auto ra = std::make_shared<RunArgs>();
  Command run = p.add("run",
                      "Check a pipeline file against this node and run it; unchanged stages are "
                      "skipped (--force reruns them)");
  run.option("FILE", ra->file, "The pipeline file (TOML)").required();
  run.option("--user", ra->user, "Run as this user (root, or a token's run-as user)");
  run.flag("--force", ra->force, "Run every stage even when its inputs and command are unchanged");
  run.flag("--watch", ra->watch, "Follow the run, a line per stage change, until it ends");
  run.action([&ctx, ra] { cmd_run(ctx, *ra); });
  p.add("ls", "Pipeline runs, newest first, with their stages' states").action([&ctx] {
    cmd_ls(ctx);
  });
  auto id = std::make_shared<long long>(0);
  auto watch = std::make_shared<bool>(false);
  Command show =
      p.add("show", "One run: each stage's state, attempt, job and message, and artifacts");
  show.option("RUN", *id, "Run id").required().positive();
  show.flag("--watch", *watch, "Follow the run until it ends");
  show.action([&ctx, id, watch] { cmd_show(ctx, *id, *watch); });
  auto stage = std::make_shared<std::string>();
  Command logs = p.add("logs", "The output of a run's stages (or one stage)");
  logs.option("RUN", *id, "Run id").required().positive();
  logs.option("STAGE", *stage, "Only this stage");
  logs.action([&ctx, id, stage] { cmd_logs(ctx, *id, *stage); });
  Command cancel = p.add("cancel", "Cancel a run: its running stages stop, the rest will not run");
  cancel.option("RUN", *id, "Run id").required().positive();
  cancel.action([&ctx, id] { cmd_cancel(ctx, *id); });
  Command retry =
      p.add("retry", "Run a failed or cancelled run's stage again, and every stage after it");
  retry.option("RUN", *id, "Run id").required().positive();
  retry.option("STAGE", *stage, "The stage to run again").required();
  retry.flag("--watch", *watch, "Follow the run until it ends");
  retry.action([&ctx, id, stage, watch] { cmd_retry(ctx, *id, *stage, *watch); });

  Command a = app.add("artifact", "What pipelines made: outputs with checksums and their lineage");
  a.require_subcommand();
  auto art_run = std::make_shared<long long>(0);
  Command als = a.add("ls", "Recorded artifacts, newest first");
  als.option("--run", *art_run, "Only those of this run");
  als.action([&ctx, art_run] { cmd_artifacts(ctx, *art_run); });
  auto path = std::make_shared<std::string>();
  Command ashow =
      a.add("show", "The newest record of an artifact: size, checksum, stage, command, inputs");
  ashow.option("PATH", *path, "The artifact's path").required();
  ashow.action([&ctx, path] { cmd_lineage(ctx, *path, true); });
  Command alin =
      a.add("lineage", "How an artifact was made: the stage, command and inputs, and theirs");
  alin.option("PATH", *path, "The artifact's path").required();
  alin.action([&ctx, path] { cmd_lineage(ctx, *path, false); });
}

}  // namespace aion::cli
