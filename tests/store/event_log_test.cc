#include "aion/store/event_log.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/clock.h"
#include "aion/store/store.h"
#include "store_test_util.h"

namespace aion::store {
namespace {

namespace fs = std::filesystem;

using namespace std::chrono_literals;

Event make_event(std::string kind, std::string message) {
  Event e;
  e.kind = std::move(kind);
  e.message = std::move(message);
  e.source = "test";
  return e;
}

std::vector<std::int64_t> ids_of(const std::vector<Event>& events) {
  std::vector<std::int64_t> ids;
  for (const auto& e : events) ids.push_back(e.id);
  return ids;
}

class EventLogTest : public test_util::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    reopen();
  }

  // Closes the log and its database (if open) and opens them again from the file.
  void reopen() {
    log_.reset();
    store_.reset();
    auto db = open_ok(EventLog::migrations());
    ASSERT_TRUE(db);
    store_ = std::make_unique<Store>(std::move(db));
    log_ = std::make_unique<EventLog>(*store_, clock_);
    auto st = log_->load();
    ASSERT_TRUE(st) << st.error().message();
  }

  std::int64_t append(std::string kind, std::string message) {
    auto id = log_->append(make_event(std::move(kind), std::move(message)));
    EXPECT_TRUE(id) << id.error().message();
    return id ? *id : -1;
  }

  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(EventLogTest, EmptyLogStartsAtZero) {
  EXPECT_EQ(log_->last_id(), 0);
  auto all = log_->list({});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
}

TEST_F(EventLogTest, AppendAssignsIncreasingIdsAndClockTime) {
  const std::int64_t t0 = to_unix_ms(clock_.wall());
  std::int64_t a = append("annotation", "first");
  clock_.advance(1500ms);
  std::int64_t b = append("anomaly", "second");
  EXPECT_GT(a, 0);
  EXPECT_GT(b, a);
  EXPECT_EQ(log_->last_id(), b);

  auto all = log_->list({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, a);
  EXPECT_EQ((*all)[0].time_ms, t0);
  EXPECT_EQ((*all)[0].kind, "annotation");
  EXPECT_EQ((*all)[0].message, "first");
  EXPECT_EQ((*all)[0].severity, "info");
  EXPECT_EQ((*all)[0].source, "test");
  EXPECT_EQ((*all)[0].data_json, "{}");
  EXPECT_EQ((*all)[1].id, b);
  EXPECT_EQ((*all)[1].time_ms, t0 + 1500);
}

TEST_F(EventLogTest, AppendKeepsAnExplicitTimeAndAllFields) {
  Event e = make_event("hw_change", "GPU 3 fell off the bus");
  e.time_ms = 1234;
  e.severity = "critical";
  e.source = "uid:1000 (alice)";
  e.data_json = R"({"gpu":3})";
  auto id = log_->append(e);
  ASSERT_TRUE(id);
  auto all = log_->list({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  const Event& got = (*all)[0];
  EXPECT_EQ(got.id, *id);
  EXPECT_EQ(got.time_ms, 1234);
  EXPECT_EQ(got.kind, "hw_change");
  EXPECT_EQ(got.severity, "critical");
  EXPECT_EQ(got.source, "uid:1000 (alice)");
  EXPECT_EQ(got.message, "GPU 3 fell off the bus");
  EXPECT_EQ(got.data_json, R"({"gpu":3})");
}

TEST_F(EventLogTest, TailReturnsNewestLimitMatchesOldestFirst) {
  std::vector<std::int64_t> anomalies;
  for (int i = 0; i < 10; ++i) {
    std::int64_t id = append(i % 2 ? "anomaly" : "annotation", "e" + std::to_string(i));
    if (i % 2) anomalies.push_back(id);  // 5 anomalies
  }
  auto tail = log_->list({.limit = 3});
  ASSERT_TRUE(tail);
  EXPECT_EQ(ids_of(*tail), (std::vector<std::int64_t>{8, 9, 10}));

  auto kind = log_->list({.limit = 3, .kind = "anomaly"});
  ASSERT_TRUE(kind);
  EXPECT_EQ(ids_of(*kind), (std::vector<std::int64_t>(anomalies.end() - 3, anomalies.end())));
  for (const auto& e : *kind) EXPECT_EQ(e.kind, "anomaly");

  auto none = log_->list({.kind = "no-such-kind"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(EventLogTest, SinceIdPagesForwardWithKindAndLimit) {
  std::vector<std::int64_t> anomalies;
  for (int i = 0; i < 12; ++i) {
    std::int64_t id = append(i % 3 == 0 ? "anomaly" : "annotation", "e" + std::to_string(i));
    if (i % 3 == 0) anomalies.push_back(id);  // ids 1, 4, 7, 10
  }
  ASSERT_EQ(anomalies, (std::vector<std::int64_t>{1, 4, 7, 10}));

  auto page = log_->list({.since_id = 1, .limit = 2, .kind = "anomaly"});
  ASSERT_TRUE(page);
  EXPECT_EQ(ids_of(*page), (std::vector<std::int64_t>{4, 7}));
  auto next = log_->list({.since_id = page->back().id, .limit = 2, .kind = "anomaly"});
  ASSERT_TRUE(next);
  EXPECT_EQ(ids_of(*next), (std::vector<std::int64_t>{10}));
  auto end = log_->list({.since_id = 10, .limit = 2, .kind = "anomaly"});
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->empty());

  auto any = log_->list({.since_id = 5, .limit = 3});
  ASSERT_TRUE(any);
  EXPECT_EQ(ids_of(*any), (std::vector<std::int64_t>{6, 7, 8}));
  auto from_zero = log_->list({.since_id = 0, .limit = 2});
  ASSERT_TRUE(from_zero);
  EXPECT_EQ(ids_of(*from_zero), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(EventLogTest, LastIdIsRestoredByLoadAfterReopening) {
  append("annotation", "a");
  append("annotation", "b");
  std::int64_t last = append("annotation", "c");
  EXPECT_EQ(log_->last_id(), last);

  reopen();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(log_->last_id(), last);
  EXPECT_EQ(append("annotation", "d"), last + 1);
  EXPECT_EQ(log_->last_id(), last + 1);
  auto all = log_->list({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 4u);
}

TEST_F(EventLogTest, IdsAreNotReusedAfterTheNewestEventIsDeleted) {
  append("annotation", "a");
  std::int64_t b = append("annotation", "b");
  store_->with([&](Database& db) {
    ASSERT_TRUE(db.exec("DELETE FROM events WHERE id = " + std::to_string(b)));
  });
  // A follower that saw `b` must not miss the next event because it reused b's id.
  EXPECT_GT(append("annotation", "c"), b);
}

}  // namespace
}  // namespace aion::store
