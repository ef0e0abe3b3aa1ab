// NVIDIA GPUs: NVML when it loads (memory, UUID, compute capability, MIG, NVLink, lost GPUs),
// merged with the PCI functions sysfs lists; without NVML, what sysfs tells, with a warning.
// Also the driver's /proc files: its version and each GPU's device minor. Parsing a text is
// a pure function; the readers are thin wrappers over HostFs and NVML. Stateless and
// thread-safe: read_nvidia() loads an Nvml of its own for the call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// /proc/driver/nvidia/version: the kernel module's version ("550.54.14"), "" when absent.
std::string parse_nvidia_driver_version(std::string_view text);
// /proc/driver/nvidia/gpus/<addr>/information: "Device Minor: 3" -> 3.
std::optional<int> parse_nvidia_device_minor(std::string_view text);

// Adds the NVIDIA GPUs, sorted by PCI address, in front of inv.accelerators. `on_pci` are
// the NVIDIA accelerator functions sysfs lists; NVML is tried even without them when a
// library is named (`nvml_library` or AION_NVML_LIBRARY).
void read_nvidia(const HostFs& fs, const std::string& nvml_library, std::vector<PciLocation> on_pci,
                 Inventory& inv);

// /dev/nvidia<minor> of the GPU at `pci_address`; "" when the driver does not say.
std::string nvidia_device_node(const HostFs& fs, const std::string& pci_address);

}  // namespace aion::hw
