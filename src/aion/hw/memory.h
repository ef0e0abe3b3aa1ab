// Memory: /proc/meminfo totals, hugepage pools (machine-wide and per NUMA node) and the NUMA
// distance matrix. Parsing a text is a pure function; read_memory() is a thin wrapper over
// HostFs. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// /proc/meminfo: MemTotal and MemAvailable in bytes (0 when missing); no hugepages.
MemoryInfo parse_meminfo(std::string_view text);
// A node's distance file ("10 21"): its distances to every node, in node order.
std::vector<int> parse_distances(std::string_view text);

// The hugepages-<size>kB directories below `dir`.
std::vector<HugePages> read_hugepages(const HostFs& fs, const std::string& dir);
// Fills inv.memory, and the distances and hugepages of the nodes in inv.numa_nodes.
void read_memory(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
