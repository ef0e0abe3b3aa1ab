#include "aion/hw/discovery.h"

#include <hwloc.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "aion/hw/nvml.h"
#include "aion/hw/pci.h"

namespace aion::hw {
namespace {

constexpr std::uint32_t kVendorNvidia = 0x10de;
constexpr std::uint32_t kVendorAmd = 0x1002;
constexpr std::uint32_t kVendorIntel = 0x8086;
constexpr std::uint32_t kVendorHuawei = 0x19e5;

std::string hex4(std::uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04x", v);
  return buf;
}

// "key value" lines (KFD properties, /proc/meminfo without the colon handling).
std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find_first_of(" \t:");
    if (sp == std::string::npos) continue;
    std::string key = line.substr(0, sp);
    auto v = line.find_first_not_of(" \t:", sp);
    out[key] = v == std::string::npos ? "" : line.substr(v);
  }
  return out;
}

std::uint64_t leading_number(const std::string& s) {
  return std::strtoull(s.c_str(), nullptr, 10);
}

void read_host(const HostFs& fs, Inventory& inv) {
  if (auto h = fs.read_attr("/proc/sys/kernel/hostname")) inv.hostname = *h;
  if (auto k = fs.read_attr("/proc/sys/kernel/osrelease")) inv.kernel = *k;
}

// hwloc's Linux backend reads below HWLOC_FSROOT; the variable is process-wide.
std::mutex g_hwloc_mu;

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
    inv.cpu.caches.push_back(ci);
  }
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
  hwloc_topology_destroy(topo);
  while (!inv.cpu.model.empty() && inv.cpu.model.back() == ' ') inv.cpu.model.pop_back();
  return inv.cpu.threads > 0;
}

// Without hwloc (or when it cannot read a tree): /proc/cpuinfo and the node directories.
void read_cpu_sysfs(const HostFs& fs, Inventory& inv) {
  if (auto info = fs.read("/proc/cpuinfo")) {
    std::istringstream in(*info);
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
      if (key == "model name" && inv.cpu.model.empty()) inv.cpu.model = value;
      if (key == "vendor_id" && inv.cpu.vendor.empty()) inv.cpu.vendor = value;
      if (key == "physical id") {
        phys = value;
        packages[value] = 1;
      }
      if (key == "core id") cores[phys + "/" + value] = 1;
    }
    inv.cpu.threads = threads;
    inv.cpu.sockets = std::max<int>(1, static_cast<int>(packages.size()));
    inv.cpu.cores = cores.empty() ? threads : static_cast<int>(cores.size());
  }
  if (auto nodes = fs.list("/sys/devices/system/node")) {
    for (const auto& n : *nodes) {
      if (n.rfind("node", 0) != 0 || n.size() < 5 ||
          !std::isdigit(static_cast<unsigned char>(n[4])))
        continue;
      NumaNode nn;
      nn.id = std::atoi(n.c_str() + 4);
      if (auto c = fs.read_attr("/sys/devices/system/node/" + n + "/cpulist")) nn.cpus = *c;
      if (auto m = fs.read("/sys/devices/system/node/" + n + "/meminfo")) {
        auto pos = m->find("MemTotal:");
        if (pos != std::string::npos)
          nn.memory_bytes = leading_number(m->substr(m->find_first_of("0123456789", pos))) * 1024;
      }
      inv.numa_nodes.push_back(nn);
    }
    std::sort(inv.numa_nodes.begin(), inv.numa_nodes.end(),
              [](auto& a, auto& b) { return a.id < b.id; });
  }
}

std::vector<HugePages> read_hugepages(const HostFs& fs, const std::string& dir) {
  std::vector<HugePages> out;
  auto sizes = fs.list(dir);
  if (!sizes) return out;
  for (const auto& s : *sizes) {
    if (s.rfind("hugepages-", 0) != 0) continue;
    HugePages hp;
    hp.page_size_kb = leading_number(s.substr(10));
    if (auto t = fs.read_int(dir + "/" + s + "/nr_hugepages"))
      hp.total = static_cast<std::uint64_t>(*t);
    if (auto f = fs.read_int(dir + "/" + s + "/free_hugepages"))
      hp.free = static_cast<std::uint64_t>(*f);
    out.push_back(hp);
  }
  return out;
}

void read_memory(const HostFs& fs, Inventory& inv) {
  if (auto m = fs.read("/proc/meminfo")) {
    auto kv = key_values(*m);
    inv.memory.total_bytes = leading_number(kv["MemTotal"]) * 1024;
    inv.memory.available_bytes = leading_number(kv["MemAvailable"]) * 1024;
  } else {
    inv.warnings.push_back({"memory", m.error().message()});
  }
  inv.memory.hugepages = read_hugepages(fs, "/sys/kernel/mm/hugepages");
  for (auto& n : inv.numa_nodes) {
    std::string dir = "/sys/devices/system/node/node" + std::to_string(n.id);
    if (auto d = fs.read_attr(dir + "/distance")) {
      std::istringstream in(*d);
      int v;
      while (in >> v) n.distances.push_back(v);
    }
    n.hugepages = read_hugepages(fs, dir + "/hugepages");
  }
}

std::string nvidia_driver_version(const HostFs& fs) {
  auto v = fs.read("/proc/driver/nvidia/version");
  if (!v) return "";
  auto pos = v->find("Kernel Module");
  if (pos == std::string::npos) return "";
  std::istringstream in(v->substr(pos + 13));
  std::string version;
  in >> version;
  return version;
}

bool is_accelerator(const PciLocation& p) {
  std::uint32_t base = p.class_code >> 16;
  if (base == 0x12) return true;  // processing accelerator
  if (base != 0x03) return false;
  return p.vendor_id == kVendorNvidia || p.vendor_id == kVendorAmd || p.vendor_id == kVendorIntel;
}

std::string vendor_name(std::uint32_t v) {
  switch (v) {
    case kVendorNvidia: return "nvidia";
    case kVendorAmd: return "amd";
    case kVendorIntel: return "intel";
    case kVendorHuawei: return "huawei";
    default: return "other";
  }
}

std::string model_from_pci(const PciLocation& p) {
  std::string name = pci_device_name(p.vendor_id, p.device_id);
  if (!name.empty()) return name;
  return vendor_name(p.vendor_id) + " device " + hex4(p.device_id);
}

// gfx_target_version 90010 -> "gfx90a": major, minor, stepping (hex).
std::string gfx_name(std::int64_t v) {
  if (v <= 0) return "";
  int major = static_cast<int>(v / 10000), minor = static_cast<int>((v / 100) % 100),
      step = static_cast<int>(v % 100);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "gfx%d%d%x", major, minor, step);
  return buf;
}

void read_amd(const HostFs& fs, Inventory& inv, std::vector<Accelerator*>& amd) {
  if (amd.empty()) return;
  std::string version;
  if (auto v = fs.read_attr("/sys/module/amdgpu/version")) version = *v;
  // DRM cards: VRAM and unique id.
  if (auto cards = fs.list("/sys/class/drm")) {
    for (const auto& c : *cards) {
      if (c.rfind("card", 0) != 0 || c.find('-') != std::string::npos) continue;
      std::string addr = pci_address_of(fs, "/sys/class/drm/" + c + "/device");
      for (auto* a : amd) {
        if (a->pci.address != addr) continue;
        std::string dev = "/sys/class/drm/" + c + "/device";
        if (auto vram = fs.read_int(dev + "/mem_info_vram_total")) {
          a->memory_bytes = static_cast<std::uint64_t>(*vram);
        } else if (fs.exists(dev + "/mem_info_vram_total")) {
          inv.warnings.push_back(
              {a->pci.address, "unreadable VRAM size: " + vram.error().message()});
        }
        if (auto uid = fs.read_attr(dev + "/unique_id")) a->uuid = *uid;
        a->driver_version = version;
      }
    }
  }
  // KFD topology: gfx target and XGMI links.
  const std::string kfd = "/sys/class/kfd/kfd/topology/nodes";
  auto nodes = fs.list(kfd);
  if (!nodes) {
    inv.warnings.push_back({"amd", "no KFD topology (" + nodes.error().message() +
                                       "): gfx target and XGMI links unknown"});
    return;
  }
  std::map<std::string, std::string> node_to_pci;
  std::map<std::string, std::map<std::string, std::string>> props;
  for (const auto& n : *nodes) {
    auto text = fs.read(kfd + "/" + n + "/properties");
    if (!text) {
      inv.warnings.push_back({"kfd node " + n, text.error().message()});
      continue;
    }
    auto kv = key_values(*text);
    props[n] = kv;
    std::int64_t loc = std::atoll(kv["location_id"].c_str());
    std::int64_t domain = std::atoll(kv["domain"].c_str());
    if (kv["gfx_target_version"].empty() || std::atoll(kv["gfx_target_version"].c_str()) == 0)
      continue;
    char addr[16];
    std::snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%x", static_cast<unsigned>(domain),
                  static_cast<unsigned>((loc >> 8) & 0xff),
                  static_cast<unsigned>((loc >> 3) & 0x1f), static_cast<unsigned>(loc & 7));
    node_to_pci[n] = addr;
  }
  for (auto& [n, addr] : node_to_pci) {
    Accelerator* acc = nullptr;
    for (auto* a : amd) {
      if (a->pci.address == addr) acc = a;
    }
    if (!acc) continue;
    acc->gfx_target = gfx_name(std::atoll(props[n]["gfx_target_version"].c_str()));
    acc->source = "kfd";
    auto links = fs.list(kfd + "/" + n + "/io_links");
    if (!links) continue;
    for (const auto& l : *links) {
      auto text = fs.read(kfd + "/" + n + "/io_links/" + l + "/properties");
      if (!text) continue;
      auto kv = key_values(*text);
      // CRAT io-link type 11 is XGMI.
      if (kv["type"] != "11") continue;
      auto peer = node_to_pci.find(kv["node_to"]);
      if (peer == node_to_pci.end()) continue;
      acc->links.push_back({"xgmi", peer->second, 1});
    }
  }
}

void read_accelerators(const HostFs& fs, const DiscoveryOptions& o,
                       const std::vector<PciDevice>& pci, Inventory& inv) {
  std::vector<PciLocation> nvidia_sysfs;
  for (const auto& d : pci) {
    const PciLocation& p = d.location;
    if (!is_accelerator(p)) continue;
    if (p.vendor_id == kVendorNvidia) {
      nvidia_sysfs.push_back(p);
      continue;
    }
    Accelerator a;
    a.vendor = vendor_name(p.vendor_id);
    a.model = model_from_pci(p);
    a.pci = p;
    a.source = "sysfs";
    inv.accelerators.push_back(std::move(a));
  }
  // NVIDIA: NVML when it loads, else what sysfs tells.
  if (!nvidia_sysfs.empty() || !o.nvml_library.empty() || std::getenv("AION_NVML_LIBRARY")) {
    std::string driver = nvidia_driver_version(fs);
    auto nvml = Nvml::load(nvml_library_path(o.nvml_library));
    std::vector<Accelerator> found;
    if (nvml) {
      NvmlReport report = (*nvml)->query();
      if (driver.empty()) driver = report.driver_version;
      for (auto& g : report.gpus) {
        Accelerator a = std::move(g.accelerator);
        auto it = std::find_if(nvidia_sysfs.begin(), nvidia_sysfs.end(),
                               [&](const PciLocation& p) { return p.address == a.pci.address; });
        if (it != nvidia_sysfs.end()) {
          a.pci = *it;
          nvidia_sysfs.erase(it);
        } else if (!a.pci.address.empty()) {
          if (auto loc = read_pci_location(fs, a.pci.address)) a.pci = *loc;
        }
        a.driver_version = driver;
        std::string who =
            a.pci.address.empty() ? "NVIDIA GPU " + std::to_string(a.index) : a.pci.address;
        if (g.lost) {
          a.state = "lost";
          inv.warnings.push_back(
              {who, "GPU is lost (NVML_ERROR_GPU_IS_LOST, Xid 79: fell off the bus); " + g.error +
                        ". Check `dmesg` for Xid 79 and reset or reboot"});
        } else if (!g.error.empty()) {
          inv.warnings.push_back({who, g.error});
        }
        if (a.model.empty() && !a.pci.address.empty()) a.model = model_from_pci(a.pci);
        found.push_back(std::move(a));
      }
    } else if (!nvidia_sysfs.empty()) {
      inv.warnings.push_back({"nvidia", nvml.error().message() +
                                            "; showing what sysfs tells (memory, UUID, "
                                            "compute capability, MIG and NVLink unknown)"});
    }
    // NVIDIA functions NVML did not report (or all of them without NVML).
    for (const auto& p : nvidia_sysfs) {
      Accelerator a;
      a.vendor = "nvidia";
      a.model = model_from_pci(p);
      a.pci = p;
      a.driver_version = driver;
      a.source = "sysfs";
      if (nvml)
        inv.warnings.push_back(
            {p.address, "NVIDIA device not reported by NVML (driver not bound?)"});
      found.push_back(std::move(a));
    }
    std::sort(found.begin(), found.end(), [](const Accelerator& a, const Accelerator& b) {
      return a.pci.address < b.pci.address;
    });
    inv.accelerators.insert(inv.accelerators.begin(), found.begin(), found.end());
  }
  std::vector<Accelerator*> amd;
  for (auto& a : inv.accelerators) {
    if (a.vendor == "amd") amd.push_back(&a);
  }
  read_amd(fs, inv, amd);
  // Ascend NPUs show their /dev/davinci nodes when the driver is loaded.
  bool have_huawei = std::any_of(inv.accelerators.begin(), inv.accelerators.end(),
                                 [](auto& a) { return a.vendor == "huawei"; });
  if (have_huawei && !fs.exists("/dev/davinci0")) {
    inv.warnings.push_back(
        {"huawei", "Ascend devices on PCI but no /dev/davinci* (driver not loaded)"});
  }
  // Indexes count per vendor, in PCI order, as the vendors' runtimes number them.
  std::map<std::string, int> next;
  for (auto& a : inv.accelerators) {
    if (a.vendor != "nvidia") {
      a.index = next[a.vendor]++;
    } else {
      a.index = next["nvidia"]++;
    }
  }
}

void read_nics(const HostFs& fs, Inventory& inv) {
  std::map<std::string, std::string> rdma_by_pci;
  if (auto ib = fs.list("/sys/class/infiniband")) {
    for (const auto& dev : *ib) {
      std::string addr = pci_address_of(fs, "/sys/class/infiniband/" + dev + "/device");
      if (!addr.empty()) rdma_by_pci[addr] = dev;
    }
  }
  auto names = fs.list("/sys/class/net");
  if (names) {
    for (const auto& name : *names) {
      std::string base = "/sys/class/net/" + name;
      if (!fs.exists(base + "/device")) continue;  // lo, bridges, veth: no hardware
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
      inv.nics.push_back(std::move(n));
    }
  }
  // RDMA devices without a network interface (InfiniBand-only ports).
  for (const auto& [addr, dev] : rdma_by_pci) {
    Nic n;
    n.name = dev;
    n.rdma = true;
    n.rdma_device = dev;
    if (auto loc = read_pci_location(fs, addr)) n.pci = *loc;
    if (auto rate = fs.read_attr("/sys/class/infiniband/" + dev + "/ports/1/rate")) {
      n.speed_mbps =
          static_cast<std::int64_t>(leading_number(*rate)) * 1000;  // "200 Gb/sec (4X HDR)"
    }
    if (auto st = fs.read_attr("/sys/class/infiniband/" + dev + "/ports/1/state")) n.state = *st;
    inv.nics.push_back(std::move(n));
  }
  std::sort(inv.nics.begin(), inv.nics.end(), [](const Nic& a, const Nic& b) {
    return a.pci.address == b.pci.address ? a.name < b.name : a.pci.address < b.pci.address;
  });
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
        if (e.rfind(c + "n", 0) != 0 &&
            !(e.rfind("nvme", 0) == 0 && e.find('n', 4) != std::string::npos && e != c))
          continue;
        if (auto sectors = fs.read_int(base + "/" + e + "/size"))
          d.size_bytes += static_cast<std::uint64_t>(*sectors) * 512;
      }
    }
    inv.nvme.push_back(std::move(d));
  }
}

void read_disks(const HostFs& fs, Inventory& inv) {
  auto names = fs.list("/sys/block");
  if (!names) return;
  for (const auto& name : *names) {
    if (name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0 || name.rfind("zram", 0) == 0 ||
        name.rfind("dm-", 0) == 0 || name.rfind("md", 0) == 0 || name.rfind("sr", 0) == 0) {
      continue;
    }
    std::string base = "/sys/block/" + name;
    Disk d;
    d.name = name;
    if (auto sectors = fs.read_int(base + "/size"))
      d.size_bytes = static_cast<std::uint64_t>(*sectors) * 512;
    if (auto rot = fs.read_int(base + "/queue/rotational")) d.rotational = *rot != 0;
    if (auto m = fs.read_attr(base + "/device/model")) d.model = *m;
    auto real = fs.real_path(base + "/device");
    if (real) {
      if (real->find("/virtio") != std::string::npos) {
        d.transport = "virtio";
      } else if (name.rfind("nvme", 0) == 0) {
        d.transport = "nvme";
      } else if (real->find("/usb") != std::string::npos) {
        d.transport = "usb";
      } else if (real->find("/host") != std::string::npos ||
                 real->find("/target") != std::string::npos) {
        d.transport = "scsi";
      }
    }
    std::string addr = pci_address_of(fs, base + "/device");
    if (!addr.empty()) {
      if (auto loc = read_pci_location(fs, addr)) d.pci = *loc;
    }
    inv.disks.push_back(std::move(d));
  }
}

// The device nodes of each accelerator: NVIDIA's /dev/nvidia<minor> (minor from the driver's
// /proc/driver/nvidia/gpus/<addr>/information), DRM card and render nodes for AMD and Intel,
// /dev/davinci<index> for Ascend.
void add_device_nodes(const HostFs& fs, Inventory& inv) {
  for (auto& a : inv.accelerators) {
    if (a.pci.address.empty()) continue;
    if (a.vendor == "nvidia") {
      auto info = fs.read("/proc/driver/nvidia/gpus/" + a.pci.address + "/information");
      if (!info) continue;
      auto pos = info->find("Device Minor:");
      if (pos == std::string::npos) continue;
      int minor = std::atoi(info->c_str() + pos + 13);
      a.device_nodes.push_back("/dev/nvidia" + std::to_string(minor));
    } else if (a.vendor == "huawei") {
      a.device_nodes.push_back("/dev/davinci" + std::to_string(a.index));
    } else if (auto drm = fs.list("/sys/bus/pci/devices/" + a.pci.address + "/drm")) {
      std::vector<std::string> names = *drm;
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        if (n.rfind("renderD", 0) == 0 || (n.rfind("card", 0) == 0 && n.find('-') == n.npos)) {
          a.device_nodes.push_back("/dev/dri/" + n);
        }
      }
    }
  }
}

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
  read_accelerators(fs, o, pci, inv);
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
