#include "aion/hw/discovery.h"

#include "aion/hw/accelerators.h"
#include "aion/hw/cpu.h"
#include "aion/hw/disks.h"
#include "aion/hw/memory.h"
#include "aion/hw/nics.h"
#include "aion/hw/nvme.h"
#include "aion/hw/pci.h"
#include "aion/hw/simulated.h"

namespace aion::hw {
namespace {

void read_host(const HostFs& fs, Inventory& inv) {
  if (auto h = fs.read_attr("/proc/sys/kernel/hostname")) inv.hostname = *h;
  if (auto k = fs.read_attr("/proc/sys/kernel/osrelease")) inv.kernel = *k;
}

}  // namespace

Inventory discover(const HostFs& fs, const DiscoveryOptions& o) {
  Inventory inv;
  read_host(fs, inv);
  if (!o.use_hwloc || !read_cpu_hwloc(fs, inv)) {
    if (o.use_hwloc)
      inv.warnings.push_back(
          {"cpu", "hwloc could not read the topology; read /proc/cpuinfo and sysfs instead"});
    inv.cpu = {};
    inv.numa_nodes.clear();
    read_cpu_sysfs(fs, inv);
  }
  read_memory(fs, inv);
  std::vector<PciDevice> pci = list_pci_devices(fs, inv.warnings);
  for (const auto& d : pci) inv.pci.push_back(d.location);
  read_accelerators(fs, o.nvml_library, pci, inv);
  attach_device_memory(inv);
  add_device_nodes(fs, inv);
  read_nics(fs, inv);
  read_nvme(fs, inv);
  read_disks(fs, inv);
  add_simulated(o, inv);
  return inv;
}

ConfigSchema hw_config_schema() {
  ConfigSchema gpu;
  gpu.string("model", "A100-SXM4-80GB", "GPU model name")
      .string("vendor", "nvidia", "Vendor", {"nvidia", "amd"})
      .integer("memory_gb", 80, "Device memory in GiB", 1, 4096)
      .integer("numa_node", 0, "NUMA node the GPU is attached to", 0, 1024)
      .string("pci_address", "", "PCI address to show (default: made up in domain fffe)")
      .string("compute_capability", "8.0", "CUDA compute capability (NVIDIA) or gfx target (AMD)")
      .strings("nvlink_peers", {},
               "Indexes (among simulated GPUs) this GPU has NVLink/XGMI links to")
      .integer("links_per_peer", 12, "Links to each peer", 1, 64)
      .boolean("nvswitch", false, "Connected to an NVSwitch fabric with links_per_peer links")
      .strings("device_nodes", {},
               "Device nodes that stand for this GPU (jobs not given it cannot open them)");
  ConfigSchema s;
  s.string("hw.nvml_library", "", "Path of libnvidia-ml.so.1 (default: the loader's search path)")
      .integer("hw.rescan_interval_s", 300,
               "How often aiond re-reads the hardware to detect changes (0: only at start)", 0,
               86400)
      .table_array("simulate.gpu", gpu,
                   "Simulated GPUs, for machines without accelerators (marked as simulated)");
  return s;
}

Result<DiscoveryOptions> discovery_options(const Config& c) {
  DiscoveryOptions o;
  o.nvml_library = c.get_string("hw.nvml_library");
  for (const auto& g : c.get_tables("simulate.gpu")) {
    SimulatedGpu s;
    s.model = g.get_string("model");
    s.vendor = g.get_string("vendor");
    s.memory_bytes = static_cast<std::uint64_t>(g.get_int("memory_gb")) << 30;
    s.numa_node = static_cast<int>(g.get_int("numa_node"));
    s.pci_address = g.get_string("pci_address");
    s.compute_capability = g.get_string("compute_capability");
    int per = static_cast<int>(g.get_int("links_per_peer"));
    std::string kind = s.vendor == "amd" ? "xgmi" : "nvlink";
    for (const auto& p : g.get_strings("nvlink_peers")) s.links.push_back({kind, p, per});
    if (g.get_bool("nvswitch")) s.links.push_back({"nvlink", "nvswitch", per});
    s.device_nodes = g.get_strings("device_nodes");
    o.simulated.push_back(std::move(s));
  }
  return o;
}

}  // namespace aion::hw
