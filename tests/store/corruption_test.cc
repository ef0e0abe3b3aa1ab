#include <cstdint>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aion/store/database.h"
#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using test_util::files_starting_with;
using test_util::read_bytes;
using test_util::write_bytes;
using ::testing::HasSubstr;

constexpr Migration kRows[] = {
    {"t", 1, "rows", "CREATE TABLE rows(id INTEGER PRIMARY KEY, v TEXT NOT NULL)"}};

class CorruptionTest : public test_util::StoreTest {
 protected:
  // A WAL-mode database of ~1 MiB (hundreds of pages), closed cleanly.
  void make_database() {
    auto db = open_ok(kRows);
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

    auto db = open_at(db_path(), kRows);
    ASSERT_FALSE(db) << "a damaged database was opened";
    EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt) << db.error().message();
    const std::string& msg = db.error().message();
    EXPECT_THAT(msg, HasSubstr(db_path().string()));
    EXPECT_THAT(msg, HasSubstr("Restore a backup"));

    EXPECT_EQ(read_bytes(db_path()), before) << "the damaged file was modified";

    auto copies = files_starting_with(dir(), db_path().filename().string() + ".corrupt-");
    std::erase_if(copies, [](const fs::path& p) { return p.string().ends_with("-wal"); });
    ASSERT_EQ(copies.size(), 1u);
    EXPECT_THAT(msg, HasSubstr(copies[0].string()));
    EXPECT_EQ(read_bytes(copies[0]), before) << "the saved copy differs from the original";
  }
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

TEST_F(CorruptionTest, GarbageFileStaysRefusedOnEveryOpen) {
  write_bytes(db_path(), std::string(8192, '\x5a'));
  for (int i = 0; i < 2; ++i) {
    auto db = open_at(db_path(), kRows);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code(), ErrorCode::kCorrupt);
  }
  EXPECT_EQ(read_bytes(db_path()), std::string(8192, '\x5a'));
}

TEST_F(CorruptionTest, HealthyDatabaseLeavesNoCorruptCopy) {
  make_database();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(open_ok(kRows));
  EXPECT_TRUE(files_starting_with(dir(), "state.db.corrupt-").empty());
}

}  // namespace
}  // namespace aion::store
