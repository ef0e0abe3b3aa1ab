// AMD GPUs: VRAM size and unique id from their DRM cards, gfx target and XGMI links from the
// KFD topology (/sys/class/kfd/kfd/topology/nodes). Parsing a text is a pure function;
// read_amd() is a thin wrapper over HostFs. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// A KFD properties file: "key value" lines.
std::map<std::string, std::string> parse_kfd_properties(std::string_view text);
// gfx_target_version 90010 -> "gfx90a": major, minor, stepping (hex); "" when <= 0.
std::string gfx_name(std::int64_t gfx_target_version);
// The PCI address of a KFD GPU node from its domain and location_id ("" for a CPU node,
// whose gfx_target_version is 0 or missing).
std::string kfd_pci_address(const std::map<std::string, std::string>& properties);

// Fills memory, uuid, driver version, gfx target and XGMI links of the AMD accelerators
// already in inv.accelerators; warnings for what cannot be read.
void read_amd(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
