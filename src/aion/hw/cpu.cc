#include "aion/hw/cpu.h"

#include <hwloc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "aion/hw/memory.h"

namespace aion::hw {
namespace {

// hwloc's Linux backend reads below HWLOC_FSROOT; the variable is process-wide.
std::mutex g_hwloc_mu;

void read_hwloc_caches(hwloc_topology_t topo, CpuInfo& cpu) {
  const std::pair<hwloc_obj_type_t, int> caches[] = {{HWLOC_OBJ_L1CACHE, 1},
                                                     {HWLOC_OBJ_L1ICACHE, 1},
                                                     {HWLOC_OBJ_L2CACHE, 2},
                                                     {HWLOC_OBJ_L3CACHE, 3}};
  for (auto [type, level] : caches) {
    int n = hwloc_get_nbobjs_by_type(topo, type);
    if (n <= 0) continue;
    hwloc_obj_t c = hwloc_get_obj_by_type(topo, type, 0);
    CacheInfo ci;
    ci.level = level;
    ci.type = c->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "Instruction"
              : c->attr->cache.type == HWLOC_OBJ_CACHE_DATA      ? "Data"
                                                                 : "Unified";
    ci.size_bytes = c->attr->cache.size;
    ci.instances = n;
    cpu.caches.push_back(ci);
  }
}

void read_hwloc_numa(hwloc_topology_t topo, Inventory& inv) {
  int nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nodes; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    NumaNode nn;
    nn.id = static_cast<int>(node->os_index);
    char buf[1024];
    hwloc_bitmap_list_snprintf(buf, sizeof(buf), node->cpuset);
    nn.cpus = buf;
    nn.memory_bytes = node->attr->numanode.local_memory;
    inv.numa_nodes.push_back(nn);
  }
}

}  // namespace

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo cpu;
  std::istringstream in{std::string(text)};
  std::string line;
  std::map<std::string, int> packages;
  std::map<std::string, int> cores;
  std::string phys;
  int threads = 0;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "processor") ++threads;
    if (key == "model name" && cpu.model.empty()) cpu.model = value;
    if (key == "vendor_id" && cpu.vendor.empty()) cpu.vendor = value;
    if (key == "physical id") {
      phys = value;
      packages[value] = 1;
    }
    if (key == "core id") cores[phys + "/" + value] = 1;
  }
  cpu.threads = threads;
  cpu.sockets = std::max<int>(1, static_cast<int>(packages.size()));
  cpu.cores = cores.empty() ? threads : static_cast<int>(cores.size());
  return cpu;
}

bool read_cpu_hwloc(const HostFs& fs, Inventory& inv) {
  std::lock_guard lock(g_hwloc_mu);
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return false;
  if (!fs.is_live()) {
    ::setenv("HWLOC_FSROOT", fs.root().c_str(), 1);
    // The x86 backend would read CPUID of the CPU we run on, not the recorded one.
    hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
  } else {
    ::unsetenv("HWLOC_FSROOT");
  }
  // Only CPUs, caches and memory: PCI is read from sysfs by aion itself.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  int rc = hwloc_topology_load(topo);
  ::unsetenv("HWLOC_FSROOT");
  if (rc != 0) {
    hwloc_topology_destroy(topo);
    return false;
  }
  inv.cpu.sockets = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  inv.cpu.cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  inv.cpu.threads = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  if (hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0)) {
    if (const char* m = hwloc_obj_get_info_by_name(pkg, "CPUModel")) inv.cpu.model = m;
    if (const char* v = hwloc_obj_get_info_by_name(pkg, "CPUVendor")) inv.cpu.vendor = v;
  }
  read_hwloc_caches(topo, inv.cpu);
  read_hwloc_numa(topo, inv);
  hwloc_topology_destroy(topo);
  while (!inv.cpu.model.empty() && inv.cpu.model.back() == ' ') inv.cpu.model.pop_back();
  return inv.cpu.threads > 0;
}

void read_cpu_sysfs(const HostFs& fs, Inventory& inv) {
  if (auto info = fs.read("/proc/cpuinfo")) inv.cpu = parse_cpuinfo(*info);
  auto nodes = fs.list("/sys/devices/system/node");
  if (!nodes) return;
  for (const auto& n : *nodes) {
    if (n.rfind("node", 0) != 0 || n.size() < 5 || !std::isdigit(static_cast<unsigned char>(n[4])))
      continue;
    NumaNode nn;
    nn.id = std::atoi(n.c_str() + 4);
    if (auto c = fs.read_attr("/sys/devices/system/node/" + n + "/cpulist")) nn.cpus = *c;
    if (auto m = fs.read("/sys/devices/system/node/" + n + "/meminfo"))
      nn.memory_bytes = parse_node_memtotal(*m).value_or(0);
    inv.numa_nodes.push_back(nn);
  }
  std::sort(inv.numa_nodes.begin(), inv.numa_nodes.end(),
            [](auto& a, auto& b) { return a.id < b.id; });
}

}  // namespace aion::hw
