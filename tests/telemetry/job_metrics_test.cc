// Job metrics: a sandboxed job adds its refusals and, where its egress is recorded, its
// network bytes each way; an unconfined job has neither.
#include <gtest/gtest.h>

#include "aion/telemetry/job_metrics.h"

namespace aion::telemetry {
namespace {

const MetricFamily* family(const std::vector<MetricFamily>& all, const std::string& name) {
  for (const auto& f : all)
    if (f.name == name) return &f;
  return nullptr;
}

TEST(JobMetrics, SandboxedJobsReportRefusalsAndEgress) {
  sched::JobManager::JobUsageNow plain;
  plain.id = 1;
  sched::JobManager::JobUsageNow boxed;
  boxed.id = 2;
  boxed.sandboxed = true;
  boxed.egress_recorded = true;
  boxed.egress_bytes_out = 1500;
  boxed.egress_bytes_in = 64000;
  boxed.refusals = 3;
  const auto all = job_metrics({plain, boxed});
  const MetricFamily* egress = family(all, "aion_job_egress_bytes_total");
  ASSERT_NE(egress, nullptr);
  ASSERT_EQ(egress->samples.size(), 2u);
  for (const auto& s : egress->samples) {
    EXPECT_EQ(s.labels.front().second, "2");
    EXPECT_EQ(s.value, s.labels.back().second == "out" ? 1500 : 64000);
  }
  const MetricFamily* refused = family(all, "aion_job_guard_refusals_total");
  ASSERT_NE(refused, nullptr);
  ASSERT_EQ(refused->samples.size(), 1u);
  EXPECT_EQ(refused->samples[0].value, 3);
  EXPECT_EQ(family(job_metrics({plain}), "aion_job_egress_bytes_total"), nullptr);
}

}  // namespace
}  // namespace aion::telemetry
