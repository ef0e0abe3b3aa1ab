// Reading the PCI tree from sysfs (/sys/bus/pci/devices) through HostFs. One function per
// question; every read that fails becomes a Warning in the caller's list, never an abort.
// Thread-safe: the readers are stateless; pci_device_name() serialises on a process-wide
// mutex around libpci's name database.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// PCI vendor ids of the two vendors whose driver files `aion doctor` reads (the PCI-SIG
// assigned numbers); which vendor makes which accelerator is data/hw/accelerators.toml.
inline constexpr std::uint32_t kPciVendorNvidia = 0x10de;
inline constexpr std::uint32_t kPciVendorAmd = 0x1002;

struct PciDevice {
  PciLocation location;
  std::string sysfs_path;  // host path of the device directory under /sys/devices
};

// Every PCI function on the machine, sorted by address.
std::vector<PciDevice> list_pci_devices(const HostFs& fs, std::vector<Warning>& warnings);

// The location of one device (address "0000:07:00.0").
Result<PciLocation> read_pci_location(const HostFs& fs, const std::string& address);

// The PCI address of the function a sysfs device link resolves to, or of the nearest PCI
// function above it (a virtio device's transport); "" when there is none.
std::string pci_address_of(const HostFs& fs, const std::string& device_link);

// "vendor device" name from pci.ids through libpci when available, else "".
std::string pci_device_name(std::uint32_t vendor, std::uint32_t device);
// The vendor's name from pci.ids ("NEC Corporation"), else "".
std::string pci_vendor_name(std::uint32_t vendor);

}  // namespace aion::hw
