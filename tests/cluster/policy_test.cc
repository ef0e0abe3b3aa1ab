#include "aion/cluster/policy.h"

#include <gtest/gtest.h>

#include <set>

#include "aion/cluster/fragmentation.h"

namespace aion::cluster {
namespace {

NodeSpec node(std::string name, int gpus, std::int64_t cpu = 32000, std::string model = "T4") {
  return {std::move(name), cpu, 256 * 1024, gpus, gpus > 0 ? std::move(model) : ""};
}

PodSpec pod(int num_gpu, int milli, std::int64_t cpu = 1000, std::string spec = "") {
  PodSpec p;
  p.name = "p";
  p.cpu_milli = cpu;
  p.memory_mib = 1024;
  p.num_gpu = num_gpu;
  p.gpu_milli = milli;
  p.gpu_spec = std::move(spec);
  return p;
}

Cluster make(const std::vector<NodeSpec>& nodes) {
  auto c = Cluster::create(nodes);
  EXPECT_TRUE(c);
  return std::move(*c);
}

std::vector<double> frags(const Cluster& c, const WorkloadDistribution& d) {
  std::vector<double> f;
  for (int n = 0; n < c.size(); ++n) f.push_back(fragmentation(c, n, d));
  return f;
}

Decision decide(const Cluster& c, std::string_view policy, const PodSpec& p,
                const WorkloadDistribution& d = {}, std::uint64_t seed = 1) {
  auto pol = make_policy(policy, &d);
  EXPECT_TRUE(pol) << policy;
  Rng rng(seed);
  return place(c, **pol, c.request(p), frags(c, d), rng);
}

TEST(FragmentationTest, CountsWhatEachTypeCannotUse) {
  // Half CPU-only pods, half 0.5-GPU shares needing 1 core.
  WorkloadDistribution d({{0, 0, 0, kAnyModel, 0.5}, {1000, 1, 500, kAnyModel, 0.5}});
  const std::int16_t left[] = {300, 1000};
  // CPU-only pods can use no GPU (1300); shares can use GPU 1 but not the 300 left on GPU 0.
  EXPECT_DOUBLE_EQ(fragmentation(8000, 0, left, 2, d), 0.5 * 1300 + 0.5 * 300);
  // Without the core a share needs, all 1300 is fragmented for it too.
  EXPECT_DOUBLE_EQ(fragmentation(500, 0, left, 2, d), 1300);
  // A fully allocated node has nothing to fragment.
  const std::int16_t none[] = {0, 0};
  EXPECT_DOUBLE_EQ(fragmentation(8000, 0, none, 2, d), 0);
}

TEST(FragmentationTest, ModelAndGangConstraintsMakeEverythingUnusable) {
  WorkloadDistribution model_bound({{1000, 1, 1000, ModelMask{1} << 1, 1.0}});
  const std::int16_t left[] = {1000, 1000};
  EXPECT_DOUBLE_EQ(fragmentation(8000, 0, left, 2, model_bound), 2000);  // node has model 0
  EXPECT_DOUBLE_EQ(fragmentation(8000, 1, left, 2, model_bound), 0);
  WorkloadDistribution gang({{1000, 2, 1000, kAnyModel, 1.0}});
  const std::int16_t one_free[] = {1000, 400};
  EXPECT_DOUBLE_EQ(fragmentation(8000, 0, one_free, 2, gang), 1400);
}

TEST(FragmentationTest, DistributionKeepsPopularTypesAndRenormalises) {
  auto c = make({node("n", 1)});
  std::vector<PodRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(c.request(pod(1, 500)));
  for (int i = 0; i < 3; ++i) reqs.push_back(c.request(pod(0, 0)));
  reqs.push_back(c.request(pod(1, 1000)));
  auto d = WorkloadDistribution::from_requests(reqs, 0.9);
  ASSERT_EQ(d.types().size(), 1u);  // the 1-GPU type is the 10% left out
  EXPECT_DOUBLE_EQ(d.types()[0].weight, 6.0 / 9);
  EXPECT_DOUBLE_EQ(d.cpu_only_weight(), 3.0 / 9);
}

TEST(PolicyTest, BestFitTakesTheNodeWithLeastLeft) {
  auto c = make({node("big", 8), node("small", 2)});
  auto d = decide(c, "bestfit", pod(1, 1000));
  EXPECT_EQ(d.node, 1);
  EXPECT_EQ(d.gpus, 0b01);
}

TEST(PolicyTest, PackingPutsASharePodOnAPartlyUsedGpu) {
  auto c = make({node("empty", 2), node("used", 2)});
  c.allocate(1, c.request(pod(1, 500)), 0b10);
  auto d = decide(c, "packing", pod(1, 300));
  EXPECT_EQ(d.node, 1);
  EXPECT_EQ(d.gpus, 0b10);  // the GPU with 500 left, not the free one
}

TEST(PolicyTest, ClusteringPrefersNodesRunningTheSameKind) {
  auto c = make({node("whole", 4), node("shares", 4), node("empty", 4)});
  c.allocate(0, c.request(pod(1, 1000)), 0b0001);
  c.allocate(1, c.request(pod(1, 200)), 0b0001);
  EXPECT_EQ(decide(c, "clustering", pod(1, 300)).node, 1);
  EXPECT_EQ(decide(c, "clustering", pod(1, 1000)).node, 0);
  EXPECT_EQ(decide(c, "clustering", pod(2, 1000)).node, 2);  // no 2-GPU pods yet: empty node
}

TEST(PolicyTest, DotProdAvoidsAligningWithWhatIsLeft) {
  auto c = make({node("roomy", 1, 96000), node("tight", 1, 16000)});
  EXPECT_EQ(decide(c, "dotprod", pod(0, 0, 8000)).node, 1);
}

TEST(PolicyTest, FgdChoosesTheNodeAndGpuThatFragmentLeast) {
  // Target workload: whole 1-GPU pods only.
  WorkloadDistribution d({{1000, 1, 1000, kAnyModel, 1.0}});
  auto c = make({node("free", 1), node("partly", 1)});
  c.allocate(1, c.request(pod(1, 400)), 0b1);
  // On "partly" the 600 left is already useless to 1-GPU pods; on "free" a share would make
  // a whole GPU useless.
  EXPECT_EQ(decide(c, "fgd", pod(1, 500), d).node, 1);
  EXPECT_EQ(decide(c, "fgd-pack", pod(1, 500), d).node, 1);

  auto three = make({node("n", 3)});
  three.allocate(0, three.request(pod(1, 400)), 0b010);
  three.allocate(0, three.request(pod(1, 400)), 0b100);
  auto choice = decide(three, "fgd", pod(1, 500), d);
  EXPECT_EQ(choice.node, 0);
  EXPECT_EQ(choice.gpus, 0b010);  // the first of the two equally used GPUs, not the free one
}

TEST(PolicyTest, EveryPolicyRespectsModelsCpuAndMemory) {
  auto c = make({node("t4", 2, 32000, "T4"), node("v100", 2, 32000, "V100M16"),
                 node("nocpu", 8, 500, "V100M16")});
  WorkloadDistribution d({{1000, 1, 1000, kAnyModel, 1.0}});
  for (auto name : policy_names()) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      EXPECT_EQ(decide(c, name, pod(1, 1000, 1000, "V100M16|A100"), d, seed).node, 1) << name;
    }
    EXPECT_EQ(decide(c, name, pod(4, 1000), d).node, -1) << name;  // no node has 4 GPUs
    PodSpec huge = pod(0, 0);
    huge.memory_mib = 1 << 30;
    EXPECT_EQ(decide(c, name, huge, d).node, -1) << name;
  }
}

TEST(PolicyTest, RandomSpreadsOverFittingNodes) {
  auto c = make({node("a", 1), node("b", 1), node("c", 1)});
  std::set<int> seen;
  for (std::uint64_t seed = 0; seed < 50; ++seed)
    seen.insert(decide(c, "random", pod(1, 1000), {}, seed).node);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(PolicyTest, UnknownPolicyIsAnError) {
  auto p = make_policy("tetris", nullptr);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(make_policy("fgd", nullptr));  // needs a target workload
  EXPECT_TRUE(make_policy("BestFit", nullptr));
}

}  // namespace
}  // namespace aion::cluster
