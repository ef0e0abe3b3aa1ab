#include "aion/sched/job_store.h"

#include <algorithm>
#include <array>

#include "aion/sched/job_json.h"

namespace aion::sched {

namespace {

constexpr std::string_view kCreate = R"sql(
CREATE TABLE jobs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL,
  user        TEXT NOT NULL,
  uid         INTEGER NOT NULL,
  queue       TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  state       TEXT NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  spec        TEXT NOT NULL,
  submit_ms   INTEGER NOT NULL,
  start_ms    INTEGER NOT NULL DEFAULT 0,
  end_ms      INTEGER NOT NULL DEFAULT 0,
  allocation  TEXT,
  shim_pid    INTEGER NOT NULL DEFAULT 0,
  shim_start  INTEGER NOT NULL DEFAULT 0,
  pid         INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER NOT NULL DEFAULT -1,
  signal      INTEGER NOT NULL DEFAULT 0,
  oom_killed  INTEGER NOT NULL DEFAULT 0,
  restarts    INTEGER NOT NULL DEFAULT 0,
  usage       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX jobs_by_state ON jobs(state);
)sql";

// GPUs taken out of placement (by remediation or an operator), kept across restarts.
constexpr std::string_view kCreateDrains = R"sql(
CREATE TABLE gpu_drains (
  pci_address TEXT PRIMARY KEY,
  why         TEXT NOT NULL,
  since_ms    INTEGER NOT NULL
);
)sql";

constexpr std::array<store::Migration, 2> kMigrations = {
    store::Migration{"sched", 1, "jobs table", kCreate},
    store::Migration{"sched", 2, "drained GPUs", kCreateDrains}};

constexpr std::string_view kColumns =
    "id, name, user, uid, queue, priority, state, reason, spec, submit_ms, start_ms, end_ms, "
    "allocation, shim_pid, shim_start, pid, exit_code, signal, oom_killed, restarts, usage";

Result<Job> read_row(const store::Statement& st) {
  Job j;
  j.id = st.column_int(0);
  auto spec = spec_from_json(Json::parse(st.column_text(8), nullptr, false));
  if (!spec) {
    return fail(ErrorCode::kCorrupt, "job " + std::to_string(j.id) +
                                         " has a malformed stored spec: " + spec.error().message());
  }
  j.spec = std::move(*spec);
  j.spec.name = st.column_text(1);
  j.spec.user = st.column_text(2);
  auto state = job_state_from(st.column_text(6));
  if (!state) {
    return fail(ErrorCode::kCorrupt, "job " + std::to_string(j.id) + " has an unknown state '" +
                                         st.column_text(6) + "'");
  }
  j.state = *state;
  j.reason = st.column_text(7);
  j.submit_ms = st.column_int(9);
  j.start_ms = st.column_int(10);
  j.end_ms = st.column_int(11);
  if (!st.column_is_null(12)) {
    auto a = allocation_from_json(Json::parse(st.column_text(12), nullptr, false));
    if (!a) return std::unexpected(a.error());
    j.allocation = std::move(*a);
  }
  j.shim_pid = static_cast<pid_t>(st.column_int(13));
  j.shim_start = st.column_int(14);
  j.pid = static_cast<pid_t>(st.column_int(15));
  j.exit_code = static_cast<int>(st.column_int(16));
  j.signal = static_cast<int>(st.column_int(17));
  j.oom_killed = st.column_int(18) != 0;
  j.restarts = static_cast<int>(st.column_int(19));
  j.usage = accounting_from_json(Json::parse(st.column_text(20), nullptr, false));
  return j;
}

Status insert_one(store::Database& db, Job& job) {
  auto st = db.prepare(
      "INSERT INTO jobs (name, user, uid, queue, priority, state, reason, spec, submit_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return std::unexpected(st.error());
  (*st)
      ->bind(1, job.spec.name)
      .bind(2, job.spec.user)
      .bind(3, static_cast<std::int64_t>(job.spec.uid))
      .bind(4, job.spec.queue)
      .bind(5, job.spec.priority)
      .bind(6, to_string(job.state))
      .bind(7, job.reason)
      .bind(8, to_json(job.spec).dump())
      .bind(9, job.submit_ms);
  if (auto r = (*st)->run(); !r) return r;
  job.id = db.last_insert_rowid();
  return {};
}

Status update_one(store::Database& db, const Job& job);

}  // namespace

std::string scrub_private_jobs_sql(const std::vector<std::uint32_t>& keep_uids) {
  std::string keep;
  for (auto uid : keep_uids) keep += (keep.empty() ? "" : ",") + std::to_string(uid);
  return "UPDATE jobs SET spec = json_set(json_remove(spec, '$.env', '$.cwd'), '$.command', "
         "json_array('[scrubbed]'))" +
         (keep.empty() ? std::string() : " WHERE uid NOT IN (" + keep + ")");
}

std::span<const store::Migration> JobStore::migrations() {
  return kMigrations;
}

Status JobStore::insert(Job& job) {
  return store_.with([&](store::Database& db) { return insert_one(db, job); });
}

Status JobStore::update(const Job& job) {
  return store_.with([&](store::Database& db) { return update_one(db, job); });
}

Status JobStore::update_all(std::span<const Job> jobs) {
  if (jobs.empty()) return {};
  return store_.with([&](store::Database& db) -> Status {
    auto tx = db.begin();
    if (!tx) return std::unexpected(tx.error());
    for (const Job& j : jobs) {
      if (auto st = update_one(db, j); !st) return st;
    }
    return tx->commit();
  });
}

namespace {
Status update_one(store::Database& db, const Job& job) {
  {
    auto st = db.prepare(
        "UPDATE jobs SET state = ?, reason = ?, start_ms = ?, end_ms = ?, allocation = ?, "
        "shim_pid = ?, shim_start = ?, pid = ?, exit_code = ?, signal = ?, oom_killed = ?, "
        "restarts = ?, usage = ?, priority = ? WHERE id = ?");
    if (!st) return std::unexpected(st.error());
    (*st)
        ->bind(1, to_string(job.state))
        .bind(2, job.reason)
        .bind(3, job.start_ms)
        .bind(4, job.end_ms);
    if (job.allocation) {
      (*st)->bind(5, to_json(*job.allocation).dump());
    } else {
      (*st)->bind_null(5);
    }
    (*st)
        ->bind(6, static_cast<std::int64_t>(job.shim_pid))
        .bind(7, job.shim_start)
        .bind(8, static_cast<std::int64_t>(job.pid))
        .bind(9, job.exit_code)
        .bind(10, job.signal)
        .bind(11, job.oom_killed ? 1 : 0)
        .bind(12, job.restarts)
        .bind(13, to_json(job.usage).dump())
        .bind(14, job.spec.priority)
        .bind(15, job.id);
    if (auto r = (*st)->run(); !r) return r;
    if (db.changes() != 1) {
      return fail(ErrorCode::kNotFound, "job " + std::to_string(job.id) + " is not stored");
    }
    return {};
  }
}
}  // namespace

Result<std::optional<Job>> JobStore::get(std::int64_t id) {
  return store_.with([&](store::Database& db) -> Result<std::optional<Job>> {
    auto st = db.prepare("SELECT " + std::string(kColumns) + " FROM jobs WHERE id = ?");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, id);
    auto row = (*st)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::optional<Job>();
    auto j = read_row(**st);
    (*st)->reset();
    if (!j) return std::unexpected(j.error());
    return std::optional<Job>(std::move(*j));
  });
}

Result<std::vector<Job>> JobStore::list(const JobFilter& f) {
  std::string sql = "SELECT " + std::string(kColumns) + " FROM jobs WHERE 1";
  if (!f.states.empty()) {
    sql += " AND state IN (";
    for (std::size_t i = 0; i < f.states.size(); ++i) {
      sql += (i ? ", '" : "'") + std::string(to_string(f.states[i])) + "'";
    }
    sql += ")";
  }
  if (f.uid) sql += " AND uid = " + std::to_string(*f.uid);
  sql += f.limit > 0 ? " ORDER BY id DESC LIMIT " + std::to_string(f.limit) : " ORDER BY id";
  return store_.with([&](store::Database& db) -> Result<std::vector<Job>> {
    auto st = db.prepare(sql);
    if (!st) return std::unexpected(st.error());
    std::vector<Job> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      auto j = read_row(**st);
      if (!j) {
        (*st)->reset();
        return std::unexpected(j.error());
      }
      out.push_back(std::move(*j));
    }
    if (f.limit > 0) std::reverse(out.begin(), out.end());
    return out;
  });
}

Status JobStore::save_drain(const std::string& pci_address, const std::string& why,
                            std::int64_t since_ms) {
  return store_.with([&](store::Database& db) -> Status {
    auto st = db.prepare(
        "INSERT INTO gpu_drains (pci_address, why, since_ms) VALUES (?, ?, ?) "
        "ON CONFLICT(pci_address) DO UPDATE SET why = excluded.why");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, pci_address).bind(2, why).bind(3, since_ms);
    return (*st)->run();
  });
}

Status JobStore::remove_drain(const std::string& pci_address) {
  return store_.with([&](store::Database& db) -> Status {
    auto st = db.prepare("DELETE FROM gpu_drains WHERE pci_address = ?");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, pci_address);
    return (*st)->run();
  });
}

Result<std::vector<std::int64_t>> JobStore::prune(const store::Retention& retention,
                                                  std::int64_t now_ms) {
  return store::prune(
      store_,
      {.table = "jobs", .time_column = "end_ms", .finished = "state NOT IN ('pending', 'running')"},
      retention, now_ms);
}

Result<std::vector<GpuDrain>> JobStore::drains() {
  return store_.with([&](store::Database& db) -> Result<std::vector<GpuDrain>> {
    auto st = db.prepare("SELECT pci_address, why, since_ms FROM gpu_drains ORDER BY pci_address");
    if (!st) return std::unexpected(st.error());
    std::vector<GpuDrain> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      out.push_back({(*st)->column_text(0), (*st)->column_text(1), (*st)->column_int(2)});
    }
    return out;
  });
}

}  // namespace aion::sched
