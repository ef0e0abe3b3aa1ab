#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aion/store/database.h"
#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using namespace std::chrono_literals;
using test_util::files_starting_with;
using test_util::query_int;
using test_util::read_bytes;
using test_util::write_bytes;
using ::testing::HasSubstr;

constexpr Migration kRows[] = {
    {"t", 1, "rows", "CREATE TABLE rows(id INTEGER PRIMARY KEY, v TEXT NOT NULL)"}};

class BackupTest : public test_util::StoreTest {
 protected:
  void fill(Database& db, int rows) {
    auto tx = db.begin();
    ASSERT_TRUE(tx);
    auto ins = db.prepare("INSERT INTO rows(v) VALUES (?1)");
    ASSERT_TRUE(ins);
    for (int i = 0; i < rows; ++i) ASSERT_TRUE((*ins)->bind(1, std::string(200, 'r')).run());
    ASSERT_TRUE(tx->commit());
  }
};

TEST_F(BackupTest, BackupIsVerifiedAndHoldsTheRows) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  fill(*db, 100);
  const fs::path dest = dir() / "backup.db";
  auto st = db->backup_to(dest);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(verify_database(dest));
  // One self-contained file: no temporary or WAL left beside it.
  EXPECT_EQ(files_starting_with(dir(), "backup.db").size(), 1u);

  auto copy = open_ok(kRows, 5000, dest);
  ASSERT_TRUE(copy);
  EXPECT_EQ(query_int(*copy, "SELECT count(*) FROM rows"), 100);
  EXPECT_EQ(*copy->schema_version("t"), 1);
}

TEST_F(BackupTest, BackupTakenWhileAnotherConnectionKeepsInsertingIsConsistent) {
  constexpr int kInitialRows = 40000;  // ~8 MiB: far more than one backup step used to copy
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  fill(*db, kInitialRows);
  ASSERT_FALSE(HasFatalFailure());

  auto writer_db = open_ok(kRows);
  ASSERT_TRUE(writer_db);
  std::atomic<bool> stop{false};
  std::atomic<bool> gave_up{false};
  std::atomic<std::int64_t> written{0};
  std::atomic<int> write_errors{0};
  std::thread writer([&] {
    // The deadline only keeps a stuck backup from hanging the test; it fails the test below.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!stop.load()) {
      if (std::chrono::steady_clock::now() > deadline) {
        gave_up = true;
        break;
      }
      auto ins = writer_db->prepare("INSERT INTO rows(v) VALUES (?1)");
      if (!ins || !(*ins)->bind(1, std::string(200, 'w')).run()) {
        ++write_errors;
        continue;
      }
      ++written;
    }
  });
  while (written.load() < 10 && !gave_up.load()) std::this_thread::sleep_for(1ms);

  const fs::path dest = dir() / "live-backup.db";
  const std::int64_t written_before = written.load();
  auto st = db->backup_to(dest);
  const std::int64_t written_after = written.load();
  stop = true;
  writer.join();

  ASSERT_TRUE(st) << st.error().message();
  EXPECT_FALSE(gave_up.load()) << "backup did not finish while another connection was writing";
  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_GT(written_after, written_before) << "the writer was not running during the backup";
  EXPECT_TRUE(verify_database(dest));

  auto copy = open_ok(kRows, 5000, dest);
  ASSERT_TRUE(copy);
  const std::int64_t rows = query_int(*copy, "SELECT count(*) FROM rows");
  EXPECT_GE(rows, kInitialRows + 10);
  EXPECT_LE(rows, kInitialRows + written.load());
  // A snapshot of committed transactions: ids 1..n with no holes.
  EXPECT_EQ(query_int(*copy, "SELECT max(id) FROM rows"), rows);
}

TEST_F(BackupTest, BackupToExistingFileIsRefusedAndLeavesItUnchanged) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  fill(*db, 10);
  const fs::path dest = dir() / "existing.db";
  write_bytes(dest, "precious bytes");
  auto st = db->backup_to(dest);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_THAT(st.error().message(), HasSubstr(dest.string()));
  EXPECT_EQ(read_bytes(dest), "precious bytes");
  EXPECT_EQ(files_starting_with(dir(), "existing.db").size(), 1u);
}

TEST_F(BackupTest, BackupOverwritesExistingFileWhenAsked) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  fill(*db, 10);
  const fs::path dest = dir() / "existing.db";
  write_bytes(dest, "old");
  auto st = db->backup_to(dest, /*overwrite=*/true);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(verify_database(dest));
}

TEST_F(BackupTest, LinkAtTheDestinationIsReplacedNotFollowed) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  fill(*db, 5);
  const fs::path target = dir() / "elsewhere";
  write_bytes(target, "untouched");
  const fs::path dest = dir() / "linked.db";
  ASSERT_EQ(::symlink(target.c_str(), dest.c_str()), 0);
  auto refused = db->backup_to(dest);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kAlreadyExists);
  auto st = db->backup_to(dest, /*overwrite=*/true);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_FALSE(fs::is_symlink(dest));
  EXPECT_TRUE(verify_database(dest));
  EXPECT_EQ(read_bytes(target), "untouched");
}

TEST_F(BackupTest, DirectoryOfAnotherOwnerIsRefusedWhenAnOwnerIsRequired) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  const fs::path dest = dir() / "owned.db";
  auto st = db->backup_to(dest, BackupOptions{.dir_owner = ::geteuid() + 1});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(st.error().message(), HasSubstr("is not yours"));
  EXPECT_TRUE(files_starting_with(dir(), "owned.db").empty());
}

TEST_F(BackupTest, ScrubRunsOnTheCopyOnlyAndLeavesNoFreedBytes) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec("INSERT INTO rows(v) VALUES ('secret-5a1e')"));
  const fs::path dest = dir() / "scrubbed.db";
  auto st = db->backup_to(dest, BackupOptions{.scrub_sql = "DELETE FROM rows"});
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(read_bytes(dest).find("secret-5a1e"), std::string::npos);
  EXPECT_EQ(query_int(*db, "SELECT count(*) FROM rows"), 1);
}

TEST_F(BackupTest, BackupIntoMissingDirectoryFailsWithNotFound) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  const fs::path dest = dir() / "no-such-dir" / "backup.db";
  auto st = db->backup_to(dest);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(st.error().message(), HasSubstr("no-such-dir"));
  EXPECT_FALSE(fs::exists(dir() / "no-such-dir"));
}

TEST_F(BackupTest, BackupInsideATransactionIsRefusedAndWritesNothing) {
  auto db = open_ok(kRows);
  ASSERT_TRUE(db);
  auto tx = db->begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(db->exec("INSERT INTO rows(v) VALUES ('uncommitted')"));
  const fs::path dest = dir() / "backup.db";
  auto st = db->backup_to(dest);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(files_starting_with(dir(), "backup.db").empty());
  ASSERT_TRUE(tx->commit());
  EXPECT_TRUE(db->backup_to(dest));
}

TEST_F(BackupTest, InMemoryDatabaseCanBeBackedUpToAFile) {
  auto db = open_ok(kRows, 5000, ":memory:");
  ASSERT_TRUE(db);
  fill(*db, 25);
  const fs::path dest = dir() / "memory.db";
  auto st = db->backup_to(dest);
  ASSERT_TRUE(st) << st.error().message();
  auto copy = open_ok(kRows, 5000, dest);
  ASSERT_TRUE(copy);
  EXPECT_EQ(query_int(*copy, "SELECT count(*) FROM rows"), 25);
}

TEST_F(BackupTest, VerifyOfMissingFileIsNotFound) {
  auto st = verify_database(dir() / "absent.db");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir() / "absent.db"));
}

TEST_F(BackupTest, VerifyRejectsGarbageFile) {
  const fs::path p = dir() / "garbage.db";
  std::string bytes(16 * 1024, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131 + 7) & 0xff);
  write_bytes(p, bytes);
  auto st = verify_database(p);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(st.error().message(), HasSubstr(p.string()));
  // Checking never modifies the file or saves copies of it.
  EXPECT_EQ(read_bytes(p), bytes);
  EXPECT_EQ(files_starting_with(dir(), "garbage.db").size(), 1u);
}

TEST_F(BackupTest, VerifyAcceptsHealthyDatabase) {
  {
    auto db = open_ok(kRows);
    ASSERT_TRUE(db);
    fill(*db, 10);
  }
  EXPECT_TRUE(verify_database(db_path()));
}

}  // namespace
}  // namespace aion::store
