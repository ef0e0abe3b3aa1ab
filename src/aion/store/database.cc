#include "aion/store/database.h"

#include <sqlite3.h>

#include <unistd.h>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace aion::store {
namespace fs = std::filesystem;

namespace {

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kConflict;
    case SQLITE_FULL: return ErrorCode::kResourceExhausted;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return ErrorCode::kPermissionDenied;
    case SQLITE_CANTOPEN: return ErrorCode::kUnavailable;
    case SQLITE_CONSTRAINT: return ErrorCode::kConflict;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return ErrorCode::kInvalidArgument;
    default: return ErrorCode::kIo;
  }
}

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Saves a copy of a damaged database (and its WAL) next to it; returns the copy's path.
std::string preserve_copy(const fs::path& path) {
  fs::path copy = path;
  copy += ".corrupt-" + utc_stamp();
  std::error_code ec;
  fs::copy_file(path, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) return "(could not save a copy: " + ec.message() + ")";
  fs::path wal = path;
  wal += "-wal";
  if (fs::exists(wal, ec)) {
    fs::path wal_copy = copy;
    wal_copy += "-wal";
    fs::copy_file(wal, wal_copy, fs::copy_options::overwrite_existing, ec);
  }
  return copy.string();
}

Error corrupt_error(const fs::path& path, const std::string& detail) {
  std::string copy = preserve_copy(path);
  return Error(ErrorCode::kCorrupt,
               "state database " + path.string() + " is damaged (" + detail +
                   "); it was left untouched and a copy saved as " + copy +
                   ". Restore a backup made with `aion admin backup` to that path, or move the "
                   "file away to start with an empty state");
}

}  // namespace

// ---- Statement ----

Statement& Statement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
// SQLite binds NULL for a null pointer; an empty view (whose data() may be null) is empty text.
Statement& Statement::bind(int i, std::string_view t) {
  sqlite3_bind_text(stmt_, i, t.data() ? t.data() : "", static_cast<int>(t.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_blob(int i, std::string_view b) {
  sqlite3_bind_blob(stmt_, i, b.data() ? b.data() : "", static_cast<int>(b.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e(code_for(rc), std::string(sqlite3_errmsg(db_)) + " (in: " + sql_ + ")");
  sqlite3_reset(stmt_);
  return std::unexpected(e);
}

Status Statement::run() {
  auto r = step();
  while (r && *r) r = step();
  if (!r) return std::unexpected(r.error());
  sqlite3_reset(stmt_);
  return {};
}

std::int64_t Statement::column_int(int c) const {
  return sqlite3_column_int64(stmt_, c);
}
double Statement::column_double(int c) const {
  return sqlite3_column_double(stmt_, c);
}
std::string Statement::column_text(int c) const {
  const unsigned char* t = sqlite3_column_text(stmt_, c);
  int n = sqlite3_column_bytes(stmt_, c);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(n))
           : std::string();
}
bool Statement::column_is_null(int c) const {
  return sqlite3_column_type(stmt_, c) == SQLITE_NULL;
}
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// ---- Transaction ----

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!db_) return fail(ErrorCode::kInternal, "transaction already finished");
  auto st = db_->exec("COMMIT");
  if (st) db_ = nullptr;
  return st;
}

// ---- Database ----

Result<std::unique_ptr<Database>> Database::open(const DatabaseOptions& o,
                                                 std::span<const Migration> migrations) {
  bool memory = o.path == ":memory:";
  if (!memory && o.read_only && !fs::exists(o.path)) {
    return fail(ErrorCode::kNotFound, "database " + o.path.string() + " does not exist");
  }
  sqlite3* raw = nullptr;
  int flags = (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(o.path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw, o.path));
  if (rc != SQLITE_OK) {
    return fail(code_for(rc), "cannot open database " + o.path.string() + ": " +
                                  (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, o.busy_timeout_ms);

  // The first read of a file that is not a database, or a truncated one, fails here.
  auto probe = db->exec("SELECT count(*) FROM sqlite_master");
  if (!probe) {
    if (probe.error().code() == ErrorCode::kCorrupt && !memory) {
      return std::unexpected(corrupt_error(o.path, probe.error().message()));
    }
    return std::unexpected(probe.error().context("opening " + o.path.string()));
  }
  if (o.check_integrity && !memory) {
    auto st = db->prepare("PRAGMA integrity_check");
    if (!st) {
      if (st.error().code() == ErrorCode::kCorrupt)
        return std::unexpected(corrupt_error(o.path, st.error().message()));
      return std::unexpected(st.error());
    }
    std::string verdict;
    Result<bool> row;
    while ((row = (*st)->step()) && *row) {
      if (!verdict.empty()) verdict += "; ";
      verdict += (*st)->column_text(0);
      if (verdict.size() > 300) break;
    }
    (*st)->reset();
    if (!row) return std::unexpected(corrupt_error(o.path, row.error().message()));
    if (verdict != "ok")
      return std::unexpected(corrupt_error(o.path, "integrity_check: " + verdict));
  }
  if (!o.read_only) {
    if (!memory) {
      if (auto st = db->exec("PRAGMA journal_mode=WAL"); !st) return std::unexpected(st.error());
    }
    std::string sync = o.synchronous == "full" ? "FULL" : "NORMAL";
    if (auto st = db->exec("PRAGMA synchronous=" + sync + "; PRAGMA foreign_keys=ON"); !st) {
      return std::unexpected(st.error());
    }
    if (auto st = db->migrate(migrations); !st) return std::unexpected(st.error());
  }
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt->stmt_);
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
}

Error Database::last_error(std::string_view what) const {
  return Error(code_for(sqlite3_extended_errcode(db_)),
               std::string(what) + ": " + sqlite3_errmsg(db_));
}

Result<Statement*> Database::prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return std::unexpected(
        Error(code_for(rc), std::string(sqlite3_errmsg(db_)) + " (in: " + std::string(sql) + ")"));
  }
  auto owned = std::unique_ptr<Statement>(new Statement(db_, stmt, std::string(sql)));
  Statement* out = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return out;
}

Status Database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return fail(code_for(rc), msg + " (in: " + text.substr(0, 200) + ")");
  }
  return {};
}

Result<Transaction> Database::begin() {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return std::unexpected(st.error());
  return Transaction(this);
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}
int Database::changes() const {
  return sqlite3_changes(db_);
}

Result<int> Database::schema_version(std::string_view module) {
  auto st = prepare("SELECT coalesce(max(version), 0) FROM schema_migrations WHERE module = ?1");
  if (!st) return std::unexpected(st.error());
  (*st)->bind(1, module);
  auto row = (*st)->step();
  if (!row) return std::unexpected(row.error());
  int v = static_cast<int>((*st)->column_int(0));
  (*st)->reset();
  return v;
}

Status Database::migrate(std::span<const Migration> migrations) {
  if (auto st = exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
                     " applied_at_ms INTEGER NOT NULL, PRIMARY KEY (module, version))");
      !st) {
    return st;
  }
  // Check each module's list: 1, 2, 3 ... and not behind the database.
  std::map<std::string, int, std::less<>> known;
  for (const auto& m : migrations) {
    int& last = known[std::string(m.module)];
    if (m.version != last + 1) {
      return fail(ErrorCode::kInternal, "migrations of module '" + std::string(m.module) +
                                            "' are not numbered 1, 2, 3...: found " +
                                            std::to_string(m.version) + " after " +
                                            std::to_string(last));
    }
    last = m.version;
  }
  for (const auto& [module, latest] : known) {
    auto have = schema_version(module);
    if (!have) return std::unexpected(have.error());
    if (*have > latest) {
      return fail(ErrorCode::kConflict,
                  "the state database " + path_.string() + " has schema version " +
                      std::to_string(*have) + " of module '" + module +
                      "', newer than this aiond knows (" + std::to_string(latest) +
                      "); run the newer aiond, or restore a backup made before the upgrade");
    }
  }
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (const auto& m : migrations) {
    auto have = schema_version(m.module);
    if (!have) return std::unexpected(have.error());
    if (m.version <= *have) continue;
    auto tx = begin();
    if (!tx) return std::unexpected(tx.error());
    if (auto st = exec(m.sql); !st) {
      return fail(st.error().code(), "migration " + std::string(m.module) + "/" +
                                         std::to_string(m.version) + " (" + std::string(m.name) +
                                         ") failed: " + st.error().message());
    }
    auto ins = prepare(
        "INSERT INTO schema_migrations(module, version, name, applied_at_ms) VALUES (?1, ?2, ?3, "
        "?4)");
    if (!ins) return std::unexpected(ins.error());
    (*ins)
        ->bind(1, m.module)
        .bind(2, m.version)
        .bind(3, m.name)
        .bind(4, static_cast<std::int64_t>(now_ms));
    if (auto st = (*ins)->run(); !st) return st;
    if (auto st = tx->commit(); !st) return st;
  }
  return {};
}

Status Database::backup_to(const fs::path& dest, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(dest, ec)) {
    return fail(ErrorCode::kAlreadyExists,
                "backup target " + dest.string() + " already exists; choose a new name");
  }
  if (!dest.has_parent_path() || !fs::is_directory(dest.parent_path(), ec)) {
    return fail(ErrorCode::kNotFound,
                "backup directory " + dest.parent_path().string() + " does not exist");
  }
  fs::path tmp = dest;
  tmp += ".tmp-" + std::to_string(::getpid());
  sqlite3* out = nullptr;
  int rc = sqlite3_open_v2(tmp.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = out ? sqlite3_errmsg(out) : sqlite3_errstr(rc);
    sqlite3_close_v2(out);
    return fail(code_for(rc), "cannot create backup " + tmp.string() + ": " + msg);
  }
  sqlite3_backup* b = sqlite3_backup_init(out, "main", db_, "main");
  if (!b) {
    std::string msg = sqlite3_errmsg(out);
    sqlite3_close_v2(out);
    fs::remove(tmp, ec);
    return fail(ErrorCode::kIo, "cannot start backup: " + msg);
  }
  // Copy everything in one step, under one read snapshot. Writers are not blocked by it (the
  // source is in WAL mode), whereas a copy in several steps restarts from page 1 whenever
  // another connection commits between two steps, and never ends under a steady writer.
  do {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(5);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  int final_rc = rc == SQLITE_DONE ? sqlite3_errcode(out) : rc;
  std::string msg = sqlite3_errmsg(out);
  // The copy inherits WAL mode from page 1; a backup is one self-contained file.
  if (final_rc == SQLITE_OK)
    sqlite3_exec(out, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  sqlite3_close_v2(out);
  if (final_rc != SQLITE_OK) {
    fs::remove(tmp, ec);
    return fail(code_for(final_rc), "backup to " + dest.string() + " failed: " + msg);
  }
  if (auto st = verify_database(tmp); !st) {
    fs::remove(tmp, ec);
    return st;
  }
  fs::rename(tmp, dest, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return fail(ErrorCode::kIo,
                "cannot move backup into place at " + dest.string() + ": " + ec.message());
  }
  return {};
}

Status verify_database(const fs::path& path) {
  // Not through open(): checking a file must never preserve copies of it or migrate it.
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(raw);
    return fail(code_for(rc), "cannot open " + path.string());
  }
  std::string verdict;
  auto cb = [](void* arg, int, char** values, char**) {
    auto* v = static_cast<std::string*>(arg);
    if (!v->empty()) *v += "; ";
    *v += values[0] ? values[0] : "";
    return 0;
  };
  char* err = nullptr;
  rc = sqlite3_exec(raw, "PRAGMA integrity_check", cb, &verdict, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close_v2(raw);
  if (rc != SQLITE_OK)
    return fail(ErrorCode::kCorrupt, path.string() + " is not a valid database: " + msg);
  if (verdict != "ok")
    return fail(ErrorCode::kCorrupt, path.string() + " failed integrity_check: " + verdict);
  return {};
}

}  // namespace aion::store
