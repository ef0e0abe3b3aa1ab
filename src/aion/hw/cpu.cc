#include "aion/hw/cpu.h"

#include <hwloc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include "aion/core/strings.h"
#include "aion/hw/arm_cpus.h"
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

std::string cpulist(hwloc_const_bitmap_t set) {
  char* s = nullptr;
  if (hwloc_bitmap_list_asprintf(&s, set) < 0 || !s) return "";
  std::string out(s);
  std::free(s);
  return out;
}

// hwloc gives a NUMA node the CPUs of where it sits, so a memory-only node beside CPUs shows
// theirs. Its own CPUs are those the kernel lists for it (node<N>/cpulist), within what
// hwloc allows this process; without that file, hwloc's set.
std::string own_cpus(const HostFs& fs, hwloc_obj_t node) {
  auto listed =
      fs.read_attr("/sys/devices/system/node/node" + std::to_string(node->os_index) + "/cpulist");
  if (!listed) return cpulist(node->cpuset);
  hwloc_bitmap_t own = hwloc_bitmap_alloc();
  std::string out;
  if (listed->empty() || hwloc_bitmap_list_sscanf(own, listed->c_str()) == 0) {
    hwloc_bitmap_and(own, own, node->cpuset);
    out = hwloc_bitmap_iszero(own) ? "" : cpulist(own);
  }
  hwloc_bitmap_free(own);
  return out;
}

void read_hwloc_numa(const HostFs& fs, hwloc_topology_t topo, Inventory& inv) {
  int nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  std::vector<hwloc_obj_t> objs;
  for (int i = 0; i < nodes; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    NumaNode nn;
    nn.id = static_cast<int>(node->os_index);
    nn.cpus = own_cpus(fs, node);
    nn.memory_bytes = node->attr->numanode.local_memory;
    if (node->subtype) nn.kind = node->subtype;
    inv.numa_nodes.push_back(nn);
    objs.push_back(node);
  }
  // A memory-only node belongs with the node with CPUs that hangs at the same place.
  for (std::size_t i = 0; i < objs.size(); ++i) {
    if (!inv.numa_nodes[i].cpus.empty()) continue;
    for (std::size_t j = 0; j < objs.size(); ++j) {
      if (inv.numa_nodes[j].cpus.empty() || objs[j]->parent != objs[i]->parent) continue;
      inv.numa_nodes[i].near_node = inv.numa_nodes[j].id;
      break;
    }
  }
  std::sort(inv.numa_nodes.begin(), inv.numa_nodes.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });
}

// The kinds of cores of a hybrid CPU, most efficient first; none when all cores are alike.
void read_hwloc_cpukinds(hwloc_topology_t topo, CpuInfo& cpu) {
  int n = hwloc_cpukinds_get_nr(topo, 0);
  if (n < 2) return;
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  for (int k = 0; k < n; ++k) {
    int efficiency = -1;
    unsigned nr_infos = 0;
    hwloc_info_s* infos = nullptr;
    if (hwloc_cpukinds_get_info(topo, static_cast<unsigned>(k), set, &efficiency, &nr_infos, &infos,
                                0) != 0)
      continue;
    CpuKind kind;
    kind.cpus = cpulist(set);
    kind.efficiency = efficiency < 0 ? k : efficiency;
    for (unsigned i = 0; i < nr_infos; ++i) {
      std::string_view name = infos[i].name;
      if (name == "CoreType") kind.core_type = infos[i].value;
      if (name == "FrequencyMaxMHz") kind.max_mhz = std::atoi(infos[i].value);
    }
    cpu.kinds.push_back(std::move(kind));
  }
  hwloc_bitmap_free(set);
  std::sort(cpu.kinds.begin(), cpu.kinds.end(),
            [](const CpuKind& a, const CpuKind& b) { return a.efficiency < b.efficiency; });
  name_cpu_kinds(cpu.kinds);
}

}  // namespace

void name_cpu_kinds(std::vector<CpuKind>& kinds) {
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    kinds[i].name = i == 0                  ? "efficiency"
                    : i + 1 == kinds.size() ? "performance"
                                            : "kind" + std::to_string(i);
  }
}

std::string architecture_of_cpuinfo(std::string_view text) {
  auto has = [&](std::string_view key) {
    for (std::size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1))
      if (at == 0 || text[at - 1] == '\n') return true;
    return false;
  };
  if (has("CPU implementer")) return "aarch64";
  if (has("vendor_id") && (text.find("GenuineIntel") != std::string_view::npos ||
                           text.find("AuthenticAMD") != std::string_view::npos ||
                           text.find("HygonGenuine") != std::string_view::npos))
    return "x86_64";
  if (text.find("\ncpu\t\t: POWER") != std::string_view::npos ||
      text.find("\ncpu\t: POWER") != std::string_view::npos)
    return "ppc64";
  return "";
}

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo cpu;
  std::istringstream in{std::string(text)};
  std::string line;
  std::map<std::string, int> packages;
  std::map<std::string, int> cores;
  std::string phys;
  int threads = 0;
  std::optional<std::uint32_t> implementer, part;
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
    if (key == "CPU implementer" && !implementer) implementer = parse_midr_field(value);
    if (key == "CPU part" && !part) part = parse_midr_field(value);
  }
  // ARM: no model name, only the MIDR fields; the table names them.
  if (cpu.model.empty() && implementer && part) {
    if (const auto& arm = shipped_arm_cpu_table()) {
      cpu.model = arm->model(*implementer, *part);
      if (cpu.vendor.empty()) cpu.vendor = arm->implementer(*implementer);
    }
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
  // hwloc hides NVIDIA GPU memory nodes on POWER unless told to keep them; aion shows every
  // node and ties each to its device (attach_device_memory). Process-wide like FSROOT; a
  // value the user set is left alone.
  const bool keep_gpu_nodes = ::getenv("HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES") == nullptr;
  if (keep_gpu_nodes) ::setenv("HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES", "1", 1);
  // Only CPUs, caches and memory: PCI is read from sysfs by aion itself.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_ALL);
  // hwloc's default: only the CPUs and nodes this process's cpuset allows, which are the
  // ones jobs started from here can use.
  int rc = hwloc_topology_load(topo);
  ::unsetenv("HWLOC_FSROOT");
  if (keep_gpu_nodes) ::unsetenv("HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES");
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
  if (const char* a = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "Architecture"))
    inv.cpu.architecture = a;
  read_hwloc_caches(topo, inv.cpu);
  read_hwloc_numa(fs, topo, inv);
  read_hwloc_cpukinds(topo, inv.cpu);
  hwloc_topology_destroy(topo);
  inv.cpu.model = trim(inv.cpu.model);
  // On a recorded tree hwloc reports the architecture the tree's gatherer saved
  // (/proc/hwloc-nofile-info), else the one aion runs on; without that file, /proc/cpuinfo
  // tells. hwloc names x86 and POWER CPUs; ARM ones only through its MIDR fields.
  const bool arch_from_cpuinfo = !fs.is_live() && !fs.exists("/proc/hwloc-nofile-info");
  if (arch_from_cpuinfo || inv.cpu.model.empty() || inv.cpu.vendor.empty()) {
    if (auto info = fs.read("/proc/cpuinfo")) {
      if (arch_from_cpuinfo) {
        std::string arch = architecture_of_cpuinfo(*info);
        if (!arch.empty()) inv.cpu.architecture = arch;
      }
      if (inv.cpu.model.empty() || inv.cpu.vendor.empty()) {
        CpuInfo parsed = parse_cpuinfo(*info);
        if (inv.cpu.model.empty()) inv.cpu.model = parsed.model;
        if (inv.cpu.vendor.empty()) inv.cpu.vendor = parsed.vendor;
      }
    }
  }
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
