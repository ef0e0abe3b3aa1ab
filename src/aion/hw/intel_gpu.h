// Intel GPUs driven by the xe kernel driver, from the attributes it documents on the PCI
// function: one directory per tile (tile<N>), the tile's local memory in
// tile<N>/physical_vram_size_bytes (discrete GPUs only). GPUs on the older i915 driver keep
// what PCI told: i915 exposes frequencies but no memory size in sysfs. Thin reader over
// HostFs; stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// What the xe driver says of one GPU.
struct XeGpu {
  int tiles = 0;                   // tile<N> directories
  std::uint64_t memory_bytes = 0;  // the tiles' local memory together; 0 for an integrated GPU
};

// The xe attributes of the PCI function at `pci_address`; nullopt when it has no tile
// directory (not an xe device, or a tree recorded without them).
std::optional<XeGpu> read_xe_gpu(const HostFs& fs, const std::string& pci_address);

// Fills in the Intel GPUs of inv that the xe driver runs (memory; depth "xe-sysfs").
void read_intel_gpus(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
