#include "aion/store/database.h"

#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <optional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using namespace std::chrono_literals;
using test_util::query_int;
using test_util::query_text;
using ::testing::HasSubstr;

constexpr Migration kSchema[] = {
    {"t", 1, "kv", "CREATE TABLE kv(k TEXT PRIMARY KEY, v)"},
    {"t", 2, "fk",
     "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
     "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES "
     "parent(id))"},
};

class DatabaseTest : public test_util::StoreTest {};

// ---- connection settings ----

TEST_F(DatabaseTest, FileDatabaseUsesWalJournal) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  EXPECT_EQ(query_text(*db, "PRAGMA journal_mode"), "wal");
}

TEST_F(DatabaseTest, ForeignKeysAreEnforced) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  EXPECT_EQ(query_int(*db, "PRAGMA foreign_keys"), 1);
  auto bad = db->exec("INSERT INTO child(id, parent_id) VALUES (1, 42)");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(db->exec("INSERT INTO parent(id) VALUES (42)"));
  EXPECT_TRUE(db->exec("INSERT INTO child(id, parent_id) VALUES (1, 42)"));
}

TEST_F(DatabaseTest, InMemoryDatabaseOpensAndMigrates) {
  auto db = open_ok(kSchema, 5000, ":memory:");
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->schema_version("t"), 2);
}

TEST_F(DatabaseTest, SynchronousDefaultsToNormalAndFullIsApplied) {
  auto normal = open_ok(kSchema);
  ASSERT_TRUE(normal);
  EXPECT_EQ(query_int(*normal, "PRAGMA synchronous"), 1);  // NORMAL
  auto full = open_with({.synchronous = "full"}, kSchema);
  ASSERT_TRUE(full);
  EXPECT_EQ(query_int(*full, "PRAGMA synchronous"), 2);  // FULL
}

TEST_F(DatabaseTest, UnknownSynchronousModeIsRefusedBeforeTouchingTheFile) {
  auto db = Database::open({.path = db_path(), .synchronous = "off"}, kSchema);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(db.error().message(), HasSubstr("\"off\""));
  EXPECT_FALSE(fs::exists(db_path()));
}

TEST_F(DatabaseTest, ReadOnlyDatabaseReadsButRefusesWrites) {
  {
    auto db = open_ok(kSchema);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO kv VALUES ('a', 1)"));
  }
  auto ro = open_with({.read_only = true});
  ASSERT_TRUE(ro);
  EXPECT_EQ(query_int(*ro, "SELECT v FROM kv WHERE k = 'a'"), 1);
  auto write = ro->exec("INSERT INTO kv VALUES ('b', 2)");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code(), ErrorCode::kPermissionDenied) << write.error().message();
}

TEST_F(DatabaseTest, ReadOnlyOpenOfMissingFileIsNotFoundAndCreatesNothing) {
  auto db = Database::open({.path = db_path(), .read_only = true});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(db.error().message(), HasSubstr(db_path().string()));
  EXPECT_FALSE(fs::exists(db_path()));
}

// ---- transactions ----

TEST_F(DatabaseTest, TransactionRollsBackWhenDroppedWithoutCommit) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  {
    auto tx = db->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO kv VALUES ('a', 1)"));
    EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 1);  // visible inside
  }
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 0);
  // The connection is usable again: no transaction was left open.
  auto tx = db->begin();
  ASSERT_TRUE(tx) << tx.error().message();
  EXPECT_TRUE(tx->commit());
}

TEST_F(DatabaseTest, CommittedDataIsVisibleFromAnotherConnection) {
  auto writer = open_ok(kSchema);
  auto reader = open_ok(kSchema);
  ASSERT_TRUE(writer && reader);
  auto tx = writer->begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(writer->exec("INSERT INTO kv VALUES ('a', 1), ('b', 2)"));
  EXPECT_EQ(query_int(*reader, "SELECT count(*) FROM kv"), 0);  // not before commit
  ASSERT_TRUE(tx->commit());
  EXPECT_EQ(query_int(*reader, "SELECT count(*) FROM kv"), 2);
  EXPECT_EQ(query_int(*reader, "SELECT v FROM kv WHERE k = 'b'"), 2);
}

TEST_F(DatabaseTest, CommitTwiceIsRefused) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto tx = db->begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(tx->commit());
  auto again = tx->commit();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kInternal);
}

TEST_F(DatabaseTest, MovedFromTransactionDoesNotRollBack) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto tx = db->begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(db->exec("INSERT INTO kv VALUES ('a', 1)"));
  {
    Transaction moved(std::move(*tx));
    ASSERT_TRUE(moved.commit());
  }
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 1);
}

TEST_F(DatabaseTest, DeferredTransactionLeavesTheWriteLockFreeUntilItWrites) {
  auto a = open_ok(kSchema);
  auto b = open_ok(kSchema, 50);
  ASSERT_TRUE(a && b);
  auto read = a->begin(TransactionMode::kDeferred);
  ASSERT_TRUE(read);
  EXPECT_EQ(query_int(*a, "SELECT count(*) FROM kv"), 0);
  // An IMMEDIATE transaction in `a` would make this fail (see the busy-timeout test below).
  auto write = b->begin();
  ASSERT_TRUE(write) << write.error().message();
  ASSERT_TRUE(b->exec("INSERT INTO kv VALUES ('b', 1)"));
  ASSERT_TRUE(write->commit());
  // `a` still reads its snapshot from before b's commit.
  EXPECT_EQ(query_int(*a, "SELECT count(*) FROM kv"), 0);
  ASSERT_TRUE(read->commit());
  EXPECT_EQ(query_int(*a, "SELECT count(*) FROM kv"), 1);
}

TEST_F(DatabaseTest, BeginInsideATransactionIsRefusedWithConflict) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto outer = db->begin();
  ASSERT_TRUE(outer);
  ASSERT_TRUE(db->exec("INSERT INTO kv VALUES ('a', 1)"));
  auto inner = db->begin(TransactionMode::kDeferred);
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(outer->commit());  // the refused begin left the outer transaction intact
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 1);
}

// ---- statements ----

TEST_F(DatabaseTest, PrepareReturnsTheCachedStatementForTheSameSql) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto a = db->prepare("SELECT v FROM kv WHERE k = ?1");
  auto b = db->prepare("SELECT v FROM kv WHERE k = ?1");
  auto c = db->prepare("SELECT k FROM kv WHERE v = ?1");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ((*a)->sql(), "SELECT v FROM kv WHERE k = ?1");
}

TEST_F(DatabaseTest, PrepareResetsAStatementLeftMidIteration) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("INSERT INTO kv VALUES ('a', 1), ('b', 2), ('c', 3)"));
  constexpr const char* kSql = "SELECT v FROM kv ORDER BY k";
  auto st = db->prepare(kSql);
  ASSERT_TRUE(st);
  ASSERT_TRUE(*(*st)->step());
  ASSERT_TRUE(*(*st)->step());
  EXPECT_EQ((*st)->column_int(0), 2);
  auto again = db->prepare(kSql);
  ASSERT_TRUE(again);
  ASSERT_TRUE(*(*again)->step());
  EXPECT_EQ((*again)->column_int(0), 1);  // from the first row again
  (*again)->reset();
}

TEST_F(DatabaseTest, PrepareOfBadSqlNamesTheSql) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto st = db->prepare("SELECT nope FROM missing_table");
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().message(), HasSubstr("missing_table"));
}

TEST_F(DatabaseTest, PrepareRefusesSeveralStatementsInsteadOfDroppingTheRest) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto st = db->prepare("INSERT INTO kv VALUES ('a', 1); DELETE FROM kv");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(st.error().message(), HasSubstr("DELETE FROM kv"));
  // A trailing semicolon is still one statement.
  EXPECT_TRUE(db->prepare("SELECT 1;"));
}

TEST_F(DatabaseTest, BindToAMissingParameterIsReportedByTheNextStep) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto ins = db->prepare("INSERT INTO kv(k, v) VALUES (?1, 5)");
  ASSERT_TRUE(ins);
  auto st = (*ins)->bind(1, "a").bind(2, 7).run();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(st.error().message(), HasSubstr("parameter 2"));
  EXPECT_THAT(st.error().message(), HasSubstr("INSERT INTO kv"));
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 0) << "the insert ran anyway";
  // The error was cleared with the statement: a correct use works.
  EXPECT_TRUE((*ins)->bind(1, "a").run());
  EXPECT_EQ(query_int(*db, "SELECT v FROM kv WHERE k = 'a'"), 5);
}

TEST_F(DatabaseTest, ValuesRoundTripThroughBindAndColumn) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto ins = db->prepare("INSERT INTO kv(k, v) VALUES (?1, ?2)");
  ASSERT_TRUE(ins);
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::int64_t small = std::numeric_limits<std::int64_t>::min();
  const std::string with_nul("be\0fore", 7);
  const std::string blob("\x00\x01\xff\x7f", 4);
  ASSERT_TRUE((*ins)->bind(1, "big").bind(2, big).run());
  ASSERT_TRUE((*ins)->bind(1, "small").bind(2, small).run());
  ASSERT_TRUE((*ins)->bind(1, "int").bind(2, -7).run());
  ASSERT_TRUE((*ins)->bind(1, "double").bind(2, 2.718281828459045).run());
  ASSERT_TRUE((*ins)->bind(1, "text").bind(2, std::string_view("grüße, 世界")).run());
  ASSERT_TRUE((*ins)->bind(1, "nul").bind(2, std::string_view(with_nul)).run());
  ASSERT_TRUE((*ins)->bind(1, "blob").bind_blob(2, blob).run());
  ASSERT_TRUE((*ins)->bind(1, "null").bind_null(2).run());
  ASSERT_TRUE((*ins)->bind(1, "opt-none").bind(2, std::optional<std::int64_t>()).run());
  ASSERT_TRUE((*ins)->bind(1, "opt-int").bind(2, std::optional<std::int64_t>(99)).run());
  ASSERT_TRUE((*ins)->bind(1, "opt-text").bind(2, std::optional<std::string>("x")).run());
  ASSERT_TRUE((*ins)->bind(1, "opt-double").bind(2, std::optional<double>(0.5)).run());

  auto sel = db->prepare("SELECT v, typeof(v) FROM kv WHERE k = ?1");
  ASSERT_TRUE(sel);
  auto row = [&](std::string_view key) -> Statement& {
    (*sel)->reset();
    (*sel)->bind(1, key);
    auto r = (*sel)->step();
    EXPECT_TRUE(r && *r) << key;
    return **sel;
  };
  EXPECT_EQ(row("big").column_int(0), big);
  EXPECT_EQ(row("small").column_int(0), small);
  EXPECT_EQ(row("int").column_int(0), -7);
  EXPECT_EQ(row("int").column_text(1), "integer");
  EXPECT_DOUBLE_EQ(row("double").column_double(0), 2.718281828459045);
  EXPECT_EQ(row("double").column_text(1), "real");
  EXPECT_EQ(row("text").column_text(0), "grüße, 世界");
  EXPECT_EQ(row("text").column_text(1), "text");
  // Text is bound and read with its length, so an embedded NUL does not cut it short.
  EXPECT_EQ(row("nul").column_text(0), with_nul);
  EXPECT_EQ(row("blob").column_text(0), blob);
  EXPECT_EQ(row("blob").column_text(1), "blob");
  EXPECT_TRUE(row("null").column_is_null(0));
  EXPECT_EQ(row("null").column_int(0), 0);
  EXPECT_EQ(row("null").column_text(0), "");
  EXPECT_TRUE(row("opt-none").column_is_null(0));
  EXPECT_FALSE(row("opt-int").column_is_null(0));
  EXPECT_EQ(row("opt-int").column_int(0), 99);
  EXPECT_EQ(row("opt-text").column_text(0), "x");
  EXPECT_EQ(row("opt-text").column_text(1), "text");
  EXPECT_DOUBLE_EQ(row("opt-double").column_double(0), 0.5);
  (*sel)->reset();
}

// Regression: an empty string_view has a null data() and SQLite binds a null pointer as NULL,
// so empty text used to be stored as NULL (and rejected by NOT NULL columns).
TEST_F(DatabaseTest, EmptyTextAndBlobAreStoredAsEmptyNotNull) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("CREATE TABLE strict_text(v TEXT NOT NULL)"));
  auto ins = db->prepare("INSERT INTO strict_text(v) VALUES (?1)");
  ASSERT_TRUE(ins);
  auto st = (*ins)->bind(1, std::string_view()).run();
  ASSERT_TRUE(st) << st.error().message();
  ASSERT_TRUE((*ins)->bind_blob(1, std::string_view()).run());
  ASSERT_TRUE((*ins)->bind(1, std::string()).run());
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM strict_text WHERE v IS NULL"), 0);
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM strict_text WHERE length(v) = 0"), 3);
  EXPECT_EQ(query_text(*db, "SELECT group_concat(typeof(v)) FROM strict_text"), "text,blob,text");
}

TEST_F(DatabaseTest, ResetClearsBindings) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto st = db->prepare("SELECT ?1 IS NULL");
  ASSERT_TRUE(st);
  (*st)->bind(1, 5);
  ASSERT_TRUE(*(*st)->step());
  EXPECT_EQ((*st)->column_int(0), 0);
  (*st)->reset();
  ASSERT_TRUE(*(*st)->step());
  EXPECT_EQ((*st)->column_int(0), 1);
  (*st)->reset();
}

TEST_F(DatabaseTest, StepReportsConstraintViolationAndStatementStaysUsable) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  auto ins = db->prepare("INSERT INTO kv(k, v) VALUES (?1, ?2)");
  ASSERT_TRUE(ins);
  ASSERT_TRUE((*ins)->bind(1, "a").bind(2, 1).run());
  auto dup = (*ins)->bind(1, "a").bind(2, 2).run();
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(dup.error().message(), HasSubstr("INSERT INTO kv"));
  EXPECT_TRUE((*ins)->bind(1, "b").bind(2, 2).run());
  EXPECT_EQ(db->changes(), 1);
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM kv"), 2);
}

TEST_F(DatabaseTest, LastInsertRowidFollowsInserts) {
  auto db = open_ok(kSchema);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("INSERT INTO parent(id) VALUES (7)"));
  EXPECT_EQ(db->last_insert_rowid(), 7);
  ASSERT_TRUE(db->exec("INSERT INTO parent DEFAULT VALUES"));
  EXPECT_EQ(db->last_insert_rowid(), 8);
}

// ---- locking ----

TEST_F(DatabaseTest, WriteWaitsForBusyTimeoutThenFailsWithConflict) {
  constexpr int kBusyMs = 100;
  auto holder = open_ok(kSchema);
  auto waiter = open_ok(kSchema, kBusyMs);
  ASSERT_TRUE(holder && waiter);
  auto lock = holder->begin();  // BEGIN IMMEDIATE: holds the write lock
  ASSERT_TRUE(lock);

  auto start = std::chrono::steady_clock::now();
  auto write = std::async(std::launch::async,
                          [&] { return waiter->exec("INSERT INTO kv VALUES ('blocked', 1)"); });
  // Generous: only guards against a hang, not a timing check.
  if (write.wait_for(30s) != std::future_status::ready) {
    ADD_FAILURE() << "write did not give up while the lock was held";
    ignore(lock->commit(), "lets the writer finish so the test can end; the failure is reported");
  }
  Status st = write.get();
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConflict) << st.error().message();
  EXPECT_GE(waited, std::chrono::milliseconds(kBusyMs / 2)) << "it did not wait for the lock";

  auto tx = waiter->begin();
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code(), ErrorCode::kConflict);

  // Once the lock is released the same write goes through.
  ASSERT_TRUE(lock->commit());
  EXPECT_TRUE(waiter->exec("INSERT INTO kv VALUES ('after', 1)"));
}

TEST_F(DatabaseTest, ReadersAreNotBlockedByAWriteTransaction) {
  auto holder = open_ok(kSchema);
  auto reader = open_ok(kSchema, 100);
  ASSERT_TRUE(holder && reader);
  ASSERT_TRUE(holder->exec("INSERT INTO kv VALUES ('a', 1)"));
  auto lock = holder->begin();
  ASSERT_TRUE(lock);
  ASSERT_TRUE(holder->exec("INSERT INTO kv VALUES ('b', 2)"));
  EXPECT_EQ(query_int(*reader, "SELECT count(*) FROM kv"), 1);
}

}  // namespace
}  // namespace aion::store
