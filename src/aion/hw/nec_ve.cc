#include "aion/hw/nec_ve.h"

#include <algorithm>

#include "aion/core/strings.h"
#include "aion/hw/accelerators.h"
#include "aion/hw/pci.h"
#include "aion/hw/vendors.h"

namespace aion::hw {

void read_nec_ve(const HostFs& fs, Inventory& inv) {
  auto entries = fs.list("/sys/class/ve");
  if (!entries) return;
  for (const auto& name : *entries) {
    if (!name.starts_with("ve")) continue;
    auto number = parse_int<int>(std::string_view(name).substr(2));
    if (!number) continue;
    const std::string dir = "/sys/class/ve/" + name;
    const std::string addr = pci_address_of(fs, dir + "/device");
    if (addr.empty()) {
      inv.warnings.push_back({dir, "VE without a PCI function (device link unreadable)"});
      continue;
    }
    auto it = std::find_if(inv.accelerators.begin(), inv.accelerators.end(),
                           [&](const Accelerator& a) { return a.pci.address == addr; });
    if (it == inv.accelerators.end()) {
      auto loc = read_pci_location(fs, addr);
      if (!loc) {
        inv.warnings.push_back({dir, loc.error().message()});
        continue;
      }
      Accelerator a;
      const auto& table = shipped_vendor_table();
      const VendorInfo* row = table ? table->vendor_of(*loc) : nullptr;
      a.vendor = row ? row->id : "generic";
      a.kind = row ? row->kind : "vector";
      a.model = model_from_pci(*loc);
      a.pci = *loc;
      a.source = "sysfs";
      inv.accelerators.push_back(std::move(a));
      it = std::prev(inv.accelerators.end());
    }
    it->index = *number;
    if (auto cores = fs.read_int(dir + "/num_of_core")) it->cores = static_cast<int>(*cores);
    if (auto gib = fs.read_int(dir + "/memory_size"); gib && *gib > 0)
      it->memory_bytes = static_cast<std::uint64_t>(*gib) << 30;
    it->depth = "ve-sysfs";
  }
}

}  // namespace aion::hw
