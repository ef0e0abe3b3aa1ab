// Accelerators: which PCI functions are GPUs, NPUs or other processing accelerators, their
// vendor and model, and the per-vendor readers that fill in the rest (nvidia.h, amd.h,
// ascend.h); then each one's index within its vendor and its device nodes. Pure
// classification helpers plus thin readers over HostFs; stateless and thread-safe (NVML
// and libpci as in nvidia.h and pci.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/hw/pci.h"

namespace aion::hw {

// A processing accelerator (class 0x12), or a display controller of NVIDIA, AMD or Intel.
bool is_accelerator(const PciLocation& p);
// "nvidia", "amd", "intel", "huawei" or "other".
std::string vendor_name(std::uint32_t vendor_id);
// The pci.ids name, else "<vendor> device <id>".
std::string model_from_pci(const PciLocation& p);

// Adds every accelerator among `pci` to inv.accelerators (NVIDIA first, through NVML when
// it loads) and numbers them per vendor in PCI order.
void read_accelerators(const HostFs& fs, const std::string& nvml_library,
                       const std::vector<PciDevice>& pci, Inventory& inv);

// The device nodes of each accelerator: NVIDIA's /dev/nvidia<minor>, DRM card and render
// nodes for AMD and Intel, /dev/davinci<index> for Ascend.
void add_device_nodes(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
