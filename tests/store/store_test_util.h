// Helpers shared by the store tests: a fresh directory per test and small file utilities.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "aion/store/database.h"
#include "support/temp_dir.h"

namespace aion::store::test_util {

namespace fs = std::filesystem;

// Base fixture: dir() is an empty directory of this test only (a TempDir), removed after the
// test.
class StoreTest : public ::testing::Test {
 protected:
  const fs::path& dir() const { return dir_.path(); }
  fs::path db_path() const { return dir() / "state.db"; }

  // Opens db_path() (or `path`) and fails the test when that fails.
  std::unique_ptr<Database> open_ok(std::span<const Migration> migrations = {},
                                    int busy_timeout_ms = 5000, fs::path path = {}) {
    DatabaseOptions o;
    o.path = path.empty() ? db_path() : path;
    o.busy_timeout_ms = busy_timeout_ms;
    auto db = Database::open(o, migrations);
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error().message());
    return db ? std::move(*db) : nullptr;
  }

  // Opens with `o` (path defaulting to db_path()) and fails the test when that fails.
  std::unique_ptr<Database> open_with(DatabaseOptions o,
                                      std::span<const Migration> migrations = {}) {
    if (o.path.empty()) o.path = db_path();
    auto db = Database::open(o, migrations);
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error().message());
    return db ? std::move(*db) : nullptr;
  }

  static Result<std::unique_ptr<Database>> open_at(const fs::path& path,
                                                   std::span<const Migration> migrations = {}) {
    DatabaseOptions o;
    o.path = path;
    return Database::open(o, migrations);
  }

 private:
  ::aion::testing::TempDir dir_{"store"};
};

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Files in `dir` whose name starts with `prefix`.
inline std::vector<fs::path> files_starting_with(const fs::path& dir, std::string_view prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path());
  }
  return out;
}

// The single integer a query returns; fails the test on error.
inline std::int64_t query_int(Database& db, std::string_view sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message());
  if (!st) return -1;
  auto row = (*st)->step();
  EXPECT_TRUE(row.has_value() && *row) << sql;
  std::int64_t v = (row && *row) ? (*st)->column_int(0) : -1;
  (*st)->reset();
  return v;
}

inline std::string query_text(Database& db, std::string_view sql) {
  auto st = db.prepare(sql);
  EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message());
  if (!st) return {};
  auto row = (*st)->step();
  EXPECT_TRUE(row.has_value() && *row) << sql;
  std::string v = (row && *row) ? (*st)->column_text(0) : std::string();
  (*st)->reset();
  return v;
}

}  // namespace aion::store::test_util
