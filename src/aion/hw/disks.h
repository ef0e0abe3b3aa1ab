// Block devices (/sys/block): size, rotational, model, transport and PCI location, without
// loop, RAM, zram, device-mapper, md and optical devices. Pure classification helpers and a
// thin reader over HostFs; stateless and thread-safe.
#pragma once

#include <string>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

// True for the block devices that are not disks of their own (loop, ram, zram, dm-, md, sr).
bool is_virtual_block_device(const std::string& name);
// "virtio", "nvme", "usb", "scsi" or "" from the device's name and its resolved sysfs path.
std::string disk_transport(const std::string& name, const std::string& device_path);

void read_disks(const HostFs& fs, Inventory& inv);

}  // namespace aion::hw
