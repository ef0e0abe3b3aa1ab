#include "aion/store/database.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

namespace aion::store {
namespace {

namespace fs = std::filesystem;

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aion-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path db_path() const { return dir_ / "aion.db"; }

  std::unique_ptr<Database> open(std::span<const Migration> m = {}, int busy_ms = 5000) {
    auto db = Database::open({.path = db_path(), .busy_timeout_ms = busy_ms}, m);
    EXPECT_TRUE(db) << db.error().message();
    return db ? std::move(*db) : nullptr;
  }

  static std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  // A database with enough rows to span many pages.
  void make_big_database() {
    constexpr Migration m[] = {
        {"t", 1, "rows", "CREATE TABLE rows(id INTEGER PRIMARY KEY, v TEXT)"}};
    auto db = open(m);
    auto tx = db->begin();
    ASSERT_TRUE(tx);
    auto st = db->prepare("INSERT INTO rows(v) VALUES (?1)");
    for (int i = 0; i < 5000; ++i)
      ASSERT_TRUE((*st)->bind(1, std::string(100, 'a' + i % 26)).run());
    ASSERT_TRUE(tx->commit());
    ASSERT_TRUE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }

  fs::path dir_;
};

constexpr Migration kV1[] = {
    {"jobs", 1, "create jobs", "CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT)"}};
constexpr Migration kV2[] = {
    {"jobs", 1, "create jobs", "CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT)"},
    {"jobs", 2, "add state", "ALTER TABLE jobs ADD COLUMN state TEXT"}};

TEST_F(DatabaseTest, MigrationsAreAppliedOnceAndRecorded) {
  {
    auto db = open(kV1);
    EXPECT_EQ(*db->schema_version("jobs"), 1);
    auto st = db->prepare("SELECT module, version, name FROM schema_migrations");
    ASSERT_TRUE(*(*st)->step());
    EXPECT_EQ((*st)->column_text(0), "jobs");
    EXPECT_EQ((*st)->column_int(1), 1);
    EXPECT_EQ((*st)->column_text(2), "create jobs");
  }
  {
    auto db = open(kV1);  // reopening applies nothing (CREATE TABLE would fail twice)
    EXPECT_EQ(*db->schema_version("jobs"), 1);
  }
  auto db = open(kV2);
  EXPECT_EQ(*db->schema_version("jobs"), 2);
  EXPECT_TRUE(db->exec("INSERT INTO jobs(name, state) VALUES ('a', 'queued')"));
}

TEST_F(DatabaseTest, NewerDatabaseIsRefused) {
  { open(kV2); }
  auto db = Database::open({.path = db_path()}, kV1);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kConflict);
  EXPECT_NE(db.error().message().find("module 'jobs'"), std::string::npos) << db.error().message();
}

TEST_F(DatabaseTest, MisnumberedMigrationsAreRefused) {
  constexpr Migration gap[] = {{"x", 1, "a", "CREATE TABLE a(x)"},
                               {"x", 3, "c", "CREATE TABLE c(x)"}};
  auto db = Database::open({.path = db_path()}, gap);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kInternal);
}

TEST_F(DatabaseTest, FailingMigrationRollsBackAndNamesItself) {
  constexpr Migration bad[] = {{"x", 1, "good", "CREATE TABLE a(x)"},
                               {"x", 2, "broken", "CREATE TABLE b(x); CREATE TABLE oops oops"}};
  auto db = Database::open({.path = db_path()}, bad);
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message().find("migration x/2 (broken)"), std::string::npos)
      << db.error().message();
  auto again = open(kV1);
  EXPECT_EQ(*again->schema_version("x"), 1);
  EXPECT_TRUE(again->exec("SELECT * FROM a"));
  EXPECT_FALSE(again->exec("SELECT * FROM b")) << "the failed migration left a table behind";
}

TEST_F(DatabaseTest, UsesWalAndForeignKeys) {
  auto db = open();
  auto mode = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*(*mode)->step());
  EXPECT_EQ((*mode)->column_text(0), "wal");
  auto fk = db->prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(*(*fk)->step());
  EXPECT_EQ((*fk)->column_int(0), 1);
}

TEST_F(DatabaseTest, TransactionRollsBackUnlessCommitted) {
  auto db = open(kV1);
  {
    auto tx = db->begin();
    ASSERT_TRUE(db->exec("INSERT INTO jobs(name) VALUES ('lost')"));
  }
  {
    auto tx = db->begin();
    ASSERT_TRUE(db->exec("INSERT INTO jobs(name) VALUES ('kept')"));
    ASSERT_TRUE(tx->commit());
  }
  auto other = open(kV1);
  auto st = other->prepare("SELECT group_concat(name) FROM jobs");
  ASSERT_TRUE(*(*st)->step());
  EXPECT_EQ((*st)->column_text(0), "kept");
}

TEST_F(DatabaseTest, StatementsAreCachedAndRoundTripValues) {
  auto db = open();
  ASSERT_TRUE(db->exec("CREATE TABLE v(i INTEGER, d REAL, t TEXT, n TEXT)"));
  auto a = db->prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4)");
  auto b = db->prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  std::optional<std::string> none;
  ASSERT_TRUE(
      (*a)->bind(1, std::int64_t{1} << 40).bind(2, 2.5).bind(3, "héllo").bind(4, none).run());
  auto s = db->prepare("SELECT i, d, t, n FROM v");
  ASSERT_TRUE(*(*s)->step());
  EXPECT_EQ((*s)->column_int(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ((*s)->column_double(1), 2.5);
  EXPECT_EQ((*s)->column_text(2), "héllo");
  EXPECT_TRUE((*s)->column_is_null(3));
  EXPECT_FALSE(*(*s)->step());
}

TEST_F(DatabaseTest, SqlErrorNamesTheStatement) {
  auto db = open();
  auto st = db->prepare("SELECT * FROM nowhere");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("no such table"), std::string::npos);
  EXPECT_NE(st.error().message().find("SELECT * FROM nowhere"), std::string::npos);
}

TEST_F(DatabaseTest, WriterWaitsForBusyTimeoutThenConflicts) {
  auto a = open(kV1, 100);
  auto b = open(kV1, 100);
  auto tx = b->begin();
  ASSERT_TRUE(tx);
  auto start = std::chrono::steady_clock::now();
  auto st = a->exec("INSERT INTO jobs(name) VALUES ('x')");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConflict);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST_F(DatabaseTest, TruncatedFileIsReportedAndPreserved) {
  make_big_database();
  auto size = fs::file_size(db_path());
  fs::resize_file(db_path(), size / 2 + 1234);  // mid-page: the b-tree now points past the end
  std::string before = read_all(db_path());
  auto db = Database::open({.path = db_path()});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(db.error().message().find(db_path().string()), std::string::npos);
  EXPECT_NE(db.error().message().find("aion admin backup"), std::string::npos)
      << db.error().message();
  EXPECT_TRUE(read_all(db_path()) == before) << "the damaged file must be left untouched";
  int copies = 0;
  for (const auto& f : fs::directory_iterator(dir_)) {
    std::string name = f.path().filename().string();
    if (name.rfind("aion.db.corrupt-", 0) == 0 && !name.ends_with("-wal")) {
      ++copies;
      EXPECT_TRUE(read_all(f.path()) == before)
          << "the preserved copy differs from the damaged file";
    }
  }
  EXPECT_EQ(copies, 1);
}

TEST_F(DatabaseTest, GarbageFileIsReportedAndPreserved) {
  std::string garbage(10000, '\x42');
  std::ofstream(db_path(), std::ios::binary) << garbage;
  auto db = Database::open({.path = db_path()});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(read_all(db_path()) == garbage);
}

TEST_F(DatabaseTest, OnlineBackupWhileAnotherConnectionWrites) {
  make_big_database();
  auto db = open();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto w = Database::open({.path = db_path()});
    ASSERT_TRUE(w);
    while (!stop) (void)(*w)->exec("INSERT INTO rows(v) VALUES ('w')");
  });
  fs::path dest = dir_ / "backup.db";
  auto st = db->backup_to(dest);
  stop = true;
  writer.join();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(verify_database(dest));
  auto copy = Database::open({.path = dest, .read_only = true});
  ASSERT_TRUE(copy);
  auto n = (*copy)->prepare("SELECT count(*) FROM rows");
  ASSERT_TRUE(*(*n)->step());
  EXPECT_GE((*n)->column_int(0), 5000);
  for (const auto& f : fs::directory_iterator(dir_)) {
    EXPECT_EQ(f.path().filename().string().find(".tmp-"), std::string::npos)
        << "left behind: " << f.path();
  }
}

TEST_F(DatabaseTest, BackupRefusesToOverwriteAndNeedsDirectory) {
  auto db = open(kV1);
  fs::path dest = dir_ / "exists.db";
  std::ofstream(dest) << "precious";
  auto st = db->backup_to(dest);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(read_all(dest), "precious");
  auto missing = db->backup_to(dir_ / "no" / "such" / "dir.db");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(DatabaseTest, VerifyRejectsGarbage) {
  std::ofstream(dir_ / "g.db") << std::string(5000, 'g');
  auto st = verify_database(dir_ / "g.db");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace aion::store
