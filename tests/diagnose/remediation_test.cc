#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/diagnose/engine.h"
#include "aion/diagnose/remediation.h"
#include "aion/store/database.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::at;
using testing::shipped;
using testing::TempDir;

// Stand-ins for nvidia-smi and systemctl: they append their arguments to calls.log (and
// nvidia-smi fails when FAIL_RESET is set), so no test ever resets a real GPU.
void fake_commands(const TempDir& d) {
  for (const char* name : {"nvidia-smi", "systemctl"}) {
    auto p =
        d.write(std::string("bin/") + name, std::string("#!/bin/sh\necho \"") + name + " $*\" >> " +
                                                (d.path() / "calls.log").string() +
                                                "\nif [ -n \"$FAIL_RESET\" ] && [ \"$1\" = -r ]; "
                                                "then echo 'GPU busy' >&2; exit 3; fi\n");
    ::chmod(p.c_str(), 0755);
  }
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RemediationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::open({.path = ":memory:"}, IncidentStore::migrations());
    ASSERT_TRUE(db);
    store_ = std::make_unique<store::Store>(std::move(*db));
    audit_ = std::make_unique<IncidentStore>(*store_, clock_);
    auto pbs = load_playbooks(testing::data_dir() / "playbooks");
    ASSERT_TRUE(pbs) << pbs.error().message();
    playbooks_ = std::move(*pbs);
    fake_commands(dir_);
    EngineOptions o;
    o.gpu_by_pci = {{"0000:07:00.0", 2}};
    Engine e(shipped().catalog, *shipped().matcher, o);
    e.on_log_line("kmsg", at(1, 0, 0),
                  "NVRM: Xid (PCI:0000:07:00): 79, pid=9, GPU has fallen off the bus.");
    e.on_event("job", "warning", "job 12 failed",
               R"({"id":12,"state":"failed","gpu_pci":["0000:07:00.0"]})", at(1, 0, 5));
    incident_ = e.incidents().front();
  }

  Remediator remediator(std::set<std::string> automatic = {}, bool fail_reset = false) {
    RemediationHooks h;
    h.drain_gpu = [this](int gpu, const std::string& why) -> Status {
      drained_.push_back(std::to_string(gpu) + " " + why);
      return {};
    };
    h.requeue_job = [this](std::int64_t job) -> Result<std::int64_t> {
      requeued_.push_back(job);
      return job + 100;
    };
    h.health_dir = dir_.path() / "state" / "health";
    h.env = {{"PATH", (dir_.path() / "bin").string() + ":/usr/bin:/bin"}};
    if (fail_reset) h.env["FAIL_RESET"] = "1";
    return Remediator(playbooks_, std::move(automatic), audit_.get(), std::move(h));
  }

  ManualClock clock_;
  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<IncidentStore> audit_;
  std::vector<Playbook> playbooks_;
  Incident incident_;
  std::vector<std::string> drained_;
  std::vector<std::int64_t> requeued_;
};

TEST_F(RemediationTest, DryRunShowsExactlyWhatWouldRunAndRunsNothing) {
  Remediator r = remediator();
  auto out = r.remediate(incident_, {.dry_run = true, .caller = "uid:1000 (alice)"});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(out->executed);
  EXPECT_EQ(out->plan.playbook, "drain-and-reset-gpu");
  ASSERT_EQ(out->plan.steps.size(), 3u);
  EXPECT_EQ(out->plan.steps[0].action, "drain_gpu");
  EXPECT_EQ(out->plan.steps[0].target, "gpu:2");
  EXPECT_EQ(out->plan.steps[1].argv, (std::vector<std::string>{"nvidia-smi", "-r", "-i", "2"}));
  EXPECT_EQ(out->plan.steps[2].target, "job:12");
  EXPECT_TRUE(drained_.empty());
  EXPECT_TRUE(requeued_.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "calls.log"));
  EXPECT_TRUE(audit_->audit_log(incident_.id)->empty());
}

TEST_F(RemediationTest, RunningNeedsAnOperatorAndAnExplicitApprovalAndIsAudited) {
  Remediator r = remediator();
  auto viewer = r.remediate(
      incident_, {.dry_run = false, .approve = true, .privileged = false, .caller = "token:ab12"});
  ASSERT_FALSE(viewer);
  EXPECT_EQ(viewer.error().code(), ErrorCode::kPermissionDenied);
  auto unapproved = r.remediate(
      incident_,
      {.dry_run = false, .approve = false, .privileged = true, .caller = "uid:1000 (alice)"});
  ASSERT_FALSE(unapproved);
  EXPECT_EQ(unapproved.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(unapproved.error().message().find("--approve"), std::string::npos);
  EXPECT_TRUE(drained_.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "calls.log"));

  auto ran = r.remediate(
      incident_,
      {.dry_run = false, .approve = true, .privileged = true, .caller = "uid:1000 (alice)"});
  ASSERT_TRUE(ran) << ran.error().message();
  EXPECT_TRUE(ran->executed);
  ASSERT_EQ(drained_.size(), 1u);
  EXPECT_EQ(drained_[0].substr(0, 2), "2 ");
  EXPECT_EQ(slurp(dir_.path() / "calls.log"), "nvidia-smi -r -i 2\n");
  EXPECT_EQ(requeued_, std::vector<std::int64_t>{12});
  for (const auto& s : ran->steps) EXPECT_EQ(s.outcome, "ok") << s.step.action << ": " << s.detail;

  auto log = audit_->audit_log(incident_.id);
  ASSERT_TRUE(log);
  // refused (viewer), refused (no approval), approve, three steps
  ASSERT_EQ(log->size(), 6u);
  EXPECT_EQ((*log)[0].outcome, "refused");
  EXPECT_EQ((*log)[1].outcome, "refused");
  EXPECT_EQ((*log)[2].action, "approve");
  EXPECT_EQ((*log)[3].action, "drain_gpu");
  EXPECT_EQ((*log)[4].command, "nvidia-smi -r -i 2");
  EXPECT_EQ((*log)[5].detail, "job 12 requeued as job 112");
  for (std::size_t k = 2; k < log->size(); ++k)
    EXPECT_EQ((*log)[k].approved_by, "uid:1000 (alice)");
}

TEST_F(RemediationTest, AutomaticPlaybookNeedsNoApprovalButIsStillAudited) {
  Remediator r = remediator({"mark-node-unhealthy"});
  auto out = r.remediate(incident_, {.playbook = "mark-node-unhealthy",
                                     .dry_run = false,
                                     .privileged = true,
                                     .caller = "uid:0 (root)"});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->plan.automatic);
  std::string text = slurp(dir_.path() / "state" / "health" / "unhealthy");
  EXPECT_NE(text.find("incident " + std::to_string(incident_.id) + ": Xid 79"), std::string::npos)
      << text;
  auto log = audit_->audit_log(incident_.id);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].approved_by, "automatic (diagnose.automatic_playbooks)");
  // Not automatic: the same request is refused.
  auto other = r.remediate(incident_, {.playbook = "restart-persistenced",
                                       .dry_run = false,
                                       .privileged = true,
                                       .caller = "uid:0 (root)"});
  ASSERT_FALSE(other);
}

TEST_F(RemediationTest, AFailedStepStopsThePlaybook) {
  Remediator r = remediator({}, /*fail_reset=*/true);
  auto out = r.remediate(
      incident_, {.dry_run = false, .approve = true, .privileged = true, .caller = "uid:0 (root)"});
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(out->steps.size(), 3u);
  EXPECT_EQ(out->steps[0].outcome, "ok");
  EXPECT_EQ(out->steps[1].outcome, "failed");
  EXPECT_NE(out->steps[1].detail.find("GPU busy"), std::string::npos) << out->steps[1].detail;
  EXPECT_EQ(out->steps[2].outcome, "skipped");
  EXPECT_TRUE(requeued_.empty());
}

TEST_F(RemediationTest, StepsThatCannotApplyAreReportedAndNotRun) {
  Incident node_wide;
  node_wide.id = 42;
  node_wide.title = "MCE";
  Remediator r = remediator();
  auto plan = r.plan(node_wide, "drain-and-reset-gpu");
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->steps[0].problem.empty());
  auto run = r.remediate(node_wide, {.playbook = "drain-and-reset-gpu",
                                     .dry_run = false,
                                     .approve = true,
                                     .privileged = true,
                                     .caller = "uid:0"});
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(drained_.empty());
  auto none = r.plan(node_wide);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace aion::diagnose
