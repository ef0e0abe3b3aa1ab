// Memory: /proc/meminfo and node meminfo fields and totals, hugepage pools (machine-wide and per
// NUMA node) and the NUMA distance matrix. Parsing a text is a pure function; read_memory() is a
// thin wrapper over HostFs. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// One line of a meminfo file: "MemTotal:       263842304 kB", "HugePages_Total:       0", or
// in a NUMA node's file "Node 0 MemTotal:       263842304 kB" (the "Node N" is dropped).
struct MeminfoField {
  std::string key;          // "MemTotal"
  std::uint64_t value = 0;  // as written
  bool kb = false;          // the unit is kB (value is a size), else a plain count
  std::uint64_t bytes() const { return kb ? value * 1024 : value; }
};
// Every line of /proc/meminfo or a node's meminfo whose value is a number, in file order.
std::vector<MeminfoField> parse_meminfo_fields(std::string_view text);

// /proc/meminfo: MemTotal and MemAvailable in bytes (0 when missing); no hugepages.
MemoryInfo parse_meminfo(std::string_view text);
// A node's meminfo ("Node 0 MemTotal:  263842304 kB"): MemTotal in bytes; nullopt without one.
std::optional<std::uint64_t> parse_node_memtotal(std::string_view text);
// A node's distance file ("10 21"): its distances to every node, in node order.
std::vector<int> parse_distances(std::string_view text);

// The hugepages-<size>kB directories below `dir`.
std::vector<HugePages> read_hugepages(const HostFs& fs, const std::string& dir);
// Fills inv.memory, and the distances and hugepages of the nodes in inv.numa_nodes.
void read_memory(const HostFs& fs, Inventory& inv);
// Ties a NUMA node without CPUs to the accelerator whose memory it is: the node the device's
// numa_node names, as the NVIDIA driver exposes GPU memory on NVLink2 (POWER9) and NVLink-C2C
// (Grace Hopper) machines. Such a node gets the device's address, the kind "GPUMemory" (or
// "DeviceMemory" for another kind of device) unless the platform named one, and as near node
// the node with CPUs the device is local to (its local_cpulist). The device keeps that node
// as memory_node and takes the CPU node as its numa_node, so it gets NUMA-local CPUs. When
// MemTotal counts such memory, inv.memory leaves it out: it is not memory for the CPUs' jobs.
// Call after the accelerators are read.
void attach_device_memory(Inventory& inv);

}  // namespace aion::hw
