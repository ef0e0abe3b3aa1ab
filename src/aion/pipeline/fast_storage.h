// Where a dataset is staged when no directory is configured: on a file system of an NVMe
// drive attached to a NUMA node that has GPUs, so that a job placed on those GPUs reads its
// data from the closest fast disk rather than across the socket interconnect or the network.
//
// Drives come from the hardware inventory (their PCI NUMA node); their file systems from the
// host's /proc/mounts, by device name (/dev/nvme0n1, /dev/nvme0n1p2, ...; a drive behind LVM
// or md is not recognised and is simply not chosen). Read-only and pseudo file systems are
// skipped; among the candidates the one with the most free space wins (free space is only
// known on the live host; on a recorded tree the first candidate wins). Pure functions over
// the inventory and the host's files; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::pipeline {

struct FastStorage {
  std::filesystem::path mount;  // host path of the mount point
  std::string device;           // "/dev/nvme0n1p1"
  std::string disk;             // "nvme0n1"
  int numa_node = -1;
  std::uint64_t free_bytes = 0;  // 0 when unknown
};

std::optional<FastStorage> nvme_near_gpus(const hw::Inventory& inventory, const HostFs& host);

}  // namespace aion::pipeline
