// NVMe controllers (/sys/class/nvme): model, serial, firmware, PCI location and the summed
// size of their namespaces. A thin reader over HostFs; stateless and thread-safe.
#pragma once

#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// Whether `entry` of controller `ctrl`'s directory is one of its namespaces ("nvme0n1", or
// "nvme1c0n1" style paths of a multipath controller).
bool is_nvme_namespace(const std::string& ctrl, const std::string& entry);

void read_nvme(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
