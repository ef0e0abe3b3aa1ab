#include "aion/tune/recommend.h"

#include <gtest/gtest.h>

#include "tune_fixture.h"

namespace aion::tune {
namespace {

hw::Inventory cpu_only(int threads, int nodes) {
  hw::Inventory inv;
  inv.cpu.threads = threads;
  inv.cpu.sockets = nodes;
  for (int i = 0; i < nodes; ++i) {
    hw::NumaNode n;
    n.id = i;
    inv.numa_nodes.push_back(n);
  }
  return inv;
}

bool mentions(const Recommendation& r, const std::string& text) {
  for (const auto& x : r.reasons) {
    if (x.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(RecommendTest, MachinesWithoutGpusGetBalancedOrThroughput) {
  EXPECT_EQ(recommend(cpu_only(2, 1), {}).profile, "balanced");
  auto big = recommend(cpu_only(64, 2), {});
  EXPECT_EQ(big.profile, "throughput");
  EXPECT_TRUE(mentions(big, "no accelerator"));
}

TEST(RecommendTest, WithoutTelemetryTheHardwareDecidesAndSaysTelemetryWasMissing) {
  hw::Inventory inv = testing::fixture_inventory();
  TelemetrySummary none;
  none.note = "aiond is not running";
  auto r = recommend(inv, none);
  EXPECT_EQ(r.profile, "ai-inference");  // one GPU, no RDMA
  EXPECT_TRUE(mentions(r, "no telemetry: aiond is not running"));
  inv.nics.front().rdma = true;
  EXPECT_EQ(recommend(inv, none).profile, "ai-training");
}

TEST(RecommendTest, SustainedGpuUseMeansTrainingAndBurstsMeanInference) {
  hw::Inventory inv = testing::fixture_inventory();
  TelemetrySummary busy;
  busy.available = true;
  busy.window_hours = 24;
  summarize_gpu_utilization(std::vector<double>(100, 0.9), busy);
  auto r = recommend(inv, busy);
  EXPECT_EQ(r.profile, "ai-training");
  EXPECT_TRUE(mentions(r, "mean 90%"));

  TelemetrySummary bursty;
  bursty.available = true;
  bursty.window_hours = 24;
  std::vector<double> samples(100, 0.05);
  for (int i = 0; i < 10; ++i) samples[static_cast<std::size_t>(i * 10)] = 0.95;
  summarize_gpu_utilization(samples, bursty);
  EXPECT_NEAR(bursty.gpu_util_p95, 0.95, 1e-9);
  inv.nics.front().rdma = true;  // telemetry outweighs the hardware guess
  EXPECT_EQ(recommend(inv, bursty).profile, "ai-inference");
}

}  // namespace
}  // namespace aion::tune
