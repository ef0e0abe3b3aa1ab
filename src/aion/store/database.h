// Database: one SQLite connection to aion's state, with the settings aion relies on.
//
// open() sets WAL journaling, a busy timeout and foreign keys, checks the file with
// PRAGMA integrity_check (a corrupt or truncated file is reported with kCorrupt, copied
// aside as <file>.corrupt-<UTC time> and never modified), then applies the numbered schema
// migrations each module contributes, each in its own transaction, recorded in the
// schema_migrations table. Statements are prepared once and cached by their SQL text.
//
// A Database is NOT thread-safe: use it from one thread at a time (the daemon keeps it
// behind Store's mutex). Statement handles from prepare() are valid until the Database is
// destroyed; a statement must be finished (reset) before it is prepared again, which
// prepare() does for you.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aion/core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace aion::store {

// One schema change of one module. Versions of a module start at 1 and increase by one.
struct Migration {
  std::string_view module;
  int version;
  std::string_view name;
  std::string_view sql;  // may hold several statements
};

struct DatabaseOptions {
  std::filesystem::path path;  // ":memory:" for a private in-memory database
  int busy_timeout_ms = 5000;
  std::string synchronous =
      "normal";  // "normal": safe against a daemon crash; "full": also power loss
  bool read_only = false;
  bool check_integrity = true;
};

// A prepared statement. Bind parameters by 1-based index, step through rows, read columns
// by 0-based index. Owned by the Database's cache.
class Statement {
 public:
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& v) {
    return v ? bind(index, *v) : bind_null(index);
  }

  // True when a row is ready, false when done.
  Result<bool> step();
  // Runs a statement that returns no rows to completion.
  Status run();

  std::int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  bool column_is_null(int col) const;

  void reset();
  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

class Database;

// RAII transaction: rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  friend class Database;
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

class Database {
 public:
  static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options,
                                                std::span<const Migration> migrations = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A cached, reset statement for `sql`; errors name the SQL and SQLite's message.
  Result<Statement*> prepare(std::string_view sql);
  // Runs one or more statements without results (DDL, pragmas).
  Status exec(std::string_view sql);
  // BEGIN IMMEDIATE (takes the write lock now, so the transaction never fails to upgrade).
  Result<Transaction> begin();

  std::int64_t last_insert_rowid() const;
  int changes() const;
  // Highest applied migration version of a module (0 when none).
  Result<int> schema_version(std::string_view module);
  const std::filesystem::path& path() const { return path_; }

  // Copies the live database to `dest` with SQLite's online backup, into a temporary file
  // that is renamed into place, and verifies the copy. Refuses to overwrite unless asked.
  Status backup_to(const std::filesystem::path& dest, bool overwrite = false);

  // An error for the last failure of this connection: "<what>: <sqlite message>".
  Error last_error(std::string_view what) const;

 private:
  Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Status migrate(std::span<const Migration> migrations);

  sqlite3* db_;
  std::filesystem::path path_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// Opens a database file read-only and runs integrity_check: for checking backups.
Status verify_database(const std::filesystem::path& path);

}  // namespace aion::store
