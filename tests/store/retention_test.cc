#include "aion/store/retention.h"

#include <gtest/gtest.h>

#include "aion/store/event_log.h"

namespace aion::store {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

struct Fixture {
  Fixture() {
    auto db = Database::open({.path = ":memory:"}, EventLog::migrations());
    EXPECT_TRUE(db) << db.error().message();
    store = std::make_unique<Store>(std::move(*db));
    events = std::make_unique<EventLog>(*store, clock);
  }
  std::int64_t count() {
    auto all = events->list({.limit = 1000000});
    return all ? static_cast<std::int64_t>(all->size()) : -1;
  }
  ManualClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<EventLog> events;
};

TEST(RetentionTest, RowsOlderThanTheAgeLimitGoInBatchesAndNewerOnesStay) {
  Fixture f;
  for (int i = 0; i < 2500; ++i)
    ASSERT_TRUE(f.events->append({.time_ms = 1000 + i, .kind = "old"}));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(f.events->append({.time_ms = 20 * kDayMs, .kind = "new"}));
  auto gone = prune(*f.store, {.table = "events", .time_column = "time_ms"},
                    {.max_age_ms = 10 * kDayMs}, 21 * kDayMs, /*batch=*/100);
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_EQ(gone->size(), 2500u);
  EXPECT_EQ(f.count(), 10);
}

TEST(RetentionTest, PastTheRowLimitTheOldestGo) {
  Fixture f;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(f.events->append({.time_ms = 1000 + i, .kind = "e"}));
  auto gone = f.events->prune({.max_rows = 20}, 2000);
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_EQ(*gone, 30);
  auto left = f.events->list({.limit = 100});
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 20u);
  EXPECT_EQ(left->front().time_ms, 1030);
}

TEST(RetentionTest, NoLimitsKeepEverything) {
  Fixture f;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.events->append({.time_ms = 1, .kind = "e"}));
  auto gone = f.events->prune({}, 100 * kDayMs);
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, 0);
  EXPECT_EQ(f.count(), 5);
}

TEST(RetentionTest, ThePrunerRunsEveryTaskAsOfTheClock) {
  ManualClock clock;
  clock.advance(std::chrono::hours(24));
  Pruner pruner(clock);
  std::int64_t seen = 0;
  pruner.add("t", [&](std::int64_t now) -> Result<std::int64_t> {
    seen = now;
    return 0;
  });
  pruner.run_once();
  EXPECT_EQ(seen, to_unix_ms(clock.wall()));
}

}  // namespace
}  // namespace aion::store
