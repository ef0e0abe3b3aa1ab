// CPU topology: vendor, model, sockets, cores, threads, caches, the kinds of cores of a hybrid
// CPU, and NUMA nodes (memory-only ones too, with their kind). From hwloc pointed at the
// HostFs root, or without it from /proc/cpuinfo and /sys/devices/system/node. ARM CPUs, which
// /proc/cpuinfo names only by MIDR numbers, are named from data/hw/arm_cpus.toml.
// Parsing a text is a pure function; the readers are thin wrappers over HostFs.
// Thread-safe: read_cpu_hwloc() serialises on a process-wide mutex (hwloc's root is an
// environment variable); everything else is stateless. For a recorded root (not "/") it sets
// HWLOC_FSROOT while hwloc loads, which races threads that read the environment meanwhile
// (getenv, a child spawned with the inherited environment).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Names kinds sorted most efficient first: "efficiency", "kind1"..., "performance".
void name_cpu_kinds(std::vector<CpuKind>& kinds);

// /proc/cpuinfo: the first model name and vendor_id (on ARM, the name of the first CPU
// implementer and part from the shipped table), logical CPUs ("processor" lines),
// packages ("physical id", at least 1) and cores ("core id" per package; threads when absent).
CpuInfo parse_cpuinfo(std::string_view text);
// The architecture a /proc/cpuinfo was written on: "aarch64" (MIDR fields), "x86_64" (an x86
// vendor_id), "ppc64" (a POWER cpu line); "" when it does not tell.
std::string architecture_of_cpuinfo(std::string_view text);

// Fills inv.cpu and inv.numa_nodes through hwloc; false when hwloc cannot read the tree.
bool read_cpu_hwloc(const HostFs& fs, Inventory& inv);
// The same from /proc/cpuinfo and the node directories (no caches).
void read_cpu_sysfs(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
