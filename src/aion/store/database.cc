#include "aion/store/database.h"
#include "aion/core/fd.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <system_error>
#include <utility>

namespace aion::store {
namespace fs = std::filesystem;

namespace {

constexpr int kBackupPagesPerStep = 256;

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CONSTRAINT: return ErrorCode::kConflict;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG: return ErrorCode::kResourceExhausted;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return ErrorCode::kPermissionDenied;
    case SQLITE_CANTOPEN: return ErrorCode::kUnavailable;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return ErrorCode::kInvalidArgument;
    case SQLITE_MISUSE:
    case SQLITE_INTERNAL: return ErrorCode::kInternal;
    default: return ErrorCode::kIo;
  }
}

// "20260311T142501Z": sortable and safe in a file name.
std::string file_stamp(Clock::Wall t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

fs::path with_suffix(const fs::path& p, std::string_view suffix) {
  fs::path out = p;
  out += std::string(suffix);
  return out;
}

// Copies a damaged database, and the journal files that belong to it, to
// <file>.corrupt-<stamp>[-N] without replacing anything. Returns a sentence for the error.
std::string preserve_copy(const fs::path& path, const Clock& clock) {
  const std::string base = ".corrupt-" + file_stamp(clock.wall());
  std::error_code ec;
  fs::path copy;
  for (int n = 1; n <= 100; ++n) {
    copy = with_suffix(path, n == 1 ? base : base + "-" + std::to_string(n));
    if (fs::copy_file(path, copy, fs::copy_options::none, ec)) break;
    if (ec != std::errc::file_exists) break;
  }
  if (ec) return "saving a copy failed (" + ec.message() + "), so copy it yourself first";
  std::string saved = "a copy was saved as " + copy.string();
  for (const char* journal : {"-wal", "-journal"}) {
    fs::path from = with_suffix(path, journal);
    if (!fs::exists(from, ec)) continue;
    fs::path to = with_suffix(copy, journal);
    if (fs::copy_file(from, to, fs::copy_options::none, ec)) {
      saved += " (and " + to.string() + ")";
    } else {
      saved += " (but copying " + from.string() + " failed: " + ec.message() + ")";
    }
  }
  return saved;
}

Error corrupt_error(const fs::path& path, const std::string& detail, const Clock& clock) {
  return Error(ErrorCode::kCorrupt,
               "state database " + path.string() + " is damaged (" + detail +
                   "). It was left untouched and " + preserve_copy(path, clock) +
                   ". Restore a backup made with `aion admin backup` to " + path.string() +
                   ", or move the file away to start with an empty state");
}

// A directory of its own for the copy while SQLite writes, scrubs and checks it: created
// fresh with mode 0700 by mkdtemp, so no other user can plant a link or a file in it.
// Removed with its contents on destruction.
class PrivateDir {
 public:
  static Result<PrivateDir> create(const fs::path& near) {
    std::string tmpl = (near / ".aion-backup-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return std::unexpected(
          errno_error(errno, "creating a private directory in " + near.string()));
    }
    return PrivateDir(tmpl);
  }
  PrivateDir(PrivateDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  PrivateDir& operator=(PrivateDir&&) = delete;
  ~PrivateDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit PrivateDir(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
};

// Copies the finished backup `from` into the directory `dir_fd` under `name`. The bytes go
// into a new file created there with O_EXCL|O_NOFOLLOW (so a link planted at any name is
// never followed), handed to `owner` with fchown on its fd, synced, then renamed onto
// `name` within the same directory fd: renameat replaces a link at `name` instead of
// following it, and RENAME_NOREPLACE refuses an existing one unless `overwrite`.
Status place_copy(const fs::path& from, int dir_fd, const std::string& name, const fs::path& dest,
                  const BackupOptions& options) {
  Fd in(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (in.get() < 0) return std::unexpected(errno_error(errno, "reading the backup copy"));
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int out_fd = -1;
  for (int attempt = 0; attempt < 100 && out_fd < 0; ++attempt) {
    tmp = "." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter.fetch_add(1));
    out_fd =
        ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out_fd < 0 && errno != EEXIST) break;
  }
  if (out_fd < 0) {
    return std::unexpected(errno_error(errno, "creating a temporary file beside " + dest.string()));
  }
  Fd out(out_fd);
  auto drop_tmp = [&] { ::unlinkat(dir_fd, tmp.c_str(), 0); };
  if (options.file_owner && ::fchown(out.get(), *options.file_owner, static_cast<gid_t>(-1)) != 0) {
    int err = errno;
    drop_tmp();
    return std::unexpected(errno_error(err, "handing the backup " + dest.string() + " to uid " +
                                                std::to_string(*options.file_owner)));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      drop_tmp();
      return std::unexpected(errno_error(err, "reading the backup copy"));
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buf + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        drop_tmp();
        return std::unexpected(errno_error(err, "writing the backup " + dest.string()));
      }
      done += w;
    }
  }
  if (::fsync(out.get()) != 0) {
    int err = errno;
    drop_tmp();
    return std::unexpected(errno_error(err, "syncing the backup " + dest.string()));
  }
  int rc = options.overwrite
               ? ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str())
               : ::renameat2(dir_fd, tmp.c_str(), dir_fd, name.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && !options.overwrite && (errno == EINVAL || errno == ENOSYS)) {
    // The filesystem lacks RENAME_NOREPLACE; linkat() refuses an existing name too.
    rc = ::linkat(dir_fd, tmp.c_str(), dir_fd, name.c_str(), 0);
  }
  int err = errno;
  drop_tmp();  // after a rename the name is gone already; after a link it is the second one
  if (rc != 0) {
    if (err == EEXIST) {
      return fail(ErrorCode::kAlreadyExists,
                  "backup target " + dest.string() + " already exists; choose a new name");
    }
    return std::unexpected(errno_error(err, "moving the backup into place at " + dest.string()));
  }
  if (::fsync(dir_fd) != 0) {
    return std::unexpected(
        errno_error(errno, "backup written to " + dest.string() + " but syncing its directory"));
  }
  return {};
}

}  // namespace

// ---- Statement ----

Statement& Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

Statement& Statement::bind(int i, std::int64_t v) {
  return check_bind(sqlite3_bind_int64(stmt_, i, v), i);
}
Statement& Statement::bind(int i, double v) {
  return check_bind(sqlite3_bind_double(stmt_, i, v), i);
}
// SQLite binds a null pointer as NULL, and an empty view's data() may be null.
Statement& Statement::bind(int i, std::string_view t) {
  return check_bind(sqlite3_bind_text64(stmt_, i, t.data() ? t.data() : "", t.size(),
                                        SQLITE_TRANSIENT, SQLITE_UTF8),
                    i);
}
Statement& Statement::bind_blob(int i, std::string_view b) {
  return check_bind(
      sqlite3_bind_blob64(stmt_, i, b.data() ? b.data() : "", b.size(), SQLITE_TRANSIENT), i);
}
Statement& Statement::bind_null(int i) {
  return check_bind(sqlite3_bind_null(stmt_, i), i);
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    Error e(code_for(bind_rc_), "cannot bind parameter " + std::to_string(bind_index_) + ": " +
                                    sqlite3_errstr(bind_rc_) + " (in: " + sql_ + ")");
    reset();
    return std::unexpected(std::move(e));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e(code_for(rc), std::string(sqlite3_errmsg(db_)) + " (in: " + sql_ + ")");
  sqlite3_reset(stmt_);
  return std::unexpected(std::move(e));
}

Status Statement::run() {
  Result<bool> r;
  while ((r = step()) && *r) {
  }
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
  bind_rc_ = SQLITE_OK;
  bind_index_ = 0;
}

// ---- Transaction ----

Transaction::~Transaction() {
  if (db_) {
    ignore(db_->exec("ROLLBACK"),
           "fails only when SQLite already rolled back after an error; nothing is left");
  }
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
  const bool memory = o.path == ":memory:";
  if (o.synchronous != "normal" && o.synchronous != "full") {
    return fail(ErrorCode::kInvalidArgument,
                "store synchronous mode must be \"normal\" or "
                "\"full\", not \"" +
                    o.synchronous + "\"");
  }
  if (o.busy_timeout_ms < 0) {
    return fail(ErrorCode::kInvalidArgument, "store busy timeout must not be negative");
  }
  std::error_code ec;
  if (!memory && o.read_only && !fs::exists(o.path, ec)) {
    return fail(ErrorCode::kNotFound, "database " + o.path.string() + " does not exist");
  }
  sqlite3* raw = nullptr;
  int flags = (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(o.path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw, o.path, o.clock ? *o.clock : Clock::system()));
  if (rc != SQLITE_OK) {
    return fail(code_for(rc), "cannot open database " + o.path.string() + ": " +
                                  (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, o.busy_timeout_ms);

  if (!memory) {
    // Until the file has passed its checks, closing must not checkpoint a WAL into it.
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (auto st = db->check_file(o); !st) return std::unexpected(st.error());
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  }
  if (o.read_only) return db;

  if (!memory) {
    // WAL is what lets readers run beside the writer; without it the contract above breaks.
    auto mode = db->prepare("PRAGMA journal_mode=WAL");
    if (!mode) return std::unexpected(mode.error());
    auto row = (*mode)->step();
    if (!row) return std::unexpected(row.error().context("enabling WAL on " + o.path.string()));
    std::string got = *row ? (*mode)->column_text(0) : "";
    (*mode)->reset();
    if (got != "wal") {
      return fail(ErrorCode::kUnsupported, "cannot use WAL journaling for " + o.path.string() +
                                               " (SQLite chose '" + got +
                                               "'); put the state directory on a local filesystem");
    }
  }
  std::string sync = o.synchronous == "full" ? "FULL" : "NORMAL";
  if (auto st = db->exec("PRAGMA synchronous=" + sync + "; PRAGMA foreign_keys=ON"); !st) {
    return std::unexpected(st.error());
  }
  if (auto st = db->migrate(migrations); !st) return std::unexpected(st.error());
  return db;
}

Status Database::check_file(const DatabaseOptions& o) {
  // The first read of a file that is not a database fails here with SQLITE_NOTADB.
  if (auto probe = exec("SELECT count(*) FROM sqlite_master"); !probe) {
    if (probe.error().code() == ErrorCode::kCorrupt) {
      return std::unexpected(corrupt_error(path_, probe.error().message(), clock_));
    }
    return std::unexpected(probe.error().context("opening database " + path_.string()));
  }
  if (!o.check_integrity) return {};
  auto st = prepare("PRAGMA integrity_check");
  if (!st) {
    if (st.error().code() == ErrorCode::kCorrupt) {
      return std::unexpected(corrupt_error(path_, st.error().message(), clock_));
    }
    return std::unexpected(st.error().context("checking database " + path_.string()));
  }
  std::string verdict;
  Result<bool> row;
  while ((row = (*st)->step()) && *row) {
    if (!verdict.empty()) verdict += "; ";
    verdict += (*st)->column_text(0);
    if (verdict.size() > 300) break;  // the first problems say enough
  }
  (*st)->reset();
  if (!row) {
    if (row.error().code() == ErrorCode::kCorrupt) {
      return std::unexpected(corrupt_error(path_, row.error().message(), clock_));
    }
    return std::unexpected(row.error().context("checking database " + path_.string()));
  }
  if (verdict != "ok") {
    return std::unexpected(corrupt_error(path_, "integrity_check: " + verdict, clock_));
  }
  return {};
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
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) {
    return std::unexpected(last_error("preparing " + std::string(sql)));
  }
  std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  if (!stmt || rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    sqlite3_finalize(stmt);
    return fail(
        ErrorCode::kInternal,
        "prepare() takes exactly one SQL statement (use exec() for several): " + std::string(sql));
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
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return fail(code_for(rc), msg + " (in: " + text + ")");
  }
  return {};
}

Result<Transaction> Database::begin(TransactionMode mode) {
  if (!sqlite3_get_autocommit(db_)) {
    return fail(ErrorCode::kConflict, "a transaction is already open on " + path_.string() +
                                          "; SQLite transactions do not nest");
  }
  auto st = exec(mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!st) return std::unexpected(st.error());
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
  // Check each module's list first: 1, 2, 3 ... A gap or repeat is a bug in this binary.
  std::map<std::string, int, std::less<>> latest;
  for (const auto& m : migrations) {
    int& last = latest[std::string(m.module)];
    if (m.version != last + 1) {
      return fail(ErrorCode::kInternal, "migrations of module '" + std::string(m.module) +
                                            "' are not numbered 1, 2, 3...: found " +
                                            std::to_string(m.version) + " after " +
                                            std::to_string(last));
    }
    last = m.version;
  }
  if (auto st = exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
                     " applied_at_ms INTEGER NOT NULL, PRIMARY KEY (module, version))");
      !st) {
    return st;
  }
  for (const auto& [module, known] : latest) {
    auto have = schema_version(module);
    if (!have) return std::unexpected(have.error());
    if (*have > known) {
      return fail(ErrorCode::kConflict,
                  "the state database " + path_.string() + " has schema version " +
                      std::to_string(*have) + " of module '" + module +
                      "', newer than this program knows (" + std::to_string(known) +
                      "); run the newer aion, or restore a backup made before the upgrade");
    }
  }
  for (const auto& m : migrations) {
    auto have = schema_version(m.module);
    if (!have) return std::unexpected(have.error());
    if (m.version <= *have) continue;
    const std::string what = "migration " + std::string(m.module) + "/" +
                             std::to_string(m.version) + " (" + std::string(m.name) + ")";
    auto tx = begin();
    if (!tx) return std::unexpected(tx.error().context(what));
    if (auto st = exec(m.sql); !st) {
      return fail(st.error().code(),
                  what + " failed on " + path_.string() + ": " + st.error().message());
    }
    auto ins = prepare(
        "INSERT INTO schema_migrations(module, version, name, applied_at_ms)"
        " VALUES (?1, ?2, ?3, ?4)");
    if (!ins) return std::unexpected(ins.error());
    (*ins)->bind(1, m.module).bind(2, m.version).bind(3, m.name).bind(4, to_unix_ms(clock_.wall()));
    if (auto st = (*ins)->run(); !st) return std::unexpected(st.error().context(what));
    if (auto st = tx->commit(); !st) return std::unexpected(st.error().context(what));
  }
  return {};
}

Status Database::backup_to(const fs::path& dest, bool overwrite) {
  return backup_to(dest, BackupOptions{.overwrite = overwrite});
}

namespace {

// The directory of a backup target, opened: every later step works relative to this fd, so
// swapping a path component afterwards changes nothing; the owner check looks at what was
// opened, not at a name. Refuses a target that exists unless options.overwrite.
Result<Fd> open_backup_dir(const fs::path& dest, const std::string& name,
                           const BackupOptions& options) {
  fs::path dir = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return fail(ErrorCode::kNotFound, "backup directory " + dir.string() + " does not exist");
    }
    return std::unexpected(errno_error(errno, "opening backup directory " + dir.string()));
  }
  if (options.dir_owner) {
    struct stat st {};
    if (::fstat(dir_fd.get(), &st) != 0 || st.st_uid != *options.dir_owner) {
      return fail(ErrorCode::kPermissionDenied,
                  "backups go into a directory you own; " + dir.string() + " is not yours");
    }
  }
  struct stat existing {};
  if (!options.overwrite &&
      ::fstatat(dir_fd.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    return fail(ErrorCode::kAlreadyExists,
                "backup target " + dest.string() + " already exists; choose a new name");
  }
  return dir_fd;
}

// Copies every page of `src` into `out` with SQLite's online backup.
Status copy_pages(sqlite3* src, sqlite3* out, const fs::path& dest) {
  sqlite3_backup* b = sqlite3_backup_init(out, "main", src, "main");
  if (!b) {
    return fail(code_for(sqlite3_errcode(out)),
                "cannot start backup to " + dest.string() + ": " + sqlite3_errmsg(out));
  }
  int rc;
  do {
    rc = sqlite3_backup_step(b, kBackupPagesPerStep);
  } while (rc == SQLITE_OK);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return fail(code_for(rc), "backup to " + dest.string() + " failed: " + sqlite3_errstr(rc));
  }
  return {};
}

// Makes the copy one self-contained file: it inherits WAL mode from page 1. A scrub is
// followed by VACUUM, which rewrites every page: no freed page keeps the bytes.
Status finish_copy(sqlite3* out, const fs::path& dest, const std::string& scrub_sql) {
  std::string finish = "PRAGMA journal_mode=DELETE;";
  if (!scrub_sql.empty()) finish += scrub_sql + ";VACUUM;";
  char* err = nullptr;
  int rc = sqlite3_exec(out, finish.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK) {
    return fail(code_for(rc), "finishing backup " + dest.string() + ": " + msg);
  }
  return {};
}

}  // namespace

Status Database::backup_to(const fs::path& dest, const BackupOptions& options) {
  if (!sqlite3_get_autocommit(db_)) {
    return fail(ErrorCode::kConflict, "cannot back up " + path_.string() +
                                          " inside an open transaction; finish it first");
  }
  const std::string name = dest.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return fail(ErrorCode::kInvalidArgument,
                "backup target " + dest.string() + " names a directory; give a file name");
  }
  auto dir_fd = open_backup_dir(dest, name, options);
  if (!dir_fd) return std::unexpected(dir_fd.error());

  fs::path near = path_.has_parent_path() && path_ != ":memory:" ? path_.parent_path()
                                                                 : fs::temp_directory_path();
  auto priv = PrivateDir::create(near);
  if (!priv) return std::unexpected(priv.error().context("backup to " + dest.string()));
  const fs::path tmp = priv->path() / "backup.db";

  // One read transaction for the whole copy: every step reads the same snapshot, so commits
  // by other connections neither restart the copy nor wait for it (WAL).
  auto snapshot = begin(TransactionMode::kDeferred);
  if (!snapshot) return std::unexpected(snapshot.error());
  if (auto st = exec("SELECT count(*) FROM sqlite_master"); !st) return st;

  sqlite3* out = nullptr;
  int rc =
      sqlite3_open_v2(tmp.c_str(), &out,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> out_guard(out, sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    return fail(code_for(rc), "cannot create backup file " + tmp.string() + ": " +
                                  (out ? sqlite3_errmsg(out) : sqlite3_errstr(rc)));
  }
  if (auto st = copy_pages(db_, out, dest); !st) return st;
  if (auto st = snapshot->commit(); !st) return st;
  if (auto st = finish_copy(out, dest, options.scrub_sql); !st) return st;
  out_guard.reset();

  if (auto st = verify_database(tmp); !st) {
    return std::unexpected(st.error().context("backup to " + dest.string()));
  }
  return place_copy(tmp, dir_fd->get(), name, dest, options);
}

Status verify_database(const fs::path& path) {
  // Not through open(): checking a file must never save copies of it or migrate it.
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return fail(ErrorCode::kNotFound, "database file " + path.string() + " does not exist");
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    return fail(code_for(rc), "cannot open " + path.string() + ": " +
                                  (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  std::string verdict;
  auto collect = [](void* arg, int, char** values, char**) {
    auto* v = static_cast<std::string*>(arg);
    if (!v->empty()) *v += "; ";
    *v += values[0] ? values[0] : "";
    return v->size() > 300 ? 1 : 0;  // the first problems say enough
  };
  char* err = nullptr;
  rc = sqlite3_exec(raw, "PRAGMA integrity_check", collect, &verdict, &err);
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc != SQLITE_OK && rc != SQLITE_ABORT) {
    return fail(code_for(rc), path.string() + " is not a valid database: " + msg);
  }
  if (verdict != "ok") {
    return fail(ErrorCode::kCorrupt, path.string() + " failed integrity_check: " + verdict);
  }
  return {};
}

}  // namespace aion::store
