#include "aion/store/store.h"

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using namespace std::chrono_literals;
using test_util::query_int;

constexpr Migration kCounter[] = {
    {"t", 1, "counter",
     "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
     "INSERT INTO counter VALUES (1, 0)"},
};

class StoreTest : public test_util::StoreTest {};

// Read-modify-write in a transaction from several threads at once: any two threads inside one
// connection at the same time would fail to begin ("transactions do not nest") or lose counts.
TEST_F(StoreTest, ConcurrentTransactionsThroughWithAreSerialised) {
  auto db = open_ok(kCounter);
  ASSERT_TRUE(db);
  Store store(std::move(db));
  constexpr int kThreads = 4;
  constexpr int kIncrements = 200;
  std::vector<std::future<int>> failures;
  for (int t = 0; t < kThreads; ++t) {
    failures.push_back(std::async(std::launch::async, [&store] {
      int failed = 0;
      for (int i = 0; i < kIncrements; ++i) {
        Status st = store.with([](Database& d) -> Status {
          auto tx = d.begin();
          if (!tx) return std::unexpected(tx.error());
          auto get = d.prepare("SELECT n FROM counter WHERE id = 1");
          if (!get) return std::unexpected(get.error());
          auto row = (*get)->step();
          if (!row || !*row) return fail(ErrorCode::kInternal, "no counter row");
          std::int64_t n = (*get)->column_int(0);
          (*get)->reset();
          std::this_thread::yield();  // widen the window a missing lock would open
          auto set = d.prepare("UPDATE counter SET n = ?1 WHERE id = 1");
          if (!set) return std::unexpected(set.error());
          if (auto r = (*set)->bind(1, n + 1).run(); !r) return r;
          return tx->commit();
        });
        if (!st) ++failed;
      }
      return failed;
    }));
  }
  int failed = 0;
  for (auto& f : failures) failed += f.get();
  EXPECT_EQ(failed, 0);
  store.with([](Database& d) {
    EXPECT_EQ(query_int(d, "SELECT n FROM counter"), kThreads * kIncrements);
  });
}

TEST_F(StoreTest, BackupCopiesCommittedRowsWithoutWaitingForTheStoreLock) {
  auto db = open_ok(kCounter);
  ASSERT_TRUE(db);
  Store store(std::move(db));
  store.with([](Database& d) { ASSERT_TRUE(d.exec("UPDATE counter SET n = 42")); });

  // Another thread holds the store until the backup is done (or the test gives up).
  std::promise<void> release;
  std::promise<void> held;
  auto holder = std::async(std::launch::async, [&] {
    store.with([&](Database&) {
      held.set_value();
      release.get_future().wait();
    });
  });
  held.get_future().wait();
  const fs::path dest = dir() / "store-backup.db";
  auto backup = std::async(std::launch::async, [&] { return store.backup_to(dest); });
  // Generous: only guards against a hang, not a timing check.
  const bool finished = backup.wait_for(30s) == std::future_status::ready;
  release.set_value();
  holder.get();
  EXPECT_TRUE(finished) << "the backup waited for the store's lock";
  Status st = backup.get();
  ASSERT_TRUE(st) << st.error().message();

  auto copy = open_ok(kCounter, 5000, dest);
  ASSERT_TRUE(copy);
  EXPECT_EQ(query_int(*copy, "SELECT n FROM counter"), 42);
}

TEST_F(StoreTest, InMemoryStoreCanBeBackedUp) {
  auto db = open_ok(kCounter, 5000, ":memory:");
  ASSERT_TRUE(db);
  Store store(std::move(db));
  store.with([](Database& d) { ASSERT_TRUE(d.exec("UPDATE counter SET n = 7")); });
  const fs::path dest = dir() / "memory-backup.db";
  auto st = store.backup_to(dest);
  ASSERT_TRUE(st) << st.error().message();
  auto copy = open_ok(kCounter, 5000, dest);
  ASSERT_TRUE(copy);
  EXPECT_EQ(query_int(*copy, "SELECT n FROM counter"), 7);
}

TEST_F(StoreTest, BackupToExistingFileIsRefused) {
  auto db = open_ok(kCounter);
  ASSERT_TRUE(db);
  Store store(std::move(db));
  const fs::path dest = dir() / "taken.db";
  test_util::write_bytes(dest, "keep me");
  auto st = store.backup_to(dest);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(test_util::read_bytes(dest), "keep me");
}

}  // namespace
}  // namespace aion::store
