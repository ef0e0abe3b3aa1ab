// Node feature labels on the generated fixture machines. Expected values come from the fixtures:
// dgx-a100: 8 x A100-SXM4-80GB (NVML: 80 GiB, sm 8.0, driver 535.104.05), every GPU on the
//   NVSwitch fabric, so `nvidia-smi topo -m` shows NV12 between all pairs: one island of 8.
// workstation: 2 x GeForce RTX 4090 (NVML: 25757220864 bytes = 23.99 GiB -> 24, sm 8.9,
//   driver 550.54.14), only PCIe between them (PHB): no island.
// mi250x: 8 MI250X GCDs (kfd: 64 GiB, gfx90a, amdgpu 6.3.6), XGMI between all pairs: 8.
// cpu-vm: no accelerator: only gpu.count=0.
#include <gtest/gtest.h>

#include <map>

#include "aion/k8s/features.h"
#include "k8s_fixture.h"
#include "support/daemon_harness.h"

namespace aion::k8s {
namespace {

std::map<std::string, std::string> labels(const std::string& fixture) {
  std::map<std::string, std::string> out;
  for (const auto& f : node_features(testing::discover_fixture(fixture))) out[f.name] = f.value;
  return out;
}

TEST(FeaturesTest, DgxA100LabelsModelMemoryCapabilityDriverAndIslandOfEight) {
  auto l = labels("dgx-a100");
  EXPECT_EQ(l["aion.io/gpu.count"], "8");
  EXPECT_EQ(l["aion.io/gpu.vendor"], "nvidia");
  EXPECT_EQ(l["aion.io/gpu.model"], "NVIDIA-A100-SXM4-80GB");
  EXPECT_EQ(l["aion.io/gpu.memory-gib"], "80");
  EXPECT_EQ(l["aion.io/gpu.compute-capability"], "8.0");
  EXPECT_EQ(l["aion.io/gpu.driver"], "535.104.05");
  EXPECT_EQ(l["aion.io/gpu.nvlink-island-size"], "8");
  EXPECT_EQ(l.count("aion.io/gpu.gfx-target"), 0u);
  EXPECT_EQ(l.count("aion.io/gpu.mixed"), 0u);
}

TEST(FeaturesTest, WorkstationGpusOnPcieOnlyHaveNoIsland) {
  auto l = labels("workstation");
  EXPECT_EQ(l["aion.io/gpu.count"], "2");
  EXPECT_EQ(l["aion.io/gpu.model"], "NVIDIA-GeForce-RTX-4090");
  EXPECT_EQ(l["aion.io/gpu.memory-gib"], "24");
  EXPECT_EQ(l["aion.io/gpu.compute-capability"], "8.9");
  EXPECT_EQ(l["aion.io/gpu.driver"], "550.54.14");
  EXPECT_EQ(l["aion.io/gpu.nvlink-island-size"], "0");
}

TEST(FeaturesTest, Mi250xLabelsGfxTargetAndXgmiIsland) {
  auto l = labels("mi250x");
  EXPECT_EQ(l["aion.io/gpu.count"], "8");
  EXPECT_EQ(l["aion.io/gpu.vendor"], "amd");
  EXPECT_EQ(l["aion.io/gpu.model"], "Aldebaran-MI200-Instinct-MI250X-MI250");
  EXPECT_EQ(l["aion.io/gpu.memory-gib"], "64");
  EXPECT_EQ(l["aion.io/gpu.gfx-target"], "gfx90a");
  EXPECT_EQ(l["aion.io/gpu.driver"], "6.3.6");
  EXPECT_EQ(l["aion.io/gpu.nvlink-island-size"], "8");
  EXPECT_EQ(l.count("aion.io/gpu.compute-capability"), 0u);
}

TEST(FeaturesTest, CpuOnlyVmHasOnlyAZeroCount) {
  auto f = node_features(testing::discover_fixture("cpu-vm"));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(features_file(f), "aion.io/gpu.count=0\n");
}

TEST(FeaturesTest, IslandIsTheLargestFullyLinkedSetNotTheLargestComponent) {
  // A chain 0-1-2 plus a triangle 3-4-5: the chain is connected but not fully linked.
  hw::Inventory inv;
  for (int i = 0; i < 6; ++i) {
    hw::Accelerator a;
    a.index = i;
    a.vendor = "nvidia";
    a.pci.address = "0000:0" + std::to_string(i) + ":00.0";
    inv.accelerators.push_back(a);
  }
  auto link = [&](int a, int b) {
    inv.accelerators[a].links.push_back({"nvlink", inv.accelerators[b].pci.address, 2});
    inv.accelerators[b].links.push_back({"nvlink", inv.accelerators[a].pci.address, 2});
  };
  link(0, 1);
  link(1, 2);
  link(3, 4);
  link(4, 5);
  link(3, 5);
  EXPECT_EQ(nvlink_island_size(inv), 3);
  link(0, 2);
  link(2, 3);
  EXPECT_EQ(nvlink_island_size(inv), 3);
}

TEST(FeaturesTest, LabelValuesAreValidKubernetesLabelValues) {
  EXPECT_EQ(label_value("Aldebaran/MI200 [Instinct MI250X/MI250]"),
            "Aldebaran-MI200-Instinct-MI250X-MI250");
  EXPECT_EQ(label_value("  (x) "), "x");
  EXPECT_EQ(label_value(std::string(100, 'a')).size(), 63u);
  EXPECT_EQ(label_value("--"), "");
}

TEST(FeaturesTest, CliPrintsTheFeatureFileForAFixtureMachine) {
  auto e = aion::testing::run_program({aion::testing::bin_path("aion").string(), "--host-root",
                                       testing::fixture("cpu-vm") + "/root", "k8s", "features"});
  EXPECT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find("aion.io/gpu.count=0\n"), std::string::npos) << e.out;
}

}  // namespace
}  // namespace aion::k8s
