#include "aion/pipeline/pipeline_store.h"

#include <functional>
#include <set>

namespace aion::pipeline {
namespace {

constexpr store::Migration kMigrations[] = {
    {"pipeline", 1, "create pipeline runs, stage runs, artifacts, services",
     "CREATE TABLE pipeline_runs ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " name TEXT NOT NULL,"
     " spec_json TEXT NOT NULL,"
     " owner_uid INTEGER NOT NULL,"
     " owner_gid INTEGER NOT NULL,"
     " user TEXT NOT NULL DEFAULT '',"
     " state TEXT NOT NULL,"
     " message TEXT NOT NULL DEFAULT '',"
     " created_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL,"
     " force INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX pipeline_runs_name ON pipeline_runs(name);"
     "CREATE TABLE stage_runs ("
     " run_id INTEGER NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,"
     " stage TEXT NOT NULL,"
     " ord INTEGER NOT NULL,"
     " state TEXT NOT NULL,"
     " attempt INTEGER NOT NULL DEFAULT 0,"
     " job_id INTEGER NOT NULL DEFAULT 0,"
     " fingerprint TEXT NOT NULL DEFAULT '',"
     " next_try_ms INTEGER NOT NULL DEFAULT 0,"
     " message TEXT NOT NULL DEFAULT '',"
     " started_ms INTEGER NOT NULL DEFAULT 0,"
     " ended_ms INTEGER NOT NULL DEFAULT 0,"
     " attempt_start_ms INTEGER NOT NULL DEFAULT 0,"
     " backend_port INTEGER NOT NULL DEFAULT 0,"
     " live_job_id INTEGER NOT NULL DEFAULT 0,"
     " generation INTEGER NOT NULL DEFAULT 0,"
     " inputs_json TEXT NOT NULL DEFAULT '',"
     " PRIMARY KEY (run_id, stage));"
     "CREATE INDEX stage_runs_fingerprint ON stage_runs(stage, fingerprint);"
     "CREATE TABLE artifacts ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " run_id INTEGER NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,"
     " stage TEXT NOT NULL,"
     " path TEXT NOT NULL,"
     " size INTEGER NOT NULL,"
     " xxh3 TEXT NOT NULL,"
     " kind TEXT NOT NULL,"
     " fingerprint TEXT NOT NULL,"
     " command_json TEXT NOT NULL,"
     " inputs_json TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL);"
     "CREATE INDEX artifacts_path ON artifacts(path, id);"
     "CREATE INDEX artifacts_run ON artifacts(run_id, stage);"
     "CREATE TABLE pipeline_services ("
     " pipeline TEXT NOT NULL,"
     " stage TEXT NOT NULL,"
     " port INTEGER NOT NULL,"
     " backend_port INTEGER NOT NULL,"
     " job_id INTEGER NOT NULL,"
     " run_id INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL,"
     " PRIMARY KEY (pipeline, stage))"},
};

constexpr std::string_view kRunStates[] = {"pending", "running", "succeeded", "failed",
                                           "cancelled"};
constexpr std::string_view kStageStates[] = {"pending",   "waiting", "submitting", "running",
                                             "succeeded", "failed",  "cancelled",  "skipped"};

constexpr std::string_view kRunCols =
    "id, name, spec_json, owner_uid, owner_gid, user, state, message, created_ms, updated_ms, "
    "force";
constexpr std::string_view kStageCols =
    "run_id, stage, state, attempt, job_id, fingerprint, next_try_ms, message, started_ms, "
    "ended_ms, attempt_start_ms, backend_port, live_job_id, generation, inputs_json";
constexpr std::string_view kArtCols =
    "id, run_id, stage, path, size, xxh3, kind, fingerprint, command_json, inputs_json, "
    "created_ms";

RunRecord read_run(const store::Statement& s) {
  RunRecord r;
  r.id = s.column_int(0);
  r.name = s.column_text(1);
  r.spec_json = s.column_text(2);
  r.owner_uid = static_cast<std::uint32_t>(s.column_int(3));
  r.owner_gid = static_cast<std::uint32_t>(s.column_int(4));
  r.user = s.column_text(5);
  r.state = run_state_from(s.column_text(6)).value_or(RunState::kFailed);
  r.message = s.column_text(7);
  r.created_ms = s.column_int(8);
  r.updated_ms = s.column_int(9);
  r.force = s.column_int(10) != 0;
  return r;
}

StageRecord read_stage(const store::Statement& s) {
  StageRecord r;
  r.run_id = s.column_int(0);
  r.stage = s.column_text(1);
  r.state = stage_state_from(s.column_text(2)).value_or(StageState::kFailed);
  r.attempt = static_cast<int>(s.column_int(3));
  r.job_id = s.column_int(4);
  r.fingerprint = s.column_text(5);
  r.next_try_ms = s.column_int(6);
  r.message = s.column_text(7);
  r.started_ms = s.column_int(8);
  r.ended_ms = s.column_int(9);
  r.attempt_start_ms = s.column_int(10);
  r.backend_port = static_cast<int>(s.column_int(11));
  r.live_job_id = s.column_int(12);
  r.generation = static_cast<int>(s.column_int(13));
  r.inputs_json = s.column_text(14);
  return r;
}

ArtifactRecord read_artifact(const store::Statement& s) {
  ArtifactRecord a;
  a.id = s.column_int(0);
  a.run_id = s.column_int(1);
  a.stage = s.column_text(2);
  a.path = s.column_text(3);
  a.size = static_cast<std::uint64_t>(s.column_int(4));
  a.xxh3 = s.column_text(5);
  a.kind = s.column_text(6);
  a.fingerprint = s.column_text(7);
  a.command_json = s.column_text(8);
  a.inputs_json = s.column_text(9);
  a.created_ms = s.column_int(10);
  return a;
}

template <class T, class F>
Result<std::vector<T>> collect(store::Statement* st, F read) {
  std::vector<T> out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    out.push_back(read(*st));
  }
  return out;
}

Status write_stage(store::Database& db, const StageRecord& s) {
  auto st = db.prepare(
      "UPDATE stage_runs SET state = ?3, attempt = ?4, job_id = ?5, fingerprint = ?6, "
      "next_try_ms = ?7, message = ?8, started_ms = ?9, ended_ms = ?10, attempt_start_ms = ?11, "
      "backend_port = ?12, live_job_id = ?13, generation = ?14, inputs_json = ?15 WHERE run_id = "
      "?1 AND stage = ?2");
  if (!st) return std::unexpected(st.error());
  (*st)
      ->bind(1, s.run_id)
      .bind(2, s.stage)
      .bind(3, to_string(s.state))
      .bind(4, s.attempt)
      .bind(5, s.job_id)
      .bind(6, s.fingerprint)
      .bind(7, s.next_try_ms)
      .bind(8, s.message)
      .bind(9, s.started_ms)
      .bind(10, s.ended_ms)
      .bind(11, s.attempt_start_ms)
      .bind(12, s.backend_port)
      .bind(13, s.live_job_id)
      .bind(14, s.generation)
      .bind(15, s.inputs_json);
  if (auto r = (*st)->run(); !r) return r;
  if (db.changes() != 1) {
    return fail(ErrorCode::kNotFound,
                "no stage '" + s.stage + "' in pipeline run " + std::to_string(s.run_id));
  }
  return {};
}

Status write_run_state(store::Database& db, std::int64_t run_id, RunState state,
                       std::string_view message, std::int64_t now_ms) {
  auto st = db.prepare(
      "UPDATE pipeline_runs SET state = ?2, message = ?3, updated_ms = ?4 WHERE id = ?1");
  if (!st) return std::unexpected(st.error());
  (*st)->bind(1, run_id).bind(2, to_string(state)).bind(3, message).bind(4, now_ms);
  return (*st)->run();
}

Status write_artifact(store::Database& db, const ArtifactRecord& a) {
  auto st = db.prepare(
      "INSERT INTO artifacts (run_id, stage, path, size, xxh3, kind, fingerprint, command_json, "
      "inputs_json, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!st) return std::unexpected(st.error());
  (*st)
      ->bind(1, a.run_id)
      .bind(2, a.stage)
      .bind(3, a.path)
      .bind(4, static_cast<std::int64_t>(a.size))
      .bind(5, a.xxh3)
      .bind(6, a.kind)
      .bind(7, a.fingerprint)
      .bind(8, a.command_json)
      .bind(9, a.inputs_json)
      .bind(10, a.created_ms);
  return (*st)->run();
}

Status write_service(store::Database& db, const ServiceRecord& s) {
  auto st = db.prepare(
      "INSERT INTO pipeline_services (pipeline, stage, port, backend_port, job_id, run_id, "
      "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (pipeline, stage) DO UPDATE "
      "SET port = ?3, backend_port = ?4, job_id = ?5, run_id = ?6, updated_ms = ?7");
  if (!st) return std::unexpected(st.error());
  (*st)
      ->bind(1, s.pipeline)
      .bind(2, s.stage)
      .bind(3, s.port)
      .bind(4, s.backend_port)
      .bind(5, s.job_id)
      .bind(6, s.run_id)
      .bind(7, s.updated_ms);
  return (*st)->run();
}

Json parse_or_text(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? Json(text) : j;
}

}  // namespace

std::string_view to_string(RunState s) {
  return kRunStates[static_cast<int>(s)];
}
std::string_view to_string(StageState s) {
  return kStageStates[static_cast<int>(s)];
}
std::optional<RunState> run_state_from(std::string_view s) {
  for (int i = 0; i < 5; ++i) {
    if (kRunStates[i] == s) return static_cast<RunState>(i);
  }
  return std::nullopt;
}
std::optional<StageState> stage_state_from(std::string_view s) {
  for (int i = 0; i < 8; ++i) {
    if (kStageStates[i] == s) return static_cast<StageState>(i);
  }
  return std::nullopt;
}

Json to_json(const RunRecord& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"owner_uid", r.owner_uid},
          {"user", r.user},
          {"state", to_string(r.state)},
          {"message", r.message},
          {"created_ms", r.created_ms},
          {"updated_ms", r.updated_ms},
          {"force", r.force}};
}

Json to_json(const StageRecord& s) {
  Json j = {{"run_id", s.run_id},           {"stage", s.stage},     {"state", to_string(s.state)},
            {"attempt", s.attempt},         {"job_id", s.job_id},   {"fingerprint", s.fingerprint},
            {"next_try_ms", s.next_try_ms}, {"message", s.message}, {"started_ms", s.started_ms},
            {"ended_ms", s.ended_ms}};
  if (s.backend_port != 0 || s.live_job_id != 0) {
    j["backend_port"] = s.backend_port;
    j["live_job_id"] = s.live_job_id;
  }
  return j;
}

Json to_json(const ArtifactRecord& a) {
  return {{"id", a.id},
          {"run_id", a.run_id},
          {"stage", a.stage},
          {"path", a.path},
          {"size", a.size},
          {"xxh3", a.xxh3},
          {"kind", a.kind},
          {"fingerprint", a.fingerprint},
          {"command", parse_or_text(a.command_json)},
          {"inputs", parse_or_text(a.inputs_json)},
          {"created_ms", a.created_ms}};
}

Json to_json(const ServiceRecord& s) {
  return {{"pipeline", s.pipeline},         {"stage", s.stage},   {"port", s.port},
          {"backend_port", s.backend_port}, {"job_id", s.job_id}, {"run_id", s.run_id},
          {"updated_ms", s.updated_ms}};
}

std::span<const store::Migration> PipelineStore::migrations() {
  return kMigrations;
}

Result<std::int64_t> PipelineStore::insert_run(const RunRecord& run,
                                               const std::vector<StageRecord>& stages) {
  return store_.with([&](store::Database& db) -> Result<std::int64_t> {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    auto st = db.prepare(
        "INSERT INTO pipeline_runs (name, spec_json, owner_uid, owner_gid, user, state, message, "
        "created_ms, updated_ms, force) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st) return std::unexpected(st.error());
    (*st)
        ->bind(1, run.name)
        .bind(2, run.spec_json)
        .bind(3, static_cast<std::int64_t>(run.owner_uid))
        .bind(4, static_cast<std::int64_t>(run.owner_gid))
        .bind(5, run.user)
        .bind(6, to_string(run.state))
        .bind(7, run.message)
        .bind(8, run.created_ms)
        .bind(9, run.updated_ms)
        .bind(10, run.force ? 1 : 0);
    if (auto r = (*st)->run(); !r) return std::unexpected(r.error());
    std::int64_t id = db.last_insert_rowid();
    auto ins =
        db.prepare("INSERT INTO stage_runs (run_id, stage, ord, state) VALUES (?1, ?2, ?3, ?4)");
    if (!ins) return std::unexpected(ins.error());
    int ord = 0;
    for (const auto& s : stages) {
      (*ins)->bind(1, id).bind(2, s.stage).bind(3, ord++).bind(4, to_string(s.state));
      if (auto r = (*ins)->run(); !r) return std::unexpected(r.error());
    }
    if (auto c = tx->commit(); !c) return std::unexpected(c.error());
    return id;
  });
}

Result<RunRecord> PipelineStore::run(std::int64_t run_id) {
  return store_.with([&](store::Database& db) -> Result<RunRecord> {
    auto st = db.prepare("SELECT " + std::string(kRunCols) + " FROM pipeline_runs WHERE id = ?1");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, run_id);
    auto rows = collect<RunRecord>(*st, read_run);
    (*st)->reset();
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) {
      return fail(ErrorCode::kNotFound, "no pipeline run " + std::to_string(run_id) +
                                            " (aion pipeline list shows the runs)");
    }
    return rows->front();
  });
}

Result<std::vector<RunRecord>> PipelineStore::runs(std::optional<std::uint32_t> only_uid,
                                                   bool unfinished_only) {
  return store_.with([&](store::Database& db) -> Result<std::vector<RunRecord>> {
    auto st = db.prepare("SELECT " + std::string(kRunCols) +
                         " FROM pipeline_runs WHERE (?1 < 0 OR owner_uid = ?1) AND (?2 = 0 OR "
                         "state IN ('pending', 'running')) ORDER BY id DESC");
    if (!st) return std::unexpected(st.error());
    (*st)
        ->bind(1, only_uid ? static_cast<std::int64_t>(*only_uid) : std::int64_t{-1})
        .bind(2, unfinished_only ? 1 : 0);
    auto rows = collect<RunRecord>(*st, read_run);
    (*st)->reset();
    return rows;
  });
}

Result<std::vector<StageRecord>> PipelineStore::stages(std::int64_t run_id) {
  return store_.with([&](store::Database& db) -> Result<std::vector<StageRecord>> {
    auto st = db.prepare("SELECT " + std::string(kStageCols) +
                         " FROM stage_runs WHERE run_id = ?1 ORDER BY ord");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, run_id);
    auto rows = collect<StageRecord>(*st, read_stage);
    (*st)->reset();
    return rows;
  });
}

Status PipelineStore::set_run_state(std::int64_t run_id, RunState state, std::string_view message,
                                    std::int64_t now_ms) {
  return store_.with(
      [&](store::Database& db) { return write_run_state(db, run_id, state, message, now_ms); });
}

Status PipelineStore::put_stage(const StageRecord& stage) {
  return store_.with([&](store::Database& db) { return write_stage(db, stage); });
}

Status PipelineStore::put_stages(const std::vector<StageRecord>& stages,
                                 std::optional<RunState> run_state, std::int64_t now_ms,
                                 std::string_view run_message) {
  return store_.with([&](store::Database& db) -> Status {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    for (const auto& s : stages) {
      if (auto r = write_stage(db, s); !r) return r;
    }
    if (run_state && !stages.empty()) {
      if (auto r = write_run_state(db, stages.front().run_id, *run_state, run_message, now_ms);
          !r) {
        return r;
      }
    }
    return tx->commit();
  });
}

Status PipelineStore::finish_stage(const StageRecord& stage,
                                   const std::vector<ArtifactRecord>& artifacts,
                                   const std::optional<ServiceRecord>& service) {
  return store_.with([&](store::Database& db) -> Status {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    if (auto r = write_stage(db, stage); !r) return r;
    for (const auto& a : artifacts) {
      if (auto r = write_artifact(db, a); !r) return r;
    }
    if (service) {
      if (auto r = write_service(db, *service); !r) return r;
    }
    return tx->commit();
  });
}

Result<std::vector<StageRecord>> PipelineStore::stale_live_versions() {
  return store_.with([&](store::Database& db) -> Result<std::vector<StageRecord>> {
    auto st = db.prepare(
        "SELECT s.run_id, s.stage, s.state, s.attempt, s.job_id, s.fingerprint, s.next_try_ms, "
        "s.message, s.started_ms, s.ended_ms, s.attempt_start_ms, s.backend_port, s.live_job_id, "
        "s.generation, s.inputs_json "
        "FROM stage_runs s JOIN pipeline_runs r ON r.id = s.run_id WHERE s.live_job_id != 0 AND "
        "NOT EXISTS (SELECT 1 FROM pipeline_services p WHERE p.pipeline = r.name AND "
        "p.stage = s.stage AND p.job_id = s.live_job_id) ORDER BY s.run_id");
    if (!st) return std::unexpected(st.error());
    auto rows = collect<StageRecord>(*st, read_stage);
    (*st)->reset();
    return rows;
  });
}

Status PipelineStore::clear_live(std::int64_t run_id, std::string_view stage) {
  return store_.with([&](store::Database& db) -> Status {
    auto st = db.prepare("UPDATE stage_runs SET live_job_id = 0 WHERE run_id = ?1 AND stage = ?2");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, run_id).bind(2, stage);
    return (*st)->run();
  });
}

Result<std::optional<StageRecord>> PipelineStore::find_succeeded(std::string_view pipeline,
                                                                 std::string_view stage,
                                                                 std::string_view fingerprint,
                                                                 std::int64_t exclude_run) {
  return store_.with([&](store::Database& db) -> Result<std::optional<StageRecord>> {
    auto st = db.prepare(
        "SELECT s.run_id, s.stage, s.state, s.attempt, s.job_id, s.fingerprint, s.next_try_ms, "
        "s.message, s.started_ms, s.ended_ms, s.attempt_start_ms, s.backend_port, s.live_job_id, "
        "s.generation, s.inputs_json "
        "FROM stage_runs s JOIN pipeline_runs r ON r.id = s.run_id WHERE r.name = ?1 AND "
        "s.stage = ?2 AND s.fingerprint = ?3 AND s.state = 'succeeded' AND s.run_id != ?4 "
        "ORDER BY s.run_id DESC LIMIT 1");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, pipeline).bind(2, stage).bind(3, fingerprint).bind(4, exclude_run);
    auto rows = collect<StageRecord>(*st, read_stage);
    (*st)->reset();
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return std::optional<StageRecord>{};
    return std::optional<StageRecord>{rows->front()};
  });
}

Result<std::vector<ArtifactRecord>> PipelineStore::artifacts(std::optional<std::int64_t> run_id) {
  return store_.with([&](store::Database& db) -> Result<std::vector<ArtifactRecord>> {
    auto st = db.prepare("SELECT " + std::string(kArtCols) +
                         " FROM artifacts WHERE (?1 < 0 OR run_id = ?1) ORDER BY id");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, run_id.value_or(-1));
    auto rows = collect<ArtifactRecord>(*st, read_artifact);
    (*st)->reset();
    return rows;
  });
}

Result<std::vector<ArtifactRecord>> PipelineStore::stage_artifacts(std::int64_t run_id,
                                                                   std::string_view stage) {
  return store_.with([&](store::Database& db) -> Result<std::vector<ArtifactRecord>> {
    auto st = db.prepare("SELECT " + std::string(kArtCols) +
                         " FROM artifacts WHERE run_id = ?1 AND stage = ?2 ORDER BY id");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, run_id).bind(2, stage);
    auto rows = collect<ArtifactRecord>(*st, read_artifact);
    (*st)->reset();
    return rows;
  });
}

Result<Json> PipelineStore::lineage(const std::string& path) {
  // Newest artifact at `path`, with hash `xxh3` when given.
  auto newest = [&](const std::string& p,
                    const std::string& xxh3) -> Result<std::optional<ArtifactRecord>> {
    return store_.with([&](store::Database& db) -> Result<std::optional<ArtifactRecord>> {
      auto st = db.prepare("SELECT " + std::string(kArtCols) +
                           " FROM artifacts WHERE path = ?1 AND (?2 = '' OR xxh3 = ?2) "
                           "ORDER BY id DESC LIMIT 1");
      if (!st) return std::unexpected(st.error());
      (*st)->bind(1, p).bind(2, xxh3);
      auto rows = collect<ArtifactRecord>(*st, read_artifact);
      (*st)->reset();
      if (!rows) return std::unexpected(rows.error());
      if (rows->empty()) return std::optional<ArtifactRecord>{};
      return std::optional<ArtifactRecord>{rows->front()};
    });
  };
  auto stage_of = [&](std::int64_t run_id, const std::string& stage) -> Result<Json> {
    auto all = stages(run_id);
    if (!all) return std::unexpected(all.error());
    for (const auto& s : *all) {
      if (s.stage == stage) return to_json(s);
    }
    return Json(nullptr);
  };
  std::set<std::int64_t> on_path;
  std::function<Result<Json>(const ArtifactRecord&, int)> expand = [&](const ArtifactRecord& a,
                                                                       int depth) -> Result<Json> {
    Json out;
    out["artifact"] = to_json(a);
    auto st = stage_of(a.run_id, a.stage);
    if (!st) return std::unexpected(st.error());
    out["stage"] = *st;
    if (auto r = run(a.run_id); r) out["pipeline"] = r->name;
    Json inputs = Json::array();
    Json recorded = Json::parse(a.inputs_json, nullptr, false);
    if (!recorded.is_array()) recorded = Json::array();
    on_path.insert(a.id);
    for (Json in : recorded) {
      if (in.contains("path")) {
        auto up = newest(in.value("path", ""), in.value("xxh3", ""));
        if (!up) return std::unexpected(up.error());
        if (*up) {
          if (on_path.contains((*up)->id)) {
            in["cycle"] = true;
          } else if (depth + 1 >= kMaxLineageDepth) {
            in["truncated"] = true;
          } else {
            auto sub = expand(**up, depth + 1);
            if (!sub) return std::unexpected(sub.error());
            in["lineage"] = std::move(*sub);
          }
        }
      }
      inputs.push_back(std::move(in));
    }
    on_path.erase(a.id);
    out["inputs"] = std::move(inputs);
    return out;
  };
  std::string p = std::filesystem::path(path).lexically_normal().string();
  auto first = newest(p, "");
  if (!first) return std::unexpected(first.error());
  if (!*first) {
    return fail(ErrorCode::kNotFound, "no artifact recorded at '" + p +
                                          "' (`aion artifact ls` lists the recorded paths)");
  }
  return expand(**first, 0);
}

Result<std::vector<ServiceRecord>> PipelineStore::services() {
  return store_.with([&](store::Database& db) -> Result<std::vector<ServiceRecord>> {
    auto st = db.prepare(
        "SELECT pipeline, stage, port, backend_port, job_id, run_id, updated_ms FROM "
        "pipeline_services ORDER BY pipeline, stage");
    if (!st) return std::unexpected(st.error());
    auto rows = collect<ServiceRecord>(*st, [](const store::Statement& s) {
      return ServiceRecord{s.column_text(0),
                           s.column_text(1),
                           static_cast<int>(s.column_int(2)),
                           static_cast<int>(s.column_int(3)),
                           s.column_int(4),
                           s.column_int(5),
                           s.column_int(6)};
    });
    (*st)->reset();
    return rows;
  });
}

Result<std::optional<ServiceRecord>> PipelineStore::service(std::string_view pipeline,
                                                            std::string_view stage) {
  auto all = services();
  if (!all) return std::unexpected(all.error());
  for (auto& s : *all) {
    if (s.pipeline == pipeline && s.stage == stage) return std::optional<ServiceRecord>{s};
  }
  return std::optional<ServiceRecord>{};
}

Status PipelineStore::put_service(const ServiceRecord& s) {
  return store_.with([&](store::Database& db) { return write_service(db, s); });
}

Status PipelineStore::remove_service(std::string_view pipeline, std::string_view stage) {
  return store_.with([&](store::Database& db) -> Status {
    auto st = db.prepare("DELETE FROM pipeline_services WHERE pipeline = ?1 AND stage = ?2");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, pipeline).bind(2, stage);
    return (*st)->run();
  });
}

}  // namespace aion::pipeline
