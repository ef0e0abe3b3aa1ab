#include "aion/hw/disks.h"

#include "aion/hw/pci.h"

namespace aion::hw {

bool is_virtual_block_device(const std::string& name) {
  return name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0 || name.rfind("zram", 0) == 0 ||
         name.rfind("dm-", 0) == 0 || name.rfind("md", 0) == 0 || name.rfind("sr", 0) == 0;
}

std::string disk_transport(const std::string& name, const std::string& real) {
  if (real.find("/virtio") != std::string::npos) return "virtio";
  if (name.rfind("nvme", 0) == 0) return "nvme";
  if (real.find("/usb") != std::string::npos) return "usb";
  if (real.find("/host") != std::string::npos || real.find("/target") != std::string::npos)
    return "scsi";
  return "";
}

void read_disks(const HostFs& fs, Inventory& inv) {
  auto names = fs.list("/sys/block");
  if (!names) return;
  for (const auto& name : *names) {
    if (is_virtual_block_device(name)) continue;
    std::string base = "/sys/block/" + name;
    Disk d;
    d.name = name;
    if (auto sectors = fs.read_int(base + "/size"))
      d.size_bytes = static_cast<std::uint64_t>(*sectors) * 512;
    if (auto rot = fs.read_int(base + "/queue/rotational")) d.rotational = *rot != 0;
    if (auto m = fs.read_attr(base + "/device/model")) d.model = *m;
    if (auto real = fs.real_path(base + "/device")) d.transport = disk_transport(name, *real);
    std::string addr = pci_address_of(fs, base + "/device");
    if (!addr.empty()) {
      if (auto loc = read_pci_location(fs, addr)) d.pci = *loc;
    }
    inv.disks.push_back(std::move(d));
  }
}

}  // namespace aion::hw
