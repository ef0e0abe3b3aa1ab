#include "aion/hw/topology.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace aion::hw {

std::string to_string(LinkLevel level) {
  switch (level) {
    case LinkLevel::kSelf: return "X";
    case LinkLevel::kNvlink: return "NV";
    case LinkLevel::kXgmi: return "XGMI";
    case LinkLevel::kPix: return "PIX";
    case LinkLevel::kPxb: return "PXB";
    case LinkLevel::kPhb: return "PHB";
    case LinkLevel::kNode: return "NODE";
    case LinkLevel::kSys: return "SYS";
  }
  return "SYS";
}

std::string device_label(std::string_view kind) {
  if (kind.empty()) return "ACC";
  std::string out;
  for (char c : kind) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

LinkLevel pcie_level(const PciLocation& a, const PciLocation& b, int numa_nodes) {
  if (a.host_bridge != b.host_bridge || a.host_bridge.empty()) {
    // A device without a NUMA node on a single-node machine is on that node.
    int na = a.numa_node < 0 && numa_nodes <= 1 ? 0 : a.numa_node;
    int nb = b.numa_node < 0 && numa_nodes <= 1 ? 0 : b.numa_node;
    return na == nb && na >= 0 ? LinkLevel::kNode : LinkLevel::kSys;
  }
  // Same host bridge: find the deepest bridge both hang below.
  std::size_t common = 0;
  while (common < a.bridges.size() && common < b.bridges.size() &&
         a.bridges[common] == b.bridges[common])
    ++common;
  if (common == 0) return LinkLevel::kPhb;  // different root ports
  // Below the common bridge, one more bridge on each side is the switch's downstream port.
  std::size_t below_a = a.bridges.size() - common;
  std::size_t below_b = b.bridges.size() - common;
  // The common bridge is a root port when it is the first of the chain and a switch sits
  // right below it: then the switch's upstream port is common too and handled above.
  return below_a <= 1 && below_b <= 1 ? LinkLevel::kPix : LinkLevel::kPxb;
}

Topology build_topology(const Inventory& inv) {
  Topology t;
  struct Entry {
    const PciLocation* pci;
    const Accelerator* acc;
  };
  std::vector<Entry> entries;
  std::map<std::string, int> per_kind;
  for (const auto& a : inv.accelerators) {
    t.devices.push_back({device_label(a.kind) + std::to_string(per_kind[a.kind]++), a.pci.address,
                         a.simulated ? a.model + " [simulated]" : a.model, a.pci.numa_node,
                         a.pci.cpu_affinity, a.memory_node});
    entries.push_back({&a.pci, &a});
  }
  bool any_rdma =
      std::any_of(inv.nics.begin(), inv.nics.end(), [](const Nic& n) { return n.rdma; });
  int nic_index = 0;
  for (const auto& n : inv.nics) {
    if (n.pci.address.empty() || (any_rdma && !n.rdma)) continue;
    t.devices.push_back({"NIC" + std::to_string(nic_index++), n.pci.address,
                         n.rdma_device.empty() ? n.name : n.rdma_device + " (" + n.name + ")",
                         n.pci.numa_node, n.pci.cpu_affinity});
    entries.push_back({&n.pci, nullptr});
  }
  // Nodes with CPUs: memory-only nodes (tiers, GPU memory) add no socket to cross.
  int nodes = static_cast<int>(std::count_if(inv.numa_nodes.begin(), inv.numa_nodes.end(),
                                             [](const NumaNode& n) { return !n.cpus.empty(); }));
  std::size_t n = entries.size();
  t.matrix.assign(n, std::vector<std::string>(n));
  t.levels.assign(n, std::vector<LinkLevel>(n, LinkLevel::kSys));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j) {
        t.matrix[i][j] = "X";
        t.levels[i][j] = LinkLevel::kSelf;
        continue;
      }
      const Accelerator* a = entries[i].acc;
      const Accelerator* b = entries[j].acc;
      if (a && b) {
        int nvlinks = 0;
        bool xgmi = false;
        bool switch_a = false, switch_b = false;
        int links_a = 0, links_b = 0;
        for (const auto& l : a->links) {
          if (l.kind == "nvlink" && l.peer == b->pci.address) nvlinks += l.count;
          if (l.kind == "xgmi" && l.peer == b->pci.address) xgmi = true;
          if (l.kind == "nvlink" && l.peer == "nvswitch") {
            switch_a = true;
            links_a += l.count;
          }
        }
        for (const auto& l : b->links) {
          if (l.kind == "nvlink" && l.peer == "nvswitch") {
            switch_b = true;
            links_b += l.count;
          }
        }
        // Through NVSwitch every GPU reaches every other with all of its links.
        if (switch_a && switch_b) nvlinks = std::max(nvlinks, std::min(links_a, links_b));
        if (nvlinks > 0) {
          t.matrix[i][j] = "NV" + std::to_string(nvlinks);
          t.levels[i][j] = LinkLevel::kNvlink;
          continue;
        }
        if (xgmi) {
          t.matrix[i][j] = "XGMI";
          t.levels[i][j] = LinkLevel::kXgmi;
          continue;
        }
      }
      LinkLevel level = pcie_level(*entries[i].pci, *entries[j].pci, nodes);
      t.levels[i][j] = level;
      t.matrix[i][j] = to_string(level);
    }
  }
  return t;
}

}  // namespace aion::hw
