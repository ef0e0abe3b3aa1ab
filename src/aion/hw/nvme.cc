#include "aion/hw/nvme.h"

#include "aion/hw/pci.h"

namespace aion::hw {

bool is_nvme_namespace(const std::string& c, const std::string& e) {
  return e.rfind(c + "n", 0) == 0 ||
         (e.rfind("nvme", 0) == 0 && e.find('n', 4) != std::string::npos && e != c);
}

void read_nvme(const HostFs& fs, Inventory& inv) {
  auto ctrls = fs.list("/sys/class/nvme");
  if (!ctrls) return;
  for (const auto& c : *ctrls) {
    std::string base = "/sys/class/nvme/" + c;
    NvmeDevice d;
    d.name = c;
    if (auto m = fs.read_attr(base + "/model")) d.model = *m;
    if (auto s = fs.read_attr(base + "/serial")) d.serial = *s;
    if (auto f = fs.read_attr(base + "/firmware_rev")) d.firmware = *f;
    std::string addr = pci_address_of(fs, base + "/device");
    if (!addr.empty()) {
      if (auto loc = read_pci_location(fs, addr)) d.pci = *loc;
    }
    if (auto entries = fs.list(base)) {
      for (const auto& e : *entries) {
        if (!is_nvme_namespace(c, e)) continue;
        if (auto sectors = fs.read_int(base + "/" + e + "/size"))
          d.size_bytes += static_cast<std::uint64_t>(*sectors) * 512;
      }
    }
    inv.nvme.push_back(std::move(d));
  }
}

}  // namespace aion::hw
