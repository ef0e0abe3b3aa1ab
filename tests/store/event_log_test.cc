#include "aion/store/event_log.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace aion::store {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Store> open_store(const fs::path& p) {
  auto db = Database::open({.path = p}, EventLog::migrations());
  EXPECT_TRUE(db);
  return std::make_unique<Store>(std::move(*db));
}

TEST(EventLogTest, AppendAssignsIdsAndClockTime) {
  ManualClock clock;
  auto store = open_store(":memory:");
  EventLog log(*store, clock);
  ASSERT_TRUE(log.load());
  auto a = log.append({.kind = "annotation", .message = "one"});
  clock.advance(std::chrono::seconds(5));
  auto b = log.append({.kind = "hw_change", .severity = "warning", .message = "two"});
  ASSERT_TRUE(a && b);
  EXPECT_LT(*a, *b);
  EXPECT_EQ(log.last_id(), *b);
  auto all = log.list({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].time_ms - (*all)[0].time_ms, 5000);
  EXPECT_EQ((*all)[1].severity, "warning");
  EXPECT_EQ((*all)[0].time_ms, to_unix_ms(ManualClock().wall()));
}

TEST(EventLogTest, TailPagingAndKindFilter) {
  ManualClock clock;
  auto store = open_store(":memory:");
  EventLog log(*store, clock);
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(log.append({.kind = i % 2 ? "odd" : "even", .message = std::to_string(i)}));
  }
  auto tail = log.list({.limit = 3});
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[0].message, "8");
  EXPECT_EQ((*tail)[2].message, "10");
  auto page = log.list({.since_id = 2, .limit = 3});
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].id, 3);
  EXPECT_EQ((*page)[2].id, 5);
  auto odd = log.list({.since_id = 0, .limit = 100, .kind = "odd"});
  ASSERT_EQ(odd->size(), 5u);
  for (const auto& e : *odd) EXPECT_EQ(e.kind, "odd");
}

TEST(EventLogTest, LastIdIsRestoredAfterReopen) {
  fs::path p = fs::temp_directory_path() / ("aion-events-" + std::to_string(::getpid()) + ".db");
  fs::remove(p);
  ManualClock clock;
  std::int64_t last = 0;
  {
    auto store = open_store(p);
    EventLog log(*store, clock);
    for (int i = 0; i < 3; ++i) last = *log.append({.kind = "k", .message = "m"});
  }
  auto store = open_store(p);
  EventLog log(*store, clock);
  EXPECT_EQ(log.last_id(), 0);
  ASSERT_TRUE(log.load());
  EXPECT_EQ(log.last_id(), last);
  fs::remove(p);
  fs::remove(fs::path(p.string() + "-wal"));
  fs::remove(fs::path(p.string() + "-shm"));
}

}  // namespace
}  // namespace aion::store
