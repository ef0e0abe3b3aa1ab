#include "aion/hw/accelerators.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "aion/hw/amd.h"
#include "aion/hw/ascend.h"
#include "aion/hw/nvidia.h"
#include "aion/hw/pci.h"

namespace aion::hw {
namespace {

std::string hex4(std::uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04x", v);
  return buf;
}

// DRM card and render nodes of the device at `pci_address`, sorted.
std::vector<std::string> drm_device_nodes(const HostFs& fs, const std::string& pci_address) {
  std::vector<std::string> out;
  auto drm = fs.list("/sys/bus/pci/devices/" + pci_address + "/drm");
  if (!drm) return out;
  std::vector<std::string> names = *drm;
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (n.rfind("renderD", 0) == 0 || (n.rfind("card", 0) == 0 && n.find('-') == n.npos)) {
      out.push_back("/dev/dri/" + n);
    }
  }
  return out;
}

}  // namespace

bool is_accelerator(const PciLocation& p) {
  std::uint32_t base = p.class_code >> 16;
  if (base == 0x12) return true;  // processing accelerator
  if (base != 0x03) return false;
  return p.vendor_id == kPciVendorNvidia || p.vendor_id == kPciVendorAmd ||
         p.vendor_id == kPciVendorIntel;
}

std::string vendor_name(std::uint32_t v) {
  switch (v) {
    case kPciVendorNvidia: return "nvidia";
    case kPciVendorAmd: return "amd";
    case kPciVendorIntel: return "intel";
    case kPciVendorHuawei: return "huawei";
    default: return "other";
  }
}

std::string model_from_pci(const PciLocation& p) {
  std::string name = pci_device_name(p.vendor_id, p.device_id);
  if (!name.empty()) return name;
  return vendor_name(p.vendor_id) + " device " + hex4(p.device_id);
}

void read_accelerators(const HostFs& fs, const std::string& nvml_library,
                       const std::vector<PciDevice>& pci, Inventory& inv) {
  std::vector<PciLocation> nvidia_on_pci;
  for (const auto& d : pci) {
    const PciLocation& p = d.location;
    if (!is_accelerator(p)) continue;
    if (p.vendor_id == kPciVendorNvidia) {
      nvidia_on_pci.push_back(p);
      continue;
    }
    Accelerator a;
    a.vendor = vendor_name(p.vendor_id);
    a.model = model_from_pci(p);
    a.pci = p;
    a.source = "sysfs";
    inv.accelerators.push_back(std::move(a));
  }
  read_nvidia(fs, nvml_library, std::move(nvidia_on_pci), inv);
  read_amd(fs, inv);
  check_ascend_driver(fs, inv);
  // Indexes count per vendor, in PCI order, as the vendors' runtimes number them.
  std::map<std::string, int> next;
  for (auto& a : inv.accelerators) a.index = next[a.vendor]++;
}

void add_device_nodes(const HostFs& fs, Inventory& inv) {
  for (auto& a : inv.accelerators) {
    if (a.pci.address.empty()) continue;
    if (a.vendor == "nvidia") {
      std::string node = nvidia_device_node(fs, a.pci.address);
      if (!node.empty()) a.device_nodes.push_back(node);
    } else if (a.vendor == "huawei") {
      a.device_nodes.push_back(ascend_device_node(a.index));
    } else {
      for (auto& n : drm_device_nodes(fs, a.pci.address)) a.device_nodes.push_back(std::move(n));
    }
  }
}

}  // namespace aion::hw
