#include "aion/hw/nics.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

#include "aion/hw/pci.h"
#include "aion/hw/vendors.h"

namespace aion::hw {
namespace {

// The network interface `name`, with its RDMA device when it has one (taken out of
// `rdma_by_pci`).
Nic read_nic(const HostFs& fs, const std::string& name,
             std::map<std::string, std::string>& rdma_by_pci, Inventory& inv) {
  std::string base = "/sys/class/net/" + name;
  Nic n;
  n.name = name;
  std::string addr = pci_address_of(fs, base + "/device");
  if (!addr.empty()) {
    auto loc = read_pci_location(fs, addr);
    if (loc) {
      n.pci = *loc;
    } else {
      inv.warnings.push_back({name, loc.error().message()});
    }
  }
  if (auto s = fs.read_int(base + "/speed")) n.speed_mbps = *s;
  if (auto st = fs.read_attr(base + "/operstate")) n.state = *st;
  if (auto mac = fs.read_attr(base + "/address")) n.mac = *mac;
  auto r = rdma_by_pci.find(addr);
  if (r != rdma_by_pci.end()) {
    n.rdma = true;
    n.rdma_device = r->second;
    rdma_by_pci.erase(r);
  }
  return n;
}

// An RDMA device without a network interface (an InfiniBand-only port).
Nic read_rdma_only(const HostFs& fs, const std::string& addr, const std::string& dev) {
  Nic n;
  n.name = dev;
  n.rdma = true;
  n.rdma_device = dev;
  if (auto loc = read_pci_location(fs, addr)) n.pci = *loc;
  if (auto rate = fs.read_attr("/sys/class/infiniband/" + dev + "/ports/1/rate"))
    n.speed_mbps = parse_ib_rate_mbps(*rate);
  if (auto st = fs.read_attr("/sys/class/infiniband/" + dev + "/ports/1/state")) n.state = *st;
  return n;
}

}  // namespace

std::int64_t parse_ib_rate_mbps(std::string_view text) {
  return static_cast<std::int64_t>(std::strtoull(std::string(text).c_str(), nullptr, 10)) * 1000;
}

void read_nics(const HostFs& fs, Inventory& inv) {
  std::map<std::string, std::string> rdma_by_pci;
  if (auto ib = fs.list("/sys/class/infiniband")) {
    for (const auto& dev : *ib) {
      std::string addr = pci_address_of(fs, "/sys/class/infiniband/" + dev + "/device");
      if (!addr.empty()) rdma_by_pci[addr] = dev;
    }
  }
  if (auto names = fs.list("/sys/class/net")) {
    for (const auto& name : *names) {
      if (!fs.exists("/sys/class/net/" + name + "/device")) continue;  // lo, bridges, veth
      inv.nics.push_back(read_nic(fs, name, rdma_by_pci, inv));
    }
  }
  for (const auto& [addr, dev] : rdma_by_pci) inv.nics.push_back(read_rdma_only(fs, addr, dev));
  // Adapters known only by their PCI class: no driver bound, or a driver that made neither a
  // network interface nor an RDMA device.
  if (const auto& table = shipped_vendor_table()) {
    for (const auto& p : inv.pci) {
      if (table->network_class(p).empty()) continue;
      bool seen = std::any_of(inv.nics.begin(), inv.nics.end(),
                              [&](const Nic& n) { return n.pci.address == p.address; });
      if (seen) continue;
      Nic n;
      n.name = p.address;
      n.pci = p;
      n.state = p.driver.empty() ? "no driver" : "no interface";
      inv.nics.push_back(std::move(n));
    }
  }
  std::sort(inv.nics.begin(), inv.nics.end(), [](const Nic& a, const Nic& b) {
    return a.pci.address == b.pci.address ? a.name < b.name : a.pci.address < b.pci.address;
  });
}

}  // namespace aion::hw
