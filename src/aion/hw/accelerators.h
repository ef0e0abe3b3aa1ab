// Accelerators: which PCI functions are GPUs, NPUs or other processing accelerators, their
// vendor and model, and the per-vendor readers that fill in the rest (nvidia.h, amd.h,
// ascend.h, nec_ve.h); then each one's index within its vendor and its device nodes. Pure
// classification helpers plus thin readers over HostFs; stateless and thread-safe (NVML
// and libpci as in nvidia.h and pci.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/hw/pci.h"

namespace aion::hw {

// The pci.ids name, else "<vendor> device <id>": the vendor as its row in
// data/hw/accelerators.toml names it (`vendor_fallback`), else as pci.ids does, else its id.
std::string model_from_pci(const PciLocation& p, const std::string& vendor_fallback = "");

// Adds every PCI function that computes (data/hw/accelerators.toml: its class, and its
// vendor's row when there is one) to inv.accelerators: NVIDIA first, through NVML when it
// loads; then each vendor's own reader where it has one (amdgpu sysfs, NEC VE sysfs); the
// others as "generic" devices named from pci.ids. Numbers them per vendor in PCI order.
void read_accelerators(const HostFs& fs, const std::string& nvml_library,
                       const std::vector<PciDevice>& pci, Inventory& inv);

// The accelerator of `vendor` (its key in data/hw/accelerators.toml) at PCI `address`, or
// null: how a vendor's reader finds the devices it fills in.
Accelerator* find_accelerator(Inventory& inv, std::string_view vendor, std::string_view address);
// Whether inv has an accelerator of `vendor` (a reader loads its library only then).
bool has_accelerator(const Inventory& inv, std::string_view vendor);

// What a vendor's management library says of one device (DCMI, CNDev, MTML, EFML), for
// fill_from_library(). Empty or negative fields leave what PCI told.
struct LibraryDevice {
  std::string pci_address;
  std::string model;
  int cores = 0;
  std::uint64_t memory_bytes = 0;
  std::string uuid;
  std::string driver_version;
  int index = -1;                         // the vendor's own device number
  std::vector<std::string> device_nodes;  // the nodes the library names
  std::string state;                      // "ok" | "error"; "" when the library does not say
};

// Fills in the accelerators of `vendor` that `devices` name (matched by PCI address) and
// marks them read at `depth` (also their source).
void fill_from_library(Inventory& inv, std::string_view vendor, std::string_view depth,
                       const std::vector<LibraryDevice>& devices);

// The device nodes of each accelerator, from its vendor row's patterns (/dev/nvidia<minor>,
// DRM card and render nodes, /dev/davinci<index>, /dev/veslot<index>); DRM nodes for a
// device of an unlisted vendor.
void add_device_nodes(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
