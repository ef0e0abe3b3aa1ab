// The device topology matrix that GPU users know from `nvidia-smi topo -m`: accelerators and
// NICs on both axes, and for every pair how they connect, best first:
//   NV<n>  n NVLink links (directly or through NVSwitch)      XGMI  AMD Infinity Fabric
//   PIX    at most one PCIe switch between them               PXB   several PCIe switches
//   PHB    through a PCIe host bridge (same root complex)     NODE  different host bridges,
//   SYS    across the SMP interconnect between NUMA nodes           same NUMA node
// plus each device's CPU affinity and NUMA node. Pure function of an Inventory; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/hw/inventory.h"

namespace aion::hw {

enum class LinkLevel { kSelf, kNvlink, kXgmi, kPix, kPxb, kPhb, kNode, kSys };

struct TopologyDevice {
  std::string name;  // "GPU0", "NIC1"
  std::string pci_address;
  std::string detail;  // model or interface name
  int numa_node = -1;
  std::string cpu_affinity;
  int memory_node = -1;  // an accelerator's own memory as a NUMA node; -1: none
};

struct Topology {
  std::vector<TopologyDevice> devices;
  std::vector<std::vector<std::string>> matrix;  // matrix[i][j]: "X", "NV12", "PIX", ...
  std::vector<std::vector<LinkLevel>> levels;
};

// Builds the matrix for the inventory's accelerators, named by kind and numbered per kind
// (GPU0.., NPU0.., VECTOR0..), and RDMA-capable NICs (NIC0..; every NIC with a PCI address
// when none is RDMA-capable).
Topology build_topology(const Inventory& inv);

// How two PCI locations connect over PCIe alone (PIX..SYS).
LinkLevel pcie_level(const PciLocation& a, const PciLocation& b, int numa_nodes);

std::string to_string(LinkLevel level);

// The matrix's name for a kind of accelerator: "gpu" -> "GPU".
std::string device_label(std::string_view kind);

}  // namespace aion::hw
