// One user submits job after job to take the node's whole pending queue, so that nobody else
// can queue anything. The scheduler must refuse that user's submission past the per-user cap
// with a message that says the limit, how many they have and what to do, while another user
// can still submit.
#include <gtest/gtest.h>

#include "aion/hw/discovery.h"
#include "aion/sched/runner.h"
#include "aion/store/event_log.h"

namespace aion::sched {
namespace {

TEST(PendingFloodTest, AUserPastThePendingCapIsRefusedAndOthersAreNot) {
  std::vector<store::Migration> migrations;
  for (auto span : {store::EventLog::migrations(), JobManager::migrations()}) {
    migrations.insert(migrations.end(), span.begin(), span.end());
  }
  auto db = store::Database::open({.path = ":memory:"}, migrations);
  ASSERT_TRUE(db) << db.error().message();
  store::Store st(std::move(*db));
  store::EventLog events(st, Clock::system());
  RunnerConfig config;
  config.jobs_dir = "/nonexistent";
  config.cgroups = false;
  config.policy.max_pending_per_user = 3;
  JobManager jobs(st, events, HostFs("/"), hw::discover(HostFs("/"), {.use_hwloc = false}), config);
  auto spec_of = [](std::uint32_t uid, const std::string& user) {
    JobSpec s;
    s.command = {"/bin/true"};
    s.cwd = "/";
    s.uid = uid;
    s.gid = uid;
    s.user = user;
    return s;
  };
  // The loop is not started: everything submitted stays pending, as under a flood.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(jobs.submit(spec_of(65534, "nobody")));
  auto refused = jobs.submit(spec_of(65534, "nobody"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  const std::string& msg = refused.error().message();
  EXPECT_NE(msg.find("user nobody (uid 65534) already has 3 pending jobs"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("sched.max_pending_per_user = 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cancel"), std::string::npos) << msg;
  // Another user is not held up by the first one's flood.
  EXPECT_TRUE(jobs.submit(spec_of(65533, "other")));
}

}  // namespace
}  // namespace aion::sched
