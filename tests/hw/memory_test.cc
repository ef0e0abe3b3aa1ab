// The meminfo parsers: /proc/meminfo and a NUMA node's meminfo share one line reader.
#include "aion/hw/memory.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace aion::hw
