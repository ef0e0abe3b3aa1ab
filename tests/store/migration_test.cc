#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aion/core/clock.h"
#include "aion/store/database.h"
#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using test_util::query_int;
using test_util::query_text;
using ::testing::HasSubstr;

constexpr Migration kV1 = {"jobs", 1, "create jobs",
                           "CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT NOT NULL)"};
constexpr Migration kV2 = {"jobs", 2, "add jobs.owner", "ALTER TABLE jobs ADD COLUMN owner TEXT"};

bool table_exists(Database& db, const std::string& name) {
  return query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" +
                           name + "'") == 1;
}

bool column_exists(Database& db, const std::string& table, const std::string& column) {
  return query_int(db, "SELECT count(*) FROM pragma_table_info('" + table + "') WHERE name = '" +
                           column + "'") == 1;
}

class MigrationTest : public test_util::StoreTest {};

TEST_F(MigrationTest, AppliedOnceAndRecordedWithModuleVersionNameAndClockTime) {
  constexpr Migration m[] = {kV1};
  ManualClock clock;
  clock.advance(std::chrono::milliseconds(1234));
  auto db = open_with({.clock = &clock}, m);
  ASSERT_TRUE(db);
  EXPECT_TRUE(table_exists(*db, "jobs"));
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM schema_migrations"), 1);
  EXPECT_EQ(
      query_text(*db, "SELECT module || '/' || version || '/' || name FROM schema_migrations"),
      "jobs/1/create jobs");
  EXPECT_EQ(query_int(*db, "SELECT applied_at_ms FROM schema_migrations"),
            to_unix_ms(clock.wall()));
  auto v = db->schema_version("jobs");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1);
  auto none = db->schema_version("unknown");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

TEST_F(MigrationTest, ReopeningAppliesNothingNew) {
  constexpr Migration m[] = {kV1};
  {
    auto db = open_ok(m);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO jobs(name) VALUES ('kept')"));
  }
  // Re-running "CREATE TABLE jobs" would fail, so a successful open proves it was skipped.
  auto db = open_ok(m);
  ASSERT_TRUE(db);
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM schema_migrations"), 1);
  EXPECT_EQ(query_text(*db, "SELECT name FROM jobs"), "kept");
}

TEST_F(MigrationTest, AddingVersionTwoLaterAppliesOnlyIt) {
  {
    constexpr Migration m[] = {kV1};
    auto db = open_ok(m);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO jobs(name) VALUES ('old')"));
  }
  constexpr Migration m[] = {kV1, kV2};
  auto db = open_ok(m);
  ASSERT_TRUE(db);
  EXPECT_TRUE(column_exists(*db, "jobs", "owner"));
  EXPECT_EQ(query_text(*db, "SELECT name FROM jobs"), "old");
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(query_text(*db, "SELECT name FROM schema_migrations WHERE version = 2"),
            "add jobs.owner");
  auto v = db->schema_version("jobs");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 2);
}

TEST_F(MigrationTest, ModulesAreVersionedIndependently) {
  constexpr Migration m[] = {
      kV1,
      {"events", 1, "create events", "CREATE TABLE events(id INTEGER PRIMARY KEY)"},
      kV2,
  };
  auto db = open_ok(m);
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->schema_version("jobs"), 2);
  EXPECT_EQ(*db->schema_version("events"), 1);
  EXPECT_TRUE(table_exists(*db, "events"));
}

TEST_F(MigrationTest, DatabaseNewerThanBinaryIsRefusedWithConflictNamingTheModule) {
  {
    constexpr Migration m[] = {kV1, kV2};
    ASSERT_TRUE(open_ok(m));
  }
  constexpr Migration m[] = {kV1};
  auto db = open_at(db_path(), m);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(db.error().message(), HasSubstr("'jobs'"));
  EXPECT_THAT(db.error().message(), HasSubstr(db_path().string()));

  // The refusal changed nothing: the newer binary still opens it as it left it.
  constexpr Migration both[] = {kV1, kV2};
  auto again = open_ok(both);
  ASSERT_TRUE(again);
  EXPECT_EQ(query_int(*again, "SELECT count(*) FROM schema_migrations"), 2);
}

TEST_F(MigrationTest, GapInVersionNumbersIsRefused) {
  constexpr Migration m[] = {kV1, {"jobs", 3, "skips two", "CREATE TABLE skipped(x)"}};
  auto db = open_at(db_path(), m);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(db.error().message(), HasSubstr("jobs"));

  auto plain = open_ok();
  ASSERT_TRUE(plain);
  EXPECT_FALSE(table_exists(*plain, "skipped"));
  EXPECT_FALSE(table_exists(*plain, "jobs"));
}

TEST_F(MigrationTest, ListNotStartingAtOneIsRefused) {
  constexpr Migration m[] = {{"jobs", 2, "starts at two", "CREATE TABLE jobs(x)"}};
  auto db = open_at(db_path(), m);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(db.error().message(), HasSubstr("jobs"));
}

TEST_F(MigrationTest, RepeatedVersionIsRefusedAndNothingIsApplied) {
  constexpr Migration m[] = {kV1, {"jobs", 1, "again", "CREATE TABLE again(x)"}};
  auto db = open_at(db_path(), m);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kInternal);
  auto plain = open_ok();
  ASSERT_TRUE(plain);
  EXPECT_FALSE(table_exists(*plain, "jobs"));
  EXPECT_FALSE(table_exists(*plain, "again"));
}

TEST_F(MigrationTest, FailingMigrationIsReportedRolledBackAndNotRecorded) {
  constexpr Migration m[] = {
      kV1,
      {"jobs", 2, "half broken",
       "CREATE TABLE partial(x INTEGER);"
       "INSERT INTO jobs(name) VALUES ('from v2');"
       "CREATE TABLE broken(;"},
  };
  auto db = open_at(db_path(), m);
  ASSERT_FALSE(db);
  const std::string& msg = db.error().message();
  EXPECT_THAT(msg, HasSubstr("jobs"));
  EXPECT_THAT(msg, HasSubstr("2"));
  EXPECT_THAT(msg, HasSubstr("half broken"));

  constexpr Migration good[] = {kV1};
  auto after = open_ok(good);
  ASSERT_TRUE(after);
  EXPECT_FALSE(table_exists(*after, "partial"));
  EXPECT_EQ(query_int(*after, "SELECT count(*) FROM jobs"), 0);
  EXPECT_EQ(query_int(*after, "SELECT count(*) FROM schema_migrations WHERE version = 2"), 0);
  // Version 1, applied in its own transaction before the failure, stays.
  EXPECT_EQ(*after->schema_version("jobs"), 1);
  EXPECT_TRUE(table_exists(*after, "jobs"));
}

TEST_F(MigrationTest, MigrationCanBeRetriedAfterItWasFixed) {
  {
    constexpr Migration bad[] = {{"jobs", 1, "typo", "CREATE TABLE jobs(id INTEGER PRIMARY KEY;"}};
    ASSERT_FALSE(open_at(db_path(), bad));
  }
  constexpr Migration m[] = {kV1};
  auto db = open_ok(m);
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->schema_version("jobs"), 1);
  EXPECT_TRUE(table_exists(*db, "jobs"));
}

}  // namespace
}  // namespace aion::store
