#include "aion/diagnose/incident_store.h"

#include "aion/core/json.h"
#include "aion/diagnose/incident_json.h"

namespace aion::diagnose {
namespace {

constexpr store::Migration kMigrations[] = {
    {"diagnose", 1, "incidents, hypotheses, evidence, jobs and the append-only audit log", R"sql(
CREATE TABLE diagnose_incidents (
  id INTEGER PRIMARY KEY,
  opened_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  severity TEXT NOT NULL,
  title TEXT NOT NULL,
  devices TEXT NOT NULL,
  evidence_total INTEGER NOT NULL
);
CREATE INDEX diagnose_incidents_updated ON diagnose_incidents(updated_ms);
CREATE TABLE diagnose_hypotheses (
  incident_id INTEGER NOT NULL REFERENCES diagnose_incidents(id) ON DELETE CASCADE,
  rank INTEGER NOT NULL,
  signature TEXT NOT NULL,
  confidence REAL NOT NULL,
  score REAL NOT NULL,
  evidence_count INTEGER NOT NULL,
  first_ms INTEGER NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (incident_id, rank)
);
CREATE TABLE diagnose_evidence (
  id INTEGER PRIMARY KEY,
  incident_id INTEGER NOT NULL REFERENCES diagnose_incidents(id) ON DELETE CASCADE,
  time_ms INTEGER NOT NULL,
  source TEXT NOT NULL,
  signature TEXT NOT NULL,
  text TEXT NOT NULL,
  devices TEXT NOT NULL,
  metrics TEXT NOT NULL
);
CREATE INDEX diagnose_evidence_incident ON diagnose_evidence(incident_id, time_ms);
CREATE TABLE diagnose_incident_jobs (
  incident_id INTEGER NOT NULL REFERENCES diagnose_incidents(id) ON DELETE CASCADE,
  job_id INTEGER NOT NULL,
  PRIMARY KEY (incident_id, job_id)
);
CREATE INDEX diagnose_incident_jobs_job ON diagnose_incident_jobs(job_id);
CREATE TABLE diagnose_audit (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  incident_id INTEGER NOT NULL,
  playbook TEXT NOT NULL,
  step INTEGER NOT NULL,
  action TEXT NOT NULL,
  command TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  caller TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE TRIGGER diagnose_audit_no_update BEFORE UPDATE ON diagnose_audit
BEGIN SELECT RAISE(ABORT, 'diagnose_audit is append-only'); END;
CREATE TRIGGER diagnose_audit_no_delete BEFORE DELETE ON diagnose_audit
BEGIN SELECT RAISE(ABORT, 'diagnose_audit is append-only'); END;
)sql"},
    {"diagnose", 2, "incidents are open until resolved (when, by whom, the note)", R"sql(
ALTER TABLE diagnose_incidents ADD COLUMN resolved_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE diagnose_incidents ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE diagnose_incidents ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
CREATE INDEX diagnose_incidents_open ON diagnose_incidents(resolved_ms, updated_ms);
)sql"},
};

Json string_array(const std::vector<std::string>& v) {
  return Json(v);
}

std::vector<std::string> parse_strings(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_array()) return {};
  std::vector<std::string> out;
  for (const auto& x : j)
    if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

Result<Incident> read_one(store::Database& db, std::int64_t id) {
  auto q = db.prepare(
      "SELECT opened_ms, updated_ms, severity, title, devices, evidence_total, resolved_ms, "
      "resolved_by, resolution FROM diagnose_incidents WHERE id = ?1");
  if (!q) return std::unexpected(q.error());
  (*q)->bind(1, id);
  auto row = (*q)->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(ErrorCode::kNotFound, "no incident " + std::to_string(id));
  Incident i;
  i.id = id;
  i.opened_ms = (*q)->column_int(0);
  i.updated_ms = (*q)->column_int(1);
  i.severity = (*q)->column_text(2);
  i.title = (*q)->column_text(3);
  i.devices = parse_strings((*q)->column_text(4));
  i.evidence_total = static_cast<std::size_t>((*q)->column_int(5));
  i.resolved_ms = (*q)->column_int(6);
  i.resolved_by = (*q)->column_text(7);
  i.resolution = (*q)->column_text(8);
  (*q)->reset();

  auto h = db.prepare(
      "SELECT signature, confidence, score, evidence_count, first_ms, detail "
      "FROM diagnose_hypotheses WHERE incident_id = ?1 ORDER BY rank");
  if (!h) return std::unexpected(h.error());
  (*h)->bind(1, id);
  while (true) {
    auto r = (*h)->step();
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    Hypothesis x;
    x.signature = (*h)->column_text(0);
    x.confidence = (*h)->column_double(1);
    x.score = (*h)->column_double(2);
    x.evidence_count = static_cast<std::size_t>((*h)->column_int(3));
    x.first_ms = (*h)->column_int(4);
    Json d = Json::parse((*h)->column_text(5), nullptr, false);
    if (d.is_object()) read_hypothesis_text(d, x);
    i.hypotheses.push_back(std::move(x));
  }
  auto e = db.prepare(
      "SELECT time_ms, source, signature, text, devices, metrics FROM diagnose_evidence "
      "WHERE incident_id = ?1 ORDER BY time_ms, id");
  if (!e) return std::unexpected(e.error());
  (*e)->bind(1, id);
  while (true) {
    auto r = (*e)->step();
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    Evidence x;
    x.time_ms = (*e)->column_int(0);
    x.source = (*e)->column_text(1);
    x.signature = (*e)->column_text(2);
    x.text = (*e)->column_text(3);
    x.devices = parse_strings((*e)->column_text(4));
    x.metrics_json = (*e)->column_text(5);
    i.evidence.push_back(std::move(x));
  }
  auto jq = db.prepare(
      "SELECT job_id FROM diagnose_incident_jobs WHERE incident_id = ?1 ORDER BY job_id");
  if (!jq) return std::unexpected(jq.error());
  (*jq)->bind(1, id);
  while (true) {
    auto r = (*jq)->step();
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    i.jobs.push_back((*jq)->column_int(0));
  }
  return i;
}

}  // namespace

IncidentStore::IncidentStore(store::Store& store, const Clock& clock)
    : store_(store), clock_(clock) {}

std::span<const store::Migration> IncidentStore::migrations() {
  return kMigrations;
}

namespace {

// Prepares `sql`, lets `bind` bind its parameters and runs it.
template <class Bind>
Status run_sql(store::Database& db, std::string_view sql, Bind&& bind) {
  auto st = db.prepare(sql);
  if (!st) return std::unexpected(st.error());
  bind(**st);
  return (*st)->run();
}

// The incident's own row, inserted or updated. Its resolution is not the engine's to write
// (resolve() is): an engine's copy saved while someone resolved the incident keeps it.
Status save_incident_row(store::Database& db, const Incident& inc) {
  return run_sql(
      db,
      "INSERT INTO diagnose_incidents(id, opened_ms, updated_ms, severity, title, devices, "
      "evidence_total) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
      "opened_ms = excluded.opened_ms, updated_ms = excluded.updated_ms, severity = "
      "excluded.severity, title = excluded.title, devices = excluded.devices, "
      "evidence_total = excluded.evidence_total",
      [&](store::Statement& s) {
        s.bind(1, inc.id)
            .bind(2, inc.opened_ms)
            .bind(3, inc.updated_ms)
            .bind(4, inc.severity)
            .bind(5, inc.title)
            .bind(6, string_array(inc.devices).dump())
            .bind(7, static_cast<std::int64_t>(inc.evidence_total));
      });
}

// The ranked hypotheses, replacing the stored ones (rank 1 first).
Status save_hypotheses(store::Database& db, const Incident& inc) {
  for (std::size_t k = 0; k < inc.hypotheses.size(); ++k) {
    const Hypothesis& h = inc.hypotheses[k];
    const Json detail = hypothesis_text_json(h);
    if (auto s = run_sql(db,
                         "INSERT INTO diagnose_hypotheses(incident_id, rank, signature, "
                         "confidence, score, evidence_count, first_ms, detail) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                         [&](store::Statement& s) {
                           s.bind(1, inc.id)
                               .bind(2, static_cast<std::int64_t>(k + 1))
                               .bind(3, h.signature)
                               .bind(4, h.confidence)
                               .bind(5, h.score)
                               .bind(6, static_cast<std::int64_t>(h.evidence_count))
                               .bind(7, h.first_ms)
                               .bind(8, detail.dump());
                         });
        !s)
      return s;
  }
  return {};
}

// The kept evidence and the linked jobs.
Status save_evidence_and_jobs(store::Database& db, const Incident& inc) {
  for (const auto& e : inc.evidence) {
    if (auto s = run_sql(db,
                         "INSERT INTO diagnose_evidence(incident_id, time_ms, source, signature, "
                         "text, devices, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         [&](store::Statement& s) {
                           s.bind(1, inc.id)
                               .bind(2, e.time_ms)
                               .bind(3, e.source)
                               .bind(4, e.signature)
                               .bind(5, e.text)
                               .bind(6, string_array(e.devices).dump())
                               .bind(7, e.metrics_json);
                         });
        !s)
      return s;
  }
  for (std::int64_t job : inc.jobs) {
    if (auto s = run_sql(db,
                         "INSERT OR IGNORE INTO diagnose_incident_jobs(incident_id, job_id) "
                         "VALUES (?1, ?2)",
                         [&](store::Statement& s) { s.bind(1, inc.id).bind(2, job); });
        !s)
      return s;
  }
  return {};
}

}  // namespace

Status IncidentStore::save(const Incident& inc, const std::vector<std::int64_t>& merged) {
  return store_.with([&](store::Database& db) -> Status {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    for (std::int64_t m : merged) {
      if (auto s = run_sql(db, "DELETE FROM diagnose_incidents WHERE id = ?1",
                           [&](store::Statement& s) { s.bind(1, m); });
          !s)
        return s;
    }
    if (auto s = save_incident_row(db, inc); !s) return s;
    for (const char* table : {"diagnose_hypotheses", "diagnose_evidence"}) {
      std::string sql = std::string("DELETE FROM ") + table + " WHERE incident_id = ?1";
      if (auto s = run_sql(db, sql, [&](store::Statement& s) { s.bind(1, inc.id); }); !s) return s;
    }
    if (auto s = save_hypotheses(db, inc); !s) return s;
    if (auto s = save_evidence_and_jobs(db, inc); !s) return s;
    return tx->commit();
  });
}

Result<std::vector<Incident>> IncidentStore::list(int limit, IncidentFilter filter) {
  return store_.with([&](store::Database& db) -> Result<std::vector<Incident>> {
    const char* where = filter == IncidentFilter::kOpen       ? "WHERE resolved_ms = 0 "
                        : filter == IncidentFilter::kResolved ? "WHERE resolved_ms != 0 "
                                                              : "";
    auto q = db.prepare(std::string("SELECT id FROM diagnose_incidents ") + where +
                        "ORDER BY updated_ms DESC, id DESC LIMIT ?1");
    if (!q) return std::unexpected(q.error());
    (*q)->bind(1, limit);
    std::vector<std::int64_t> ids;
    while (true) {
      auto r = (*q)->step();
      if (!r) return std::unexpected(r.error());
      if (!*r) break;
      ids.push_back((*q)->column_int(0));
    }
    (*q)->reset();
    std::vector<Incident> out;
    for (auto id : ids) {
      auto i = read_one(db, id);
      if (!i) return std::unexpected(i.error());
      out.push_back(std::move(*i));
    }
    return out;
  });
}

Result<Incident> IncidentStore::get(std::int64_t id) {
  return store_.with([&](store::Database& db) { return read_one(db, id); });
}

Result<Incident> IncidentStore::resolve(std::int64_t id, const std::string& by,
                                        const std::string& note) {
  const std::int64_t now = to_unix_ms(clock_.wall());
  auto done = store_.with([&](store::Database& db) -> Status {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    auto q = db.prepare("SELECT resolved_ms, resolved_by FROM diagnose_incidents WHERE id = ?1");
    if (!q) return std::unexpected(q.error());
    (*q)->bind(1, id);
    auto row = (*q)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(ErrorCode::kNotFound, "no incident " + std::to_string(id));
    if ((*q)->column_int(0) != 0) {
      return fail(ErrorCode::kConflict, "incident " + std::to_string(id) + " was resolved by " +
                                            (*q)->column_text(1) + " already");
    }
    (*q)->reset();
    if (auto st = run_sql(
            db,
            "UPDATE diagnose_incidents SET resolved_ms = ?2, resolved_by = ?3, "
            "resolution = ?4 WHERE id = ?1",
            [&](store::Statement& s) { s.bind(1, id).bind(2, now).bind(3, by).bind(4, note); });
        !st)
      return st;
    if (auto st = run_sql(
            db,
            "INSERT INTO diagnose_audit(time_ms, incident_id, playbook, step, action, "
            "command, approved_by, caller, outcome, detail) VALUES (?1, ?2, '', 0, "
            "'resolve', '', ?3, ?3, 'ok', ?4)",
            [&](store::Statement& s) { s.bind(1, now).bind(2, id).bind(3, by).bind(4, note); });
        !st)
      return st;
    return tx->commit();
  });
  if (!done) return std::unexpected(done.error());
  return get(id);
}

Result<std::int64_t> IncidentStore::prune(const store::Retention& retention, std::int64_t now_ms) {
  auto gone = store::prune(store_,
                           {.table = "diagnose_incidents",
                            .time_column = "updated_ms",
                            // New ids follow max_id(): the newest stays, so none is reused.
                            .finished = "id < (SELECT max(id) FROM diagnose_incidents)"},
                           retention, now_ms);
  if (!gone) return std::unexpected(gone.error());
  return static_cast<std::int64_t>(gone->size());
}

Result<std::int64_t> IncidentStore::max_id() {
  return store_.with([&](store::Database& db) -> Result<std::int64_t> {
    auto q = db.prepare("SELECT coalesce(max(id), 0) FROM diagnose_incidents");
    if (!q) return std::unexpected(q.error());
    auto r = (*q)->step();
    if (!r) return std::unexpected(r.error());
    std::int64_t v = (*q)->column_int(0);
    (*q)->reset();
    return v;
  });
}

Result<std::int64_t> IncidentStore::audit(AuditRecord a) {
  if (a.time_ms == 0) a.time_ms = to_unix_ms(clock_.wall());
  return store_.with([&](store::Database& db) -> Result<std::int64_t> {
    auto st = db.prepare(
        "INSERT INTO diagnose_audit(time_ms, incident_id, playbook, step, action, command, "
        "approved_by, caller, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st) return std::unexpected(st.error());
    (*st)
        ->bind(1, a.time_ms)
        .bind(2, a.incident_id)
        .bind(3, a.playbook)
        .bind(4, a.step)
        .bind(5, a.action)
        .bind(6, a.command)
        .bind(7, a.approved_by)
        .bind(8, a.caller)
        .bind(9, a.outcome)
        .bind(10, a.detail);
    if (auto r = (*st)->run(); !r) return std::unexpected(r.error());
    return db.last_insert_rowid();
  });
}

Result<std::vector<AuditRecord>> IncidentStore::audit_log(std::int64_t incident_id) {
  return store_.with([&](store::Database& db) -> Result<std::vector<AuditRecord>> {
    auto q = db.prepare(
        "SELECT id, time_ms, incident_id, playbook, step, action, command, approved_by, caller, "
        "outcome, detail FROM diagnose_audit WHERE ?1 = 0 OR incident_id = ?1 ORDER BY id");
    if (!q) return std::unexpected(q.error());
    (*q)->bind(1, incident_id);
    std::vector<AuditRecord> out;
    while (true) {
      auto r = (*q)->step();
      if (!r) return std::unexpected(r.error());
      if (!*r) break;
      auto& s = **q;
      out.push_back({s.column_int(0), s.column_int(1), s.column_int(2), s.column_text(3),
                     static_cast<int>(s.column_int(4)), s.column_text(5), s.column_text(6),
                     s.column_text(7), s.column_text(8), s.column_text(9), s.column_text(10)});
    }
    return out;
  });
}

}  // namespace aion::diagnose
