// Forged faults, at the diagnosis engine: anyone on the node can write a kernel-looking line
// to the journal (`logger`), a file aiond tails or a job's output. Such a line must not open
// an incident that proposes draining and resetting a GPU, nor link (and so requeue) another
// user's job; the same text from the kernel still does.
#include <algorithm>

#include <gtest/gtest.h>

#include "../diagnose/test_util.h"
#include "aion/diagnose/engine.h"

namespace aion::diagnose {
namespace {

using testing::at;
using testing::shipped;

const std::string kXid79 =
    "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.";
const std::string kOomOfJob7 =
    "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
    "oom_memcg=/aion.slice/job-7,task_memcg=/aion.slice/job-7,task=python,pid=4242,uid=1000";

bool proposes(const std::vector<Incident>& all, const std::string& playbook) {
  for (const auto& i : all)
    for (const auto& h : i.hypotheses)
      if (h.playbook == playbook) return true;
  return false;
}

bool links_job(const std::vector<Incident>& all, std::int64_t job) {
  for (const auto& i : all)
    if (std::find(i.jobs.begin(), i.jobs.end(), job) != i.jobs.end()) return true;
  return false;
}

TEST(ForgedFaultTest, AnXid79LineInAUsersJournalEntryOpensNoIncident) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("journal", at(10, 0, 0), kXid79, "journal");
  e.on_log_line("file:/var/log/syslog", at(10, 0, 1), kXid79);
  EXPECT_TRUE(e.incidents().empty());
  EXPECT_FALSE(proposes(e.incidents(), "drain-and-reset-gpu"));
  EXPECT_EQ(e.stats().untrusted_hits, 2u);
}

TEST(ForgedFaultTest, AJournalLineWithoutAnOriginCountsAsUserSpace) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("journal", at(10, 0, 0), kXid79);
  EXPECT_TRUE(e.incidents().empty());
}

TEST(ForgedFaultTest, TheSameXid79FromTheKernelProposesDrainAndReset) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("kmsg", at(10, 0, 0), kXid79);
  // A journal entry the kernel wrote (_TRANSPORT=kernel) is the kernel's too.
  e.on_log_line("journal", at(10, 0, 1), kXid79, "kernel");
  auto all = e.incidents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].hypotheses.front().signature, "nvidia-xid-79");
  EXPECT_TRUE(proposes(all, "drain-and-reset-gpu"));
}

TEST(ForgedFaultTest, AForgedOomLineNamingAnotherUsersJobDoesNotLinkIt) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("journal", at(10, 0, 0), kOomOfJob7, "journal");
  e.on_log_line("job:3", at(10, 0, 1), kOomOfJob7);  // bob's job 3 prints it
  EXPECT_FALSE(links_job(e.incidents(), 7));
}

TEST(ForgedFaultTest, TheSameOomLineFromTheKernelLinksTheJob) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("kmsg", at(10, 0, 0), kOomOfJob7);
  EXPECT_TRUE(links_job(e.incidents(), 7));
}

TEST(ForgedFaultTest, AJobPrintingAnEccErrorGetsAnIncidentButNoGpuReset) {
  Engine e(shipped().catalog, *shipped().matcher, {});
  e.on_log_line("job:5", at(10, 0, 0),
                "RuntimeError: CUDA error: uncorrectable ECC error encountered");
  auto all = e.incidents();
  ASSERT_FALSE(all.empty());
  EXPECT_TRUE(links_job(all, 5));
  EXPECT_FALSE(proposes(all, "drain-and-reset-gpu"));
}

TEST(ForgedFaultTest, ACatalogOriginOutsideTheKnownOnesIsRefusedAtLoad) {
  auto c = Catalog::parse(R"(schema_version = 1
[[signature]]
id = "x"
title = "x"
component = "gpu"
severity = "critical"
weight = 0.5
pattern = 'x'
origins = ["kmsg"]
meaning = "m"
evidence = ["e"]
action = "a"
source = "s"
)",
                          "t.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("unknown origin 'kmsg'"), std::string::npos)
      << c.error().message();
}

}  // namespace
}  // namespace aion::diagnose
