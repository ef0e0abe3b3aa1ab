// Where datasets are staged by default: an NVMe file system on a NUMA node with GPUs.
#include "aion/pipeline/fast_storage.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::pipeline {
namespace {

hw::Inventory machine() {
  hw::Inventory inv;
  hw::Accelerator gpu;
  gpu.pci.numa_node = 1;
  inv.accelerators.push_back(gpu);
  hw::Disk far, near, sata;
  far.name = "nvme0n1";
  far.transport = "nvme";
  far.pci.numa_node = 0;
  near.name = "nvme1n1";
  near.transport = "nvme";
  near.pci.numa_node = 1;
  sata.name = "sda";
  sata.transport = "sata";
  sata.pci.numa_node = 1;
  inv.disks = {far, near, sata};
  return inv;
}

HostFs host_with_mounts(const ::aion::testing::TempDir& dir, const std::string& mounts) {
  std::filesystem::create_directories(dir / "proc");
  std::ofstream(dir / "proc" / "mounts") << mounts;
  return HostFs(dir.path());
}

TEST(FastStorageTest, PicksTheNvmeOnTheGpusNumaNode) {
  ::aion::testing::TempDir dir("fast");
  auto host = host_with_mounts(dir,
                               "/dev/nvme0n1p1 /scratch0 ext4 rw,relatime 0 0\n"
                               "/dev/sda1 / ext4 rw 0 0\n"
                               "/dev/nvme1n1p2 /scratch1 xfs rw,noatime 0 0\n");
  auto got = nvme_near_gpus(machine(), host);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->mount, "/scratch1");
  EXPECT_EQ(got->disk, "nvme1n1");
  EXPECT_EQ(got->numa_node, 1);
}

TEST(FastStorageTest, ReadOnlyOrUnmountedDrivesAndMachinesWithoutGpusGiveNone) {
  ::aion::testing::TempDir dir("fast");
  auto ro = host_with_mounts(dir,
                             "/dev/nvme1n1 /data ext4 ro,relatime 0 0\n"
                             "/dev/nvme0n1p1 /scratch0 ext4 rw 0 0\n");
  EXPECT_FALSE(nvme_near_gpus(machine(), ro)) << "read-only, or on the node without GPUs";
  // "nvme1n10" is another drive, not a partition of nvme1n1.
  auto other = host_with_mounts(dir, "/dev/nvme1n10 /x ext4 rw 0 0\n");
  EXPECT_FALSE(nvme_near_gpus(machine(), other));
  hw::Inventory no_gpus = machine();
  no_gpus.accelerators.clear();
  auto rw = host_with_mounts(dir, "/dev/nvme1n1 /data ext4 rw 0 0\n");
  EXPECT_FALSE(nvme_near_gpus(no_gpus, rw));
  EXPECT_TRUE(nvme_near_gpus(machine(), rw));
}

}  // namespace
}  // namespace aion::pipeline
