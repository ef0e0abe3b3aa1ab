// discover(): reads the whole machine below a HostFs root into an Inventory, one reader per
// data source (cpu.h, memory.h, pci.h, accelerators.h with nvidia.h, amd.h and ascend.h,
// nics.h, nvme.h, disks.h, simulated.h).
//
// CPUs, caches and NUMA nodes come from hwloc pointed at the root; PCI devices, NICs, NVMe,
// AMD/Intel/Ascend accelerators from sysfs; NVIDIA GPUs from NVML when it loads, else from
// sysfs with a warning saying what is missing. Simulated GPUs from the config are added and
// marked. Nothing here fails as a whole: every unreadable or malformed file, NVML failure
// or lost GPU becomes a Warning naming the device and the cause. Thread-safe in itself:
// hwloc runs under a process-wide mutex, libpci's names under another, and each call loads
// NVML of its own; but for a recorded root hwloc's HWLOC_FSROOT is set in the process
// environment (see cpu.h), so the daemon discovers from one thread at a time (HwWatch).
#pragma once

#include <string>
#include <vector>

#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

struct SimulatedGpu {
  std::string model = "A100-SXM4-80GB";
  std::string vendor = "nvidia";
  std::uint64_t memory_bytes = 80ull << 30;
  int numa_node = 0;
  std::string pci_address;  // "" -> made up, in a reserved domain
  std::string compute_capability = "8.0";
  std::vector<Link> links;                // "nvlink:0000:..:4" style entries from config
  std::vector<std::string> device_nodes;  // device nodes standing in for the GPU's
};

struct DiscoveryOptions {
  std::string nvml_library;  // "" -> AION_NVML_LIBRARY or libnvidia-ml.so.1
  std::vector<SimulatedGpu> simulated;
  bool use_hwloc = true;
};

Inventory discover(const HostFs& fs, const DiscoveryOptions& options);

// The [hw] and [[simulate.gpu]] config keys.
ConfigSchema hw_config_schema();
// Reads them from a validated config; errors name the entry (kConfig).
Result<DiscoveryOptions> discovery_options(const Config& config);

}  // namespace aion::hw
