#include "aion/hw/simulated.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace aion::hw {

void add_simulated(const DiscoveryOptions& o, Inventory& inv) {
  int first = 0;
  for (const auto& a : inv.accelerators) first += a.vendor == "nvidia" ? 1 : 0;
  std::vector<std::string> addresses;
  for (std::size_t i = 0; i < o.simulated.size(); ++i) {
    const auto& s = o.simulated[i];
    char addr[16];
    std::snprintf(addr, sizeof(addr), "fffe:%02x:00.0", static_cast<unsigned>(i));
    addresses.push_back(s.pci_address.empty() ? addr : s.pci_address);
  }
  for (std::size_t i = 0; i < o.simulated.size(); ++i) {
    const auto& s = o.simulated[i];
    Accelerator a;
    a.vendor = s.vendor;
    a.depth = "simulated";
    a.model = s.model;
    a.memory_bytes = s.memory_bytes;
    a.compute_capability = s.vendor == "nvidia" ? s.compute_capability : "";
    a.gfx_target = s.vendor == "amd" ? s.compute_capability : "";
    a.pci.address = addresses[i];
    a.pci.host_bridge = "pci" + addresses[i].substr(0, 7);
    a.pci.numa_node = s.numa_node;
    for (const auto& n : inv.numa_nodes) {
      if (n.id == s.numa_node) a.pci.cpu_affinity = n.cpus;
    }
    a.uuid = "SIM-" + std::to_string(i);
    a.device_nodes = s.device_nodes;
    a.source = "simulated";
    a.simulated = true;
    a.index = first + static_cast<int>(i);
    for (const auto& l : s.links) {
      Link link = l;
      // Config names peers by simulated index; turn them into addresses.
      std::size_t peer = static_cast<std::size_t>(std::atoi(l.peer.c_str()));
      if (l.peer != "nvswitch" && peer < addresses.size()) link.peer = addresses[peer];
      a.links.push_back(link);
    }
    inv.accelerators.push_back(std::move(a));
  }
}

}  // namespace aion::hw
