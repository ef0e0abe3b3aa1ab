// The job-tuning workflow of a batch system's prolog and epilog (job_tuning.h), on a copy of
// the recorded tuning host: the hardware is discovered from the tree, the shipped profiles
// and ranges come from the source's data directory.
#include "aion/tune/job_tuning.h"

#include <cstdlib>

#include "tune_fixture.h"

namespace aion::tune::testing {
namespace {

class JobTuningTest : public TuneFixture {
 protected:
  void SetUp() override {
    TuneFixture::SetUp();
    ::setenv("AION_DATA_DIR", AION_SOURCE_DIR "/data", 1);
    ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  }
  JobTuningSite site() const { return {host(), state_, {}}; }
};

TEST_F(JobTuningTest, HoldsAppliesOnceJoinsAndTheLastReleaseRollsBackExactly) {
  const auto before = tree_picture(root_);
  auto a = hold_job_tuning(site(), "21", "ai-training", /*named_by_user=*/true);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->outcome, JobHoldOutcome::kApplied);
  ASSERT_TRUE(a->report && a->report->ok);
  EXPECT_TRUE(a->report->dropins.empty()) << "job tuning is not persisted";
  EXPECT_NE(tree_picture(root_), before);

  auto b = hold_job_tuning(site(), "22", "ai-training", true);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->outcome, JobHoldOutcome::kJoined);
  EXPECT_EQ(b->hold.jobs, (std::vector<std::string>{"21", "22"}));

  auto c = hold_job_tuning(site(), "23", "balanced", true);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->outcome, JobHoldOutcome::kConflict);
  EXPECT_EQ(c->hold.profile, "ai-training");

  auto r1 = release_job_tuning(site(), "21", "job 21 ended");
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_TRUE(r1->held);
  EXPECT_FALSE(r1->last);
  auto r2 = release_job_tuning(site(), "22", "job 22 ended");
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_TRUE(r2->last);
  ASSERT_TRUE(r2->rollback);
  EXPECT_TRUE(r2->rollback->ok);
  EXPECT_EQ(tree_picture(root_), before);
  // Nothing held any more: an epilog is a no-op.
  auto r3 = release_job_tuning(site(), "23", "job 23 ended");
  ASSERT_TRUE(r3) << r3.error().message();
  EXPECT_FALSE(r3->held);
}

TEST_F(JobTuningTest, AMisspeltProfileFromTheUserRunsUntunedButTheOperatorsIsAnError) {
  const auto before = tree_picture(root_);
  auto user = hold_job_tuning(site(), "31", "ai-trainig", /*named_by_user=*/true);
  ASSERT_TRUE(user) << user.error().message();
  EXPECT_EQ(user->outcome, JobHoldOutcome::kUnknownProfile);
  EXPECT_NE(user->unknown_profile.find("ai-trainig"), std::string::npos) << user->unknown_profile;
  auto op = hold_job_tuning(site(), "31", "ai-trainig", /*named_by_user=*/false);
  ASSERT_FALSE(op);
  EXPECT_EQ(op.error().code(), ErrorCode::kNotFound) << op.error().message();
  EXPECT_EQ(tree_picture(root_), before);
}

TEST_F(JobTuningTest, TheLiveMachineNeedsRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "runs as root: the live machine may be tuned";
  auto r = hold_job_tuning({HostFs("/"), state_, {}}, "41", "ai-training", true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("run it as root"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace aion::tune::testing
