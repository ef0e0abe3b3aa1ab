#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aion/core/clock.h"
#include "aion/store/database.h"
#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using test_util::files_starting_with;
using test_util::read_bytes;
using test_util::write_bytes;
using ::testing::HasSubstr;

constexpr Migration kCorruptionRows[] = {
    {"t", 1, "rows", "CREATE TABLE rows(id INTEGER PRIMARY KEY, v TEXT NOT NULL)"}};

class CorruptionTest : public test_util::StoreTest {
 protected:
  // A WAL-mode database of ~1 MiB (hundreds of pages), closed cleanly.
  void make_database() {
    auto db = open_ok(kCorruptionRows);
    ASSERT_TRUE(db);
    auto tx = db->begin();
    ASSERT_TRUE(tx);
    auto ins = db->prepare("INSERT INTO rows(v) VALUES (?1)");
    ASSERT_TRUE(ins);
    for (int i = 0; i < 4000; ++i) {
      ASSERT_TRUE((*ins)->bind(1, std::string(250, static_cast<char>('a' + i % 26))).run());
    }
    ASSERT_TRUE(tx->commit());
  }

  // Opens the damaged db_path() and checks what every corrupt open must do: fail with
  // kCorrupt, say which file and what to do, leave the file alone and keep a copy of it.
  void expect_refused_and_preserved() {
    const std::string before = read_bytes(db_path());
    ASSERT_FALSE(before.empty());

    auto db = Database::open({.path = db_path(), .clock = &clock_}, kCorruptionRows);
    ASSERT_FALSE(db) << "a damaged database was opened";
    EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt) << db.error().message();
    const std::string& msg = db.error().message();
    EXPECT_THAT(msg, HasSubstr(db_path().string()));
    EXPECT_THAT(msg, HasSubstr("Restore a backup"));

    EXPECT_EQ(read_bytes(db_path()), before) << "the damaged file was modified";

    // The copy is named for the clock's UTC time: 1'700'000'000 s is 2023-11-14 22:13:20.
    const fs::path copy = dir() / "state.db.corrupt-20231114T221320Z";
    EXPECT_THAT(msg, HasSubstr(copy.string()));
    EXPECT_EQ(read_bytes(copy), before) << "the saved copy differs from the original";
    auto copies = files_starting_with(dir(), "state.db.corrupt-");
    std::erase_if(copies, [](const fs::path& p) { return p.string().ends_with("-wal"); });
    EXPECT_EQ(copies.size(), 1u);
  }

  ManualClock clock_;
};

TEST_F(CorruptionTest, HalfTruncatedDatabaseIsPreservedAndReported) {
  make_database();
  ASSERT_FALSE(HasFatalFailure());
  const auto size = fs::file_size(db_path());
  ASSERT_GT(size, 64u * 4096u) << "fixture too small to span many pages";
  ASSERT_FALSE(fs::exists(dir() / "state.db-wal")) << "WAL should be checkpointed on close";
  fs::resize_file(db_path(), size / 2);

  // Make sure the fixture really is damaged (cutting only free pages would not be).
  fs::copy_file(db_path(), dir() / "probe.db");
  auto verdict = verify_database(dir() / "probe.db");
  ASSERT_FALSE(verdict) << "truncation did not damage the fixture";
  fs::remove(dir() / "probe.db");

  expect_refused_and_preserved();
}

TEST_F(CorruptionTest, GarbageFileIsPreservedAndReported) {
  std::mt19937_64 rng(20240611);
  std::string garbage(64 * 1024, '\0');
  for (char& c : garbage) c = static_cast<char>(rng() & 0xff);
  write_bytes(db_path(), garbage);

  expect_refused_and_preserved();
}

TEST_F(CorruptionTest, GarbageFileStaysRefusedOnEveryOpenAndNoCopyIsOverwritten) {
  write_bytes(db_path(), std::string(8192, '\x5a'));
  // An earlier copy with the same time stamp must survive (the clock does not move).
  const fs::path first = dir() / "state.db.corrupt-20231114T221320Z";
  write_bytes(first, "an earlier copy");
  for (int i = 0; i < 2; ++i) {
    auto db = Database::open({.path = db_path(), .clock = &clock_}, kCorruptionRows);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt);
  }
  EXPECT_EQ(read_bytes(db_path()), std::string(8192, '\x5a'));
  EXPECT_EQ(read_bytes(first), "an earlier copy");
  EXPECT_EQ(read_bytes(dir() / "state.db.corrupt-20231114T221320Z-2"), std::string(8192, '\x5a'));
  EXPECT_EQ(read_bytes(dir() / "state.db.corrupt-20231114T221320Z-3"), std::string(8192, '\x5a'));
}

TEST_F(CorruptionTest, GarbageFileIsRefusedEvenWithoutTheIntegrityCheck) {
  write_bytes(db_path(), std::string(8192, '\x5a'));
  auto db = Database::open({.path = db_path(), .check_integrity = false, .clock = &clock_});
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(fs::exists(dir() / "state.db.corrupt-20231114T221320Z"));
  EXPECT_EQ(read_bytes(db_path()), std::string(8192, '\x5a'));
}

// A damaged database whose last commits are still in its WAL: closing the refused connection
// must not checkpoint the WAL into the file, and both files are copied.
TEST_F(CorruptionTest, DamagedDatabaseWithWalKeepsBothFilesUntouchedAndCopiesBoth) {
  make_database();
  ASSERT_FALSE(HasFatalFailure());
  const fs::path saved = dir() / "saved";
  fs::create_directory(saved);
  {
    auto db = open_ok(kCorruptionRows);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO rows(v) VALUES ('only in the wal')"));
    ASSERT_GT(fs::file_size(dir() / "state.db-wal"), 0u);
    // The files as a crash would leave them: the commit is in the WAL, not in the database.
    fs::copy_file(db_path(), saved / "state.db");
    fs::copy_file(dir() / "state.db-wal", saved / "state.db-wal");
  }
  fs::remove(db_path());
  fs::remove(dir() / "state.db-shm");
  fs::copy_file(saved / "state.db", db_path());
  fs::copy_file(saved / "state.db-wal", dir() / "state.db-wal");
  // Overwrite 16 pages in the middle of the table with garbage.
  std::string db_bytes = read_bytes(db_path());
  ASSERT_GT(db_bytes.size(), 200u * 4096u);
  std::fill_n(db_bytes.begin() + 100 * 4096, 16 * 4096, '\x5a');
  write_bytes(db_path(), db_bytes);
  const std::string wal_bytes = read_bytes(dir() / "state.db-wal");

  expect_refused_and_preserved();
  EXPECT_EQ(read_bytes(dir() / "state.db-wal"), wal_bytes) << "the WAL was modified";
  EXPECT_EQ(read_bytes(dir() / "state.db.corrupt-20231114T221320Z-wal"), wal_bytes);
}

TEST_F(CorruptionTest, HealthyDatabaseLeavesNoCorruptCopy) {
  make_database();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(open_ok(kCorruptionRows));
  EXPECT_TRUE(files_starting_with(dir(), "state.db.corrupt-").empty());
}

}  // namespace
}  // namespace aion::store
