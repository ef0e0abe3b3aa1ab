// Tuning held for batch jobs (the Slurm prolog/epilog path): apply once, join, conflict,
// roll back with the last job, stale holds after a reboot, failures, concurrent prologs.
#include "aion/tune/holds.h"

#include <atomic>
#include <thread>

#include "tune_fixture.h"

namespace aion::tune::testing {
namespace {

class HoldsTest : public TuneFixture {
 protected:
  HoldStore holds(const std::string& boot = "boot-1") const {
    return HoldStore(state_ / "tune", boot);
  }
  // Applies the shipped ai-training profile to the copied tree, counting calls.
  std::function<Result<ApplyReport>()> applier() {
    return [this]() -> Result<ApplyReport> {
      ++applies_;
      auto cat = shipped_catalog(host());
      auto resolved = cat.resolve("ai-training");
      if (!resolved) return std::unexpected(resolved.error());
      auto plan = plan_for(*resolved);
      if (!plan) return std::unexpected(plan.error());
      return apply(*plan, host(), store(), {.persist = false});
    };
  }
  std::function<Result<RollbackReport>(const std::string&)> roller() {
    return [this](const std::string& id) -> Result<RollbackReport> {
      ++rollbacks_;
      auto snap = store().load(id);
      if (!snap) return std::unexpected(snap.error());
      return rollback(*snap, host(), store(), "test");
    };
  }
  int applies_ = 0;
  int rollbacks_ = 0;
};

TEST_F(HoldsTest, FirstJobAppliesOthersJoinAndTheLastOneRollsBackExactly) {
  const auto before = tree_picture(root_);
  auto a = holds().acquire("11", "ai-training", applier());
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->outcome, AcquireOutcome::kApplied);
  ASSERT_TRUE(a->report && a->report->ok);
  EXPECT_FALSE(a->hold.snapshot_id.empty());
  EXPECT_NE(tree_picture(root_), before) << "the profile changed nothing on the fixture";
  const auto tuned = tree_picture(root_);

  auto b = holds().acquire("12", "ai-training", applier());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->outcome, AcquireOutcome::kJoined);
  EXPECT_EQ(b->hold.jobs, (std::vector<std::string>{"11", "12"}));
  EXPECT_EQ(applies_, 1);
  // A requeued job's prolog runs again: it is not counted twice.
  ASSERT_TRUE(holds().acquire("12", "ai-training", applier()));
  EXPECT_EQ((*holds().current())->jobs.size(), 2u);

  auto r1 = holds().release("11", roller());
  ASSERT_TRUE(r1);
  EXPECT_TRUE(r1->held);
  EXPECT_FALSE(r1->last);
  EXPECT_EQ(rollbacks_, 0);
  EXPECT_EQ(tree_picture(root_), tuned);

  auto r2 = holds().release("12", roller());
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->last);
  ASSERT_TRUE(r2->rollback);
  EXPECT_TRUE(r2->rollback->ok);
  EXPECT_EQ(tree_picture(root_), before);
  EXPECT_FALSE(*holds().current());
  // An epilog of a job that held nothing is not an error and touches nothing.
  auto r3 = holds().release("13", roller());
  ASSERT_TRUE(r3);
  EXPECT_FALSE(r3->held);
  EXPECT_EQ(rollbacks_, 1);
}

TEST_F(HoldsTest, AnotherProfileWhileOneIsHeldIsAConflictThatChangesNothing) {
  ASSERT_TRUE(holds().acquire("11", "ai-training", applier()));
  const auto tuned = tree_picture(root_);
  auto c = holds().acquire("12", "ai-inference", []() -> Result<ApplyReport> {
    ADD_FAILURE() << "a conflicting profile must not be applied";
    return ApplyReport{};
  });
  ASSERT_TRUE(c);
  EXPECT_EQ(c->outcome, AcquireOutcome::kConflict);
  EXPECT_EQ(c->hold.profile, "ai-training");
  EXPECT_EQ(c->hold.jobs, std::vector<std::string>{"11"});
  EXPECT_EQ(tree_picture(root_), tuned);
  // The conflicting job's epilog leaves the hold alone.
  auto r = holds().release("12", roller());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->held);
  EXPECT_EQ((*holds().current())->jobs, std::vector<std::string>{"11"});
}

TEST_F(HoldsTest, AHoldFromAnEarlierBootIsDroppedNotJoined) {
  ASSERT_TRUE(holds("boot-1").acquire("11", "ai-training", applier()));
  // After a reboot the kernel forgot the settings (no persistence for job tuning): a new job
  // must apply again, and the old job's epilog never comes.
  EXPECT_FALSE(*holds("boot-2").current());
  auto a = holds("boot-2").acquire("20", "ai-training", applier());
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->dropped_stale);
  EXPECT_EQ(a->outcome, AcquireOutcome::kApplied);
  EXPECT_EQ(applies_, 2);
  EXPECT_EQ(a->hold.jobs, std::vector<std::string>{"20"});
}

TEST_F(HoldsTest, AFailedApplyHoldsNothingAndAnErrorBeforeApplyingHoldsNothing) {
  ApplyReport failed;
  failed.ok = false;
  failed.failure = "vm.swappiness: read back 60, wrote 10";
  auto a = holds().acquire("11", "ai-training", [&] { return Result<ApplyReport>(failed); });
  ASSERT_TRUE(a);
  EXPECT_EQ(a->outcome, AcquireOutcome::kFailed);
  EXPECT_FALSE(*holds().current());
  auto e = holds().acquire("11", "ai-training", [] {
    return Result<ApplyReport>(fail(ErrorCode::kIo, "snapshot directory is read-only"));
  });
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("read-only"), std::string::npos);
  EXPECT_FALSE(*holds().current());
}

TEST_F(HoldsTest, ACorruptStateFileIsAnErrorNamingIt) {
  fs::create_directories(state_ / "tune");
  std::ofstream(state_ / "tune" / "holds.json") << "{\"schema_version\": 1, \"hold\": {\"prof";
  auto a = holds().acquire("11", "ai-training", applier());
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("holds.json"), std::string::npos) << a.error().message();
  EXPECT_EQ(applies_, 0);
  EXPECT_FALSE(holds().release("11", roller()));
}

TEST_F(HoldsTest, ConcurrentPrologsApplyOnceAndAllJoin) {
  // Prologs of jobs starting together run at the same time: the flock makes one apply and
  // the others join. Each thread opens its own lock file description, as processes do.
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = holds().acquire(std::to_string(100 + i), "ai-training", [&] {
        applied.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ApplyReport ok;
        ok.snapshot_id = "s1";
        return Result<ApplyReport>(ok);
      });
      if (!r) errors.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(applied.load(), 1);
  auto h = holds().current();
  ASSERT_TRUE(h && *h);
  EXPECT_EQ((*h)->jobs.size(), 8u);
}

}  // namespace
}  // namespace aion::tune::testing
