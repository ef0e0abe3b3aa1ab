// Database: one SQLite connection to aion's state, with the settings aion relies on.
//
// open() checks the file first: a file that is not a database, is truncated or fails
// PRAGMA integrity_check is reported with kCorrupt (naming the file, the damage and what to
// do), copied aside as <file>.corrupt-<UTC time> (and its -wal/-journal beside it) and never
// modified. It then sets WAL journaling, the busy timeout, the synchronous level and foreign
// keys, and applies the numbered schema migrations each module contributes, each in its own
// transaction, recorded in the table schema_migrations(module, version, name, applied_at_ms).
//
// Statements are prepared once and cached by their SQL text, so SQL should be constant text
// with `?N` parameters. Errors name the SQL and SQLite's message.
//
// A Database is NOT thread-safe: use it from one thread at a time (the daemon keeps it behind
// Store's mutex). Statement pointers from prepare() stay valid until the Database is
// destroyed. Other connections (other Database objects, other processes) may use the same
// file at once: readers never wait, a writer waits up to busy_timeout_ms for the write lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aion/core/clock.h"
#include "aion/core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace aion::store {

// One schema change of one module. A module's versions start at 1 and go up by one; `sql`
// may hold several statements but no transaction control (open() wraps it in one).
// How backup_to writes its copy.
struct BackupOptions {
  bool overwrite = false;
  // The destination directory must be owned by this uid (checked on the opened directory).
  std::optional<uid_t> dir_owner;
  // The new file is handed to this uid with fchown on its fd before any byte is written.
  std::optional<uid_t> file_owner;
  // SQL run on the copy (never on the live database) before it is checked, e.g. to remove
  // other users' private fields; VACUUM follows so freed pages keep none of the bytes.
  std::string scrub_sql;
};

struct Migration {
  std::string_view module;
  int version;
  std::string_view name;
  std::string_view sql;
};

struct DatabaseOptions {
  std::filesystem::path path;  // ":memory:" for a private in-memory database
  int busy_timeout_ms = 5000;  // how long a write waits for another connection's lock
  // "normal": survives a daemon crash; "full": also a power loss. Anything else is refused.
  std::string synchronous = "normal";
  bool read_only = false;        // no migrations, no writes; the file must exist
  bool check_integrity = true;   // PRAGMA integrity_check at open (skipped for ":memory:")
  const Clock* clock = nullptr;  // for applied_at_ms and corrupt-copy names; null: system
};

// A prepared statement, owned by its Database's cache. Bind parameters by 1-based index, step
// through rows, read columns by 0-based index of the current row. A bind that fails (index
// out of range, value too big) is reported by the next step() or run().
class Statement {
 public:
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);  // empty text is '', not NULL
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& v) {
    return v ? bind(index, *v) : bind_null(index);
  }

  // True when a row is ready, false when done. On error the statement is reset.
  Result<bool> step();
  // Runs the statement to completion (discarding rows) and resets it, keeping the bindings.
  Status run();

  // Column getters convert like SQLite does: NULL reads as 0 or "".
  std::int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  bool column_is_null(int col) const;

  // Rewinds to before the first row and clears the bindings.
  void reset();
  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  Statement& check_bind(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  int bind_rc_ = 0;  // first failed bind since the last reset
  int bind_index_ = 0;
};

class Database;

enum class TransactionMode {
  kImmediate,  // takes the write lock at begin(), so no statement inside fails for a lock
  kDeferred,   // takes locks when first needed; for read-only snapshots
};

// RAII transaction: rolls back on destruction unless commit() succeeded. Must not outlive
// its Database.
class Transaction {
 public:
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  // kInternal when already committed; on failure the destructor still rolls back.
  Status commit();

 private:
  friend class Database;
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

class Database {
 public:
  // Opens (creating when allowed) and checks the database, then applies pending migrations.
  // Errors: kCorrupt (damaged file, copy saved), kConflict (the file has a newer schema
  // version of a module than `migrations` knows), kInternal (a module's versions are not
  // 1, 2, 3...), kNotFound (read_only and no file), the failing migration's error otherwise.
  static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options,
                                                std::span<const Migration> migrations = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A cached, reset statement for `sql` (exactly one SQL statement).
  Result<Statement*> prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, pragmas).
  Status exec(std::string_view sql);
  // kConflict when a transaction is already open or another connection holds the write lock
  // longer than the busy timeout.
  Result<Transaction> begin(TransactionMode mode = TransactionMode::kImmediate);

  std::int64_t last_insert_rowid() const;
  int changes() const;
  // Highest applied migration version of a module (0 when none).
  Result<int> schema_version(std::string_view module);
  const std::filesystem::path& path() const { return path_; }

  // Online backup: copies one consistent snapshot of the database (other connections keep
  // writing meanwhile) with SQLite's backup API into a private 0700 directory beside the
  // database, scrubs and verifies it there with integrity_check, then copies it into a file
  // created with O_EXCL|O_NOFOLLOW in `dest`'s directory (opened once; every later step is
  // relative to that fd) and renames it into place, so `dest` is either absent or a complete,
  // self-contained (non-WAL) database, and no link planted in that directory is followed.
  // kAlreadyExists when `dest` exists unless `overwrite`; kNotFound when its directory does
  // not; kPermissionDenied when `dir_owner` is set and does not own it; kConflict inside a
  // transaction.
  Status backup_to(const std::filesystem::path& dest, bool overwrite = false);
  Status backup_to(const std::filesystem::path& dest, const BackupOptions& options);

 private:
  Database(sqlite3* db, std::filesystem::path path, const Clock& clock)
      : db_(db), path_(std::move(path)), clock_(clock) {}
  Error last_error(std::string_view what) const;
  Status check_file(const DatabaseOptions& options);
  Status migrate(std::span<const Migration> migrations);

  sqlite3* db_;
  std::filesystem::path path_;
  const Clock& clock_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// Opens a database file read-only and runs integrity_check, for checking a backup. Never
// modifies the file or saves copies of it. kCorrupt when it is not a sound database.
Status verify_database(const std::filesystem::path& path);

}  // namespace aion::store
