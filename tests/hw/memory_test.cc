// The meminfo parsers (/proc/meminfo and a NUMA node's meminfo share one line reader), and
// GPU memory as NUMA nodes tied to its device.
#include "aion/hw/memory.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "aion/hw/discovery.h"
#include "support/fixtures.h"

namespace aion::hw {
namespace {

TEST(MeminfoTest, ReadsTotalsFromProcMeminfo) {
  const auto m = parse_meminfo(
      "MemTotal:       263842304 kB\nMemFree:         1024 kB\n"
      "MemAvailable:   131072000 kB\nHugePages_Total:       4\nHugepagesize:       2048 kB\n");
  EXPECT_EQ(m.total_bytes, 263842304ull * 1024);
  EXPECT_EQ(m.available_bytes, 131072000ull * 1024);
  EXPECT_EQ(parse_meminfo("").total_bytes, 0u);
}

TEST(MeminfoTest, FieldsKeepCountsAndSizesApart) {
  const auto fields =
      parse_meminfo_fields("HugePages_Total:       4\nHugepagesize:       2048 kB\nbroken line\n");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].key, "HugePages_Total");
  EXPECT_EQ(fields[0].bytes(), 4u);
  EXPECT_EQ(fields[1].key, "Hugepagesize");
  EXPECT_EQ(fields[1].bytes(), 2048u * 1024);
}

TEST(MeminfoTest, NodeMemTotalDropsTheNodePrefixAndIsAbsentWithoutOne) {
  EXPECT_EQ(parse_node_memtotal("Node 1 MemTotal:       65536 kB\nNode 1 MemFree: 1 kB\n"),
            65536ull * 1024);
  EXPECT_EQ(parse_node_memtotal("Node 1 MemTotal:       0 kB\n"), 0u);
  EXPECT_FALSE(parse_node_memtotal("Node 1 MemFree: 1 kB\n"));
}

// A CPU-less node that a GPU's numa_node names is that GPU's memory: it goes with the GPU, and
// the GPU goes with the CPUs it is local to.
TEST(DeviceMemoryTest, ANodeAGpuNamesIsItsMemoryAndTheGpuMovesToItsCpus) {
  Inventory inv;
  inv.numa_nodes = {{.id = 0, .cpus = "0-3"},
                    {.id = 8, .cpus = "4-7"},
                    {.id = 253, .cpus = "", .near_node = 0},
                    {.id = 254, .cpus = "", .kind = "HBM", .near_node = 8}};
  Accelerator gpu;
  gpu.pci = {.address = "0004:05:00.0", .numa_node = 253, .cpu_affinity = "4-7"};
  Accelerator npu;
  npu.kind = "npu";
  npu.pci = {.address = "0005:01:00.0", .numa_node = 254, .cpu_affinity = "4-7"};
  Accelerator plain;
  plain.pci = {.address = "0000:01:00.0", .numa_node = 0, .cpu_affinity = "0-3"};
  inv.accelerators = {gpu, npu, plain};
  attach_device_memory(inv);
  // The node takes the device, a kind, and the CPU node the device is local to (8, not the
  // distance guess 0).
  EXPECT_EQ(inv.numa_nodes[2].device, "0004:05:00.0");
  EXPECT_EQ(inv.numa_nodes[2].kind, "GPUMemory");
  EXPECT_EQ(inv.numa_nodes[2].near_node, 8);
  EXPECT_EQ(inv.accelerators[0].memory_node, 253);
  EXPECT_EQ(inv.accelerators[0].pci.numa_node, 8);
  // A kind the platform named stays.
  EXPECT_EQ(inv.numa_nodes[3].kind, "HBM");
  EXPECT_EQ(inv.accelerators[1].memory_node, 254);
  // A device on a node with CPUs is left as it was.
  EXPECT_EQ(inv.accelerators[2].memory_node, -1);
  EXPECT_EQ(inv.accelerators[2].pci.numa_node, 0);
  EXPECT_EQ(inv.numa_nodes[0].device, "");
}

TEST(DeviceMemoryTest, WithoutALocalityTheNodeKeepsItsNeighbour) {
  Inventory inv;
  inv.numa_nodes = {{.id = 0, .cpus = "0-3"}, {.id = 1, .cpus = "", .near_node = 0}};
  Accelerator gpu;
  gpu.pci = {.address = "0000:01:00.0", .numa_node = 1};
  inv.accelerators = {gpu};
  attach_device_memory(inv);
  EXPECT_EQ(inv.numa_nodes[1].near_node, 0);
  EXPECT_EQ(inv.accelerators[0].pci.numa_node, 0);
  EXPECT_EQ(inv.accelerators[0].memory_node, 1);
}

TEST(DeviceMemoryTest, GraceHopperFixtureShowsGpuMemoryBesideTheGraceCores) {
  ::setenv("AION_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  Inventory inv = discover(HostFs(::aion::testing::hw_fixture_root("gh200")), {});
  ASSERT_EQ(inv.numa_nodes.size(), 2u);
  EXPECT_EQ(inv.numa_nodes[0].cpus, "0-7");
  const NumaNode& mem = inv.numa_nodes[1];
  EXPECT_EQ(mem.cpus, "");
  EXPECT_EQ(mem.memory_bytes, 96ull << 30);
  EXPECT_EQ(mem.kind, "GPUMemory");
  EXPECT_EQ(mem.device, "0009:01:00.0");
  EXPECT_EQ(mem.near_node, 0);
  ASSERT_EQ(inv.accelerators.size(), 1u);
  EXPECT_EQ(inv.accelerators[0].pci.numa_node, 0);
  EXPECT_EQ(inv.accelerators[0].memory_node, 1);
  EXPECT_NE(inv.cpu.model.find("Neoverse V2"), std::string::npos) << inv.cpu.model;
  EXPECT_EQ(inv.cpu.architecture, "aarch64");
  // MemTotal counts the GPU's 96 GiB; the machine's memory is the Grace DRAM.
  EXPECT_EQ(inv.memory.total_bytes, 64ull << 30);
}

}  // namespace
}  // namespace aion::hw
