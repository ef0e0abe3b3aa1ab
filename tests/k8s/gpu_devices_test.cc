// The device plugin's device logic without gRPC, on the generated DGX A100 (8 GPUs on one
// NVSwitch fabric, NV12 between every pair; two GPUs per NUMA node: 0-1 on node 0, 2-3 on 1,
// 4-5 on 2, 6-7 on 3).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "aion/hw/topology.h"
#include "aion/k8s/gpu_devices.h"
#include "k8s_fixture.h"
#include "support/temp_dir.h"

namespace aion::k8s {
namespace {

namespace fs = std::filesystem;

const hw::Inventory& dgx() {
  static const hw::Inventory inv = testing::discover_fixture("dgx-a100");
  return inv;
}

std::vector<std::string> all_ids(const GpuDevices& d) {
  std::vector<std::string> ids;
  for (const auto& dev : d.devices()) ids.push_back(dev.id);
  return ids;
}

int index_of(const GpuDevices& d, const std::string& id) {
  for (std::size_t i = 0; i < d.devices().size(); ++i) {
    if (d.devices()[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

TEST(GpuDevicesTest, DevicesAreTheGpusByUuidWithTheirNumaNode) {
  GpuDevices d("nvidia");
  EXPECT_TRUE(d.update(dgx(), std::nullopt));
  ASSERT_EQ(d.devices().size(), 8u);
  EXPECT_EQ(d.devices()[0].id, "GPU-a100a100-0000-0000-0000-000000000000");
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(d.devices()[i].healthy);
    EXPECT_EQ(d.devices()[i].numa_node, i / 2);
  }
  EXPECT_FALSE(d.update(dgx(), std::nullopt)) << "nothing changed";
  GpuDevices amd("amd");
  amd.update(dgx(), std::nullopt);
  EXPECT_TRUE(amd.devices().empty());
}

TEST(GpuDevicesTest, LostGpuKeepsItsIdAndTurnsUnhealthy) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::nullopt);
  hw::Inventory lost = dgx();
  lost.accelerators[5].state = "lost";
  lost.accelerators[5].uuid.clear();  // a lost GPU no longer answers NVML
  EXPECT_TRUE(d.update(lost, std::nullopt));
  EXPECT_EQ(d.devices()[5].id, "GPU-a100a100-0000-0000-0000-000000000005");
  EXPECT_FALSE(d.devices()[5].healthy);
  EXPECT_TRUE(d.devices()[4].healthy);
}

TEST(GpuDevicesTest, HealthMarkerNamingAGpuMarksOnlyIt) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::string("incident 12: GPU 0000:85:00.0 fell off the bus (Xid 79)\n"));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(d.devices()[i].healthy, i != 5) << i;
  d.update(dgx(), std::string("incident 13: GPU3 ECC storm\n"));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(d.devices()[i].healthy, i != 3) << i;
  // NVML's bus id form, with an 8-digit domain.
  d.update(dgx(), std::string("incident 14: Xid 79 on 00000000:C5:00.0.\n"));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(d.devices()[i].healthy, i != 7) << i;
}

TEST(GpuDevicesTest, HealthMarkerNamingNoGpuMarksTheWholeNode) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::string("incident 7: kernel soft lockups\nsince 2026-01-01T00:00:00Z\n"));
  for (const auto& dev : d.devices()) EXPECT_FALSE(dev.healthy);
  EXPECT_TRUE(d.update(dgx(), std::nullopt));  // marker removed: healthy again
  for (const auto& dev : d.devices()) EXPECT_TRUE(dev.healthy);
}

TEST(GpuDevicesTest, PreferredPairIsNvlinkedAndOnOneNumaNode) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::nullopt);
  auto ids = d.preferred(all_ids(d), {}, 2);
  ASSERT_TRUE(ids) << ids.error().message();
  ASSERT_EQ(ids->size(), 2u);
  const int a = index_of(d, (*ids)[0]), b = index_of(d, (*ids)[1]);
  const auto topo = hw::build_topology(dgx());
  EXPECT_EQ(topo.levels[a][b], hw::LinkLevel::kNvlink);
  EXPECT_EQ(d.devices()[a].numa_node, d.devices()[b].numa_node);
}

TEST(GpuDevicesTest, PreferredFourTakeWholeNumaPairs) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::nullopt);
  auto ids = d.preferred(all_ids(d), {}, 4);
  ASSERT_TRUE(ids) << ids.error().message();
  std::map<int, int> per_numa;
  for (const auto& id : *ids) ++per_numa[d.devices()[index_of(d, id)].numa_node];
  ASSERT_EQ(per_numa.size(), 2u);
  for (auto [numa, n] : per_numa) EXPECT_EQ(n, 2) << "NUMA " << numa;
}

TEST(GpuDevicesTest, PreferredHonoursAvailabilityAndMustInclude) {
  GpuDevices d("nvidia");
  d.update(dgx(), std::nullopt);
  const auto ids = all_ids(d);
  auto p = d.preferred({ids[0], ids[2], ids[3], ids[5]}, {}, 2);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::set<std::string>(p->begin(), p->end()), (std::set<std::string>{ids[2], ids[3]}));
  auto m = d.preferred(ids, {ids[7]}, 2);
  ASSERT_TRUE(m);
  EXPECT_EQ(std::set<std::string>(m->begin(), m->end()), (std::set<std::string>{ids[6], ids[7]}));
  EXPECT_FALSE(d.preferred({ids[0]}, {}, 2));
  EXPECT_FALSE(d.preferred({"GPU-nope", ids[0]}, {}, 1));
}

TEST(GpuDevicesTest, NvlinkBeatsASharedNumaNode) {
  // Without the NVSwitch, only GPUs 1 and 6 (NUMA 0 and 3) share NVLink.
  hw::Inventory inv = dgx();
  for (auto& a : inv.accelerators) a.links.clear();
  inv.accelerators[1].links.push_back({"nvlink", inv.accelerators[6].pci.address, 4});
  inv.accelerators[6].links.push_back({"nvlink", inv.accelerators[1].pci.address, 4});
  GpuDevices d("nvidia");
  d.update(inv, std::nullopt);
  auto ids = d.preferred(all_ids(d), {}, 2);
  ASSERT_TRUE(ids);
  EXPECT_EQ(std::set<std::string>(ids->begin(), ids->end()),
            (std::set<std::string>{d.devices()[1].id, d.devices()[6].id}));
}

TEST(GpuDevicesTest, AllocateGivesVisibleDevicesAndTheDeviceNodesThatExist) {
  const ::aion::testing::TempDir tmp("k8s-dev");
  const fs::path root = tmp.path();
  fs::create_directories(root / "dev");
  std::ofstream(root / "dev" / "nvidiactl") << "";
  std::ofstream(root / "dev" / "nvidia-uvm") << "";
  GpuDevices d("nvidia");
  d.update(dgx(), std::nullopt);
  auto got = d.allocate({d.devices()[2].id, d.devices()[3].id}, HostFs(root));
  ASSERT_TRUE(got) << got.error().message();
  const std::string both = d.devices()[2].id + "," + d.devices()[3].id;
  EXPECT_EQ(got->envs["NVIDIA_VISIBLE_DEVICES"], both);
  EXPECT_EQ(got->envs["CUDA_VISIBLE_DEVICES"], both);
  std::vector<std::string> paths;
  for (const auto& n : got->devices) {
    EXPECT_EQ(n.container_path, n.host_path);
    EXPECT_EQ(n.permissions, "rw");
    paths.push_back(n.host_path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/dev/nvidia2", "/dev/nvidia3", "/dev/nvidiactl",
                                             "/dev/nvidia-uvm"}));
  EXPECT_FALSE(d.allocate({"GPU-nope"}, HostFs(root)));
}

TEST(GpuDevicesTest, ResourceDomainSelectsTheVendor) {
  EXPECT_EQ(vendor_for_resource("nvidia.com/gpu"), "nvidia");
  EXPECT_EQ(vendor_for_resource("amd.com/gpu"), "amd");
  EXPECT_EQ(vendor_for_resource("example.com/accel"), "");
}

}  // namespace
}  // namespace aion::k8s
