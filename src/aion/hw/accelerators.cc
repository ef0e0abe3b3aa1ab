#include "aion/hw/accelerators.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "aion/hw/amd.h"
#include "aion/hw/ascend.h"
#include "aion/hw/cndev.h"
#include "aion/hw/dcmi.h"
#include "aion/hw/efml.h"
#include "aion/hw/habana.h"
#include "aion/hw/hyhal.h"
#include "aion/hw/intel_gpu.h"
#include "aion/hw/ixml.h"
#include "aion/hw/mtml.h"
#include "aion/hw/mxsml.h"
#include "aion/hw/nec_ve.h"
#include "aion/hw/nvidia.h"
#include "aion/hw/pci.h"
#include "aion/hw/vendors.h"
#include "aion/hw/xpuml.h"

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

std::string replace_all(std::string s, std::string_view what, const std::string& with) {
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
    s.replace(pos, what.size(), with);
  return s;
}

// The nodes a vendor row's patterns name for `a`. A row may list alternatives of which a
// host has one set (old and new kernels): the existing ones are kept, and when none exists
// (driver not loaded, a recorded tree without /dev) the first pattern's name stands for them.
std::vector<std::string> nodes_from_patterns(const HostFs& fs, const VendorInfo& row,
                                             const Accelerator& a) {
  std::vector<std::string> named, existing;
  for (const auto& pattern : row.device_nodes) {
    if (pattern == "drm") {
      for (auto& n : drm_device_nodes(fs, a.pci.address)) existing.push_back(std::move(n));
      continue;
    }
    std::string node;
    if (pattern.find("{minor}") != std::string::npos) {
      node = nvidia_device_node(fs, a.pci.address);
      if (node.empty()) continue;
    } else {
      node = replace_all(pattern, "{index}", std::to_string(a.index));
    }
    named.push_back(node);
    if (fs.exists(node)) existing.push_back(node);
  }
  if (existing.empty() && !named.empty()) existing.push_back(named.front());
  return existing;
}

}  // namespace

std::string model_from_pci(const PciLocation& p, const std::string& vendor_fallback) {
  std::string name = pci_device_name(p.vendor_id, p.device_id);
  if (!name.empty()) return name;
  std::string vendor = vendor_fallback.empty() ? pci_vendor_name(p.vendor_id) : vendor_fallback;
  return (vendor.empty() ? "PCI vendor " + hex4(p.vendor_id) : vendor) + " device " +
         hex4(p.device_id);
}

void read_accelerators(const HostFs& fs, const std::string& nvml_library,
                       const std::vector<PciDevice>& pci, Inventory& inv) {
  const Result<VendorTable>& table = shipped_vendor_table();
  if (!table) {
    inv.warnings.push_back({"accelerators", table.error().message() +
                                                "; accelerators cannot be told from other PCI "
                                                "devices (set AION_DATA_DIR to aion's data)"});
    return;
  }
  std::vector<PciLocation> for_nvml;
  for (const auto& d : pci) {
    const PciLocation& p = d.location;
    std::string kind = table->compute_kind(p);
    if (kind.empty()) continue;
    const VendorInfo* row = table->vendor_of(p);
    if (row && row->depth == "nvml") {
      for_nvml.push_back(p);
      continue;
    }
    Accelerator a;
    a.vendor = row ? row->id : "generic";
    a.kind = kind;
    a.model = model_from_pci(p, row ? row->name : "");
    a.pci = p;
    a.source = "sysfs";
    inv.accelerators.push_back(std::move(a));
  }
  read_nvidia(fs, nvml_library, std::move(for_nvml), inv);
  // Indexes count per vendor, in PCI order, as the vendors' runtimes number them.
  std::map<std::string, int> next;
  for (auto& a : inv.accelerators) a.index = next[a.vendor]++;
  read_amd(fs, inv);
  read_ascend_dcmi(inv);
  read_cambricon_cndev(inv);
  read_moore_threads_mtml(inv);
  read_enflame_efml(inv);
  read_kunlunxin_xpuml(inv);
  read_iluvatar_ixml(inv);
  read_metax_mxsml(inv);
  read_hygon_smi(inv);
  check_ascend_driver(fs, inv);
  read_nec_ve(fs, inv);
  read_habana(fs, inv);
  read_intel_gpus(fs, inv);
  for (auto& a : inv.accelerators) {
    const VendorInfo* row = table->find(a.vendor);
    if (row) {
      a.kind = row->kind;
      a.vendor_name = row->name;
    } else if (a.vendor_name.empty()) {
      a.vendor_name = pci_vendor_name(a.pci.vendor_id);
    }
  }
}

Accelerator* find_accelerator(Inventory& inv, std::string_view vendor, std::string_view address) {
  for (auto& a : inv.accelerators) {
    if (a.vendor == vendor && a.pci.address == address) return &a;
  }
  return nullptr;
}

bool has_accelerator(const Inventory& inv, std::string_view vendor) {
  return std::any_of(inv.accelerators.begin(), inv.accelerators.end(),
                     [&](const Accelerator& a) { return a.vendor == vendor; });
}

void fill_from_library(Inventory& inv, std::string_view vendor, std::string_view depth,
                       const std::vector<LibraryDevice>& devices) {
  for (const auto& d : devices) {
    Accelerator* a = find_accelerator(inv, vendor, d.pci_address);
    if (!a) continue;
    if (!d.model.empty()) a->model = d.model;
    if (d.cores > 0) a->cores = d.cores;
    if (d.memory_bytes > 0) a->memory_bytes = d.memory_bytes;
    if (!d.uuid.empty()) a->uuid = d.uuid;
    if (!d.driver_version.empty()) a->driver_version = d.driver_version;
    if (d.index >= 0) a->index = d.index;
    if (!d.device_nodes.empty()) a->device_nodes = d.device_nodes;
    if (!d.state.empty()) a->state = d.state;
    a->depth = depth;
    a->source = depth;
  }
}

void add_device_nodes(const HostFs& fs, Inventory& inv) {
  const Result<VendorTable>& table = shipped_vendor_table();
  for (auto& a : inv.accelerators) {
    if (a.pci.address.empty() || !a.device_nodes.empty()) continue;  // a reader named them
    const VendorInfo* row = table ? table->find(a.vendor) : nullptr;
    std::vector<std::string> nodes =
        row ? nodes_from_patterns(fs, *row, a) : drm_device_nodes(fs, a.pci.address);
    for (auto& n : nodes) a.device_nodes.push_back(std::move(n));
  }
}

}  // namespace aion::hw
