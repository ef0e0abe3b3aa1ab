// A user (or a fault that repeats) makes jobs, events and incidents forever, so that the state
// database grows until the disk is full. Retention must prune old finished jobs, old events and
// quiet incidents, and never a pending or running job. Time is simulated through the Clock.
#include <gtest/gtest.h>

#include "aion/diagnose/incident_store.h"
#include "aion/sched/job_store.h"
#include "aion/store/event_log.h"
#include "aion/store/retention.h"

namespace aion {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

TEST(RetentionTest, OldFinishedJobsEventsAndIncidentsArePrunedAndLiveJobsAreNot) {
  std::vector<store::Migration> migrations;
  for (auto span : {store::EventLog::migrations(), sched::JobStore::migrations(),
                    diagnose::IncidentStore::migrations()}) {
    migrations.insert(migrations.end(), span.begin(), span.end());
  }
  auto db = store::Database::open({.path = ":memory:"}, migrations);
  ASSERT_TRUE(db) << db.error().message();
  store::Store st(std::move(*db));
  ManualClock clock;
  store::EventLog events(st, clock);
  sched::JobStore jobs(st);
  diagnose::IncidentStore incidents(st, clock);

  // Day 0: a flood of finished jobs, events and incidents, and one job still running.
  const std::int64_t day0 = to_unix_ms(clock.wall());
  auto job = [&](sched::JobState state, std::int64_t end_ms) {
    sched::Job j;
    j.spec.name = "flood";
    j.spec.command = {"/bin/true"};
    j.spec.cwd = "/";
    j.spec.uid = 1000;
    j.spec.user = "mallory";
    j.state = state;
    j.submit_ms = day0;
    j.end_ms = end_ms;
    EXPECT_TRUE(jobs.insert(j));
    EXPECT_TRUE(jobs.update(j));  // how the runner records the end
    return j.id;
  };
  for (int i = 0; i < 300; ++i) job(sched::JobState::kFailed, day0 + i);
  const std::int64_t running = job(sched::JobState::kRunning, 0);
  const std::int64_t pending = job(sched::JobState::kPending, 0);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(events.append({.kind = "job_failed", .message = "x"}));
  for (int i = 1; i <= 20; ++i) {
    diagnose::Incident inc;
    inc.id = i;
    inc.opened_ms = inc.updated_ms = day0 + i;
    inc.severity = "warning";
    inc.title = "flood";
    ASSERT_TRUE(incidents.save(inc));
  }

  // Day 40: one fresh finished job and event; the retention of the shipped defaults runs.
  clock.advance(std::chrono::hours(24 * 40));
  const std::int64_t now = to_unix_ms(clock.wall());
  const std::int64_t fresh = job(sched::JobState::kCompleted, now);
  ASSERT_TRUE(events.append({.kind = "fresh", .message = "y"}));
  auto gone_jobs = jobs.prune({.max_age_ms = 30 * kDayMs, .max_rows = 100000}, now);
  ASSERT_TRUE(gone_jobs) << gone_jobs.error().message();
  EXPECT_EQ(gone_jobs->size(), 300u);
  auto left = jobs.list({});
  ASSERT_TRUE(left);
  std::set<std::int64_t> ids;
  for (const auto& j : *left) ids.insert(j.id);
  EXPECT_EQ(ids, (std::set<std::int64_t>{running, pending, fresh}));

  // Events: 90 days by default; at day 100 the day-0 flood goes, the fresh one stays.
  clock.advance(std::chrono::hours(24 * 60));
  auto gone_events = events.prune({.max_age_ms = 90 * kDayMs}, to_unix_ms(clock.wall()));
  ASSERT_TRUE(gone_events) << gone_events.error().message();
  EXPECT_EQ(*gone_events, 300);
  auto ev = events.list({.limit = 1000});
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ(ev->front().kind, "fresh");

  // Incidents: at most 5 prunable rows; the oldest go. The newest (whose id new ones follow)
  // is never prunable, so 5 + 1 stay.
  auto gone_incidents = incidents.prune({.max_rows = 5}, to_unix_ms(clock.wall()));
  ASSERT_TRUE(gone_incidents) << gone_incidents.error().message();
  EXPECT_EQ(*gone_incidents, 14);
  auto inc = incidents.list(100);
  ASSERT_TRUE(inc);
  EXPECT_EQ(inc->size(), 6u);
  auto max = incidents.max_id();
  ASSERT_TRUE(max);
  EXPECT_EQ(*max, 20);
}

}  // namespace
}  // namespace aion
