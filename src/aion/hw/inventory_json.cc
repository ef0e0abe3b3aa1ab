#include "aion/hw/inventory_json.h"

#include "aion/core/json.h"

namespace aion::hw {
namespace {

Json pci_json(const PciLocation& p) {
  char vd[16];
  std::snprintf(vd, sizeof(vd), "%04x:%04x", p.vendor_id, p.device_id);
  char cls[16];
  std::snprintf(cls, sizeof(cls), "0x%06x", p.class_code);
  return {{"address", p.address},
          {"host_bridge", p.host_bridge},
          {"bridges", p.bridges},
          {"numa_node", p.numa_node},
          {"cpu_affinity", p.cpu_affinity},
          {"id", vd},
          {"class", cls},
          {"driver", p.driver},
          {"link_speed", p.link_speed},
          {"link_width", p.link_width},
          {"max_link_speed", p.max_link_speed},
          {"max_link_width", p.max_link_width}};
}

PciLocation pci_from(const Json& j) {
  PciLocation p;
  p.address = j.value("address", "");
  p.host_bridge = j.value("host_bridge", "");
  p.bridges = j.value("bridges", std::vector<std::string>{});
  p.numa_node = j.value("numa_node", -1);
  p.cpu_affinity = j.value("cpu_affinity", "");
  std::string id = j.value("id", "0000:0000");
  p.vendor_id = static_cast<std::uint32_t>(std::strtoul(id.substr(0, 4).c_str(), nullptr, 16));
  p.device_id = id.size() >= 9
                    ? static_cast<std::uint32_t>(std::strtoul(id.substr(5, 4).c_str(), nullptr, 16))
                    : 0;
  p.class_code =
      static_cast<std::uint32_t>(std::strtoul(j.value("class", "0").c_str(), nullptr, 16));
  p.driver = j.value("driver", "");
  p.link_speed = j.value("link_speed", "");
  p.link_width = j.value("link_width", 0);
  p.max_link_speed = j.value("max_link_speed", "");
  p.max_link_width = j.value("max_link_width", 0);
  return p;
}

Json hugepages_json(const std::vector<HugePages>& v) {
  Json out = Json::array();
  for (const auto& h : v)
    out.push_back({{"page_size_kb", h.page_size_kb}, {"total", h.total}, {"free", h.free}});
  return out;
}

std::vector<HugePages> hugepages_from(const Json& j) {
  std::vector<HugePages> out;
  for (const auto& h : j)
    out.push_back({h.value("page_size_kb", 0ull), h.value("total", 0ull), h.value("free", 0ull)});
  return out;
}

}  // namespace

namespace {

// One JSON writer and reader per part of the inventory, side by side; readers take the
// writer's keys and default what is missing.

Json cpu_json(const CpuInfo& cpu) {
  Json caches = Json::array();
  for (const auto& c : cpu.caches) {
    caches.push_back({{"level", c.level},
                      {"type", c.type},
                      {"size_bytes", c.size_bytes},
                      {"instances", c.instances}});
  }
  Json kinds = Json::array();
  for (const auto& k : cpu.kinds) {
    kinds.push_back({{"name", k.name},
                     {"cpus", k.cpus},
                     {"efficiency", k.efficiency},
                     {"core_type", k.core_type},
                     {"max_mhz", k.max_mhz}});
  }
  return {{"vendor", cpu.vendor},   {"model", cpu.model}, {"architecture", cpu.architecture},
          {"sockets", cpu.sockets}, {"cores", cpu.cores}, {"threads", cpu.threads},
          {"caches", caches},       {"kinds", kinds}};
}

CpuInfo cpu_from(const Json& cpu) {
  CpuInfo out;
  out.vendor = cpu.value("vendor", "");
  out.model = cpu.value("model", "");
  out.sockets = cpu.value("sockets", 0);
  out.cores = cpu.value("cores", 0);
  out.threads = cpu.value("threads", 0);
  out.architecture = cpu.value("architecture", "");
  for (const auto& k : cpu.value("kinds", Json::array())) {
    out.kinds.push_back({k.value("name", ""), k.value("cpus", ""), k.value("efficiency", 0),
                         k.value("core_type", ""), k.value("max_mhz", 0)});
  }
  for (const auto& c : cpu.value("caches", Json::array())) {
    out.caches.push_back({c.value("level", 0), c.value("type", ""), c.value("size_bytes", 0ull),
                          c.value("instances", 0)});
  }
  return out;
}

Json accelerator_json(const Accelerator& a) {
  Json links = Json::array();
  for (const auto& l : a.links)
    links.push_back({{"kind", l.kind}, {"peer", l.peer}, {"count", l.count}});
  return {{"index", a.index},
          {"module_id", a.module_id},
          {"vendor", a.vendor},
          {"vendor_name", a.vendor_name},
          {"kind", a.kind},
          {"depth", a.depth},
          {"model", a.model},
          {"cores", a.cores},
          {"pci", pci_json(a.pci)},
          {"numa_node", a.pci.numa_node},
          {"memory_node", a.memory_node},
          {"cpu_affinity", a.pci.cpu_affinity},
          {"memory_bytes", a.memory_bytes},
          {"driver", a.pci.driver},
          {"driver_version", a.driver_version},
          {"compute_capability", a.compute_capability},
          {"gfx_target", a.gfx_target},
          {"uuid", a.uuid},
          {"partition_mode", a.partition_mode},
          {"links", links},
          {"device_nodes", a.device_nodes},
          {"source", a.source},
          {"state", a.state},
          {"simulated", a.simulated}};
}

Accelerator accelerator_from(const Json& a) {
  Accelerator acc;
  acc.index = a.value("index", 0);
  acc.module_id = a.value("module_id", -1);
  acc.vendor = a.value("vendor", "");
  acc.vendor_name = a.value("vendor_name", "");
  acc.kind = a.value("kind", "gpu");
  acc.depth = a.value("depth", "generic");
  acc.model = a.value("model", "");
  acc.cores = a.value("cores", 0);
  acc.pci = pci_from(a.value("pci", Json::object()));
  acc.memory_node = a.value("memory_node", -1);
  acc.memory_bytes = a.value("memory_bytes", 0ull);
  acc.driver_version = a.value("driver_version", "");
  acc.compute_capability = a.value("compute_capability", "");
  acc.gfx_target = a.value("gfx_target", "");
  acc.uuid = a.value("uuid", "");
  acc.partition_mode = a.value("partition_mode", "");
  for (const auto& l : a.value("links", Json::array()))
    acc.links.push_back({l.value("kind", ""), l.value("peer", ""), l.value("count", 0)});
  for (const auto& d : a.value("device_nodes", Json::array()))
    if (d.is_string()) acc.device_nodes.push_back(d.get<std::string>());
  acc.source = a.value("source", "");
  acc.state = a.value("state", "ok");
  acc.simulated = a.value("simulated", false);
  return acc;
}

Json nic_json(const Nic& n) {
  return {{"name", n.name},
          {"pci", pci_json(n.pci)},
          {"numa_node", n.pci.numa_node},
          {"cpu_affinity", n.pci.cpu_affinity},
          {"speed_mbps", n.speed_mbps},
          {"state", n.state},
          {"mac", n.mac},
          {"rdma", n.rdma},
          {"rdma_device", n.rdma_device}};
}

Nic nic_from(const Json& n) {
  Nic nic;
  nic.name = n.value("name", "");
  nic.pci = pci_from(n.value("pci", Json::object()));
  nic.speed_mbps = n.value("speed_mbps", -1LL);
  nic.state = n.value("state", "");
  nic.mac = n.value("mac", "");
  nic.rdma = n.value("rdma", false);
  nic.rdma_device = n.value("rdma_device", "");
  return nic;
}

Json nvme_json(const NvmeDevice& d) {
  return {{"name", d.name},
          {"model", d.model},
          {"serial", d.serial},
          {"firmware", d.firmware},
          {"size_bytes", d.size_bytes},
          {"pci", pci_json(d.pci)},
          {"numa_node", d.pci.numa_node}};
}

NvmeDevice nvme_from(const Json& d) {
  NvmeDevice dev;
  dev.name = d.value("name", "");
  dev.model = d.value("model", "");
  dev.serial = d.value("serial", "");
  dev.firmware = d.value("firmware", "");
  dev.size_bytes = d.value("size_bytes", 0ull);
  dev.pci = pci_from(d.value("pci", Json::object()));
  return dev;
}

Json disk_json(const Disk& d) {
  return {{"name", d.name},
          {"model", d.model},
          {"size_bytes", d.size_bytes},
          {"rotational", d.rotational},
          {"transport", d.transport},
          {"pci", pci_json(d.pci)},
          {"numa_node", d.pci.numa_node}};
}

Disk disk_from(const Json& d) {
  Disk disk;
  disk.name = d.value("name", "");
  disk.model = d.value("model", "");
  disk.size_bytes = d.value("size_bytes", 0ull);
  disk.rotational = d.value("rotational", false);
  disk.transport = d.value("transport", "");
  disk.pci = pci_from(d.value("pci", Json::object()));
  return disk;
}

// Every item of `items` written by `write`, as a JSON array.
template <class T, class Write>
Json array_of(const std::vector<T>& items, Write write) {
  Json out = Json::array();
  for (const auto& x : items) out.push_back(write(x));
  return out;
}

}  // namespace

std::string to_json(const Inventory& inv, int indent) {
  Json nodes = Json::array();
  for (const auto& n : inv.numa_nodes) {
    nodes.push_back({{"id", n.id},
                     {"cpus", n.cpus},
                     {"memory_bytes", n.memory_bytes},
                     {"kind", n.kind},
                     {"near_node", n.near_node},
                     {"device", n.device},
                     {"distances", n.distances},
                     {"hugepages", hugepages_json(n.hugepages)}});
  }
  Json warnings = Json::array();
  for (const auto& w : inv.warnings)
    warnings.push_back({{"device", w.device}, {"message", w.message}});
  Json j = {{"hostname", inv.hostname},
            {"kernel", inv.kernel},
            {"cpu", cpu_json(inv.cpu)},
            {"numa_nodes", nodes},
            {"memory",
             {{"total_bytes", inv.memory.total_bytes},
              {"available_bytes", inv.memory.available_bytes},
              {"hugepages", hugepages_json(inv.memory.hugepages)}}},
            {"accelerators", array_of(inv.accelerators, accelerator_json)},
            {"nics", array_of(inv.nics, nic_json)},
            {"nvme", array_of(inv.nvme, nvme_json)},
            {"disks", array_of(inv.disks, disk_json)},
            {"pci", array_of(inv.pci, pci_json)},
            {"warnings", warnings}};
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

Result<Inventory> inventory_from_json(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return fail(ErrorCode::kParse, "hardware snapshot is not a JSON object");
  try {
    Inventory inv;
    inv.hostname = j.value("hostname", "");
    inv.kernel = j.value("kernel", "");
    inv.cpu = cpu_from(j.at("cpu"));
    for (const auto& n : j.value("numa_nodes", Json::array())) {
      NumaNode node;
      node.id = n.value("id", 0);
      node.cpus = n.value("cpus", "");
      node.memory_bytes = n.value("memory_bytes", 0ull);
      node.kind = n.value("kind", "");
      node.near_node = n.value("near_node", -1);
      node.device = n.value("device", "");
      node.distances = n.value("distances", std::vector<int>{});
      node.hugepages = hugepages_from(n.value("hugepages", Json::array()));
      inv.numa_nodes.push_back(std::move(node));
    }
    const Json& mem = j.at("memory");
    inv.memory.total_bytes = mem.value("total_bytes", 0ull);
    inv.memory.available_bytes = mem.value("available_bytes", 0ull);
    inv.memory.hugepages = hugepages_from(mem.value("hugepages", Json::array()));
    for (const auto& a : j.value("accelerators", Json::array()))
      inv.accelerators.push_back(accelerator_from(a));
    for (const auto& n : j.value("nics", Json::array())) inv.nics.push_back(nic_from(n));
    for (const auto& d : j.value("nvme", Json::array())) inv.nvme.push_back(nvme_from(d));
    for (const auto& d : j.value("disks", Json::array())) inv.disks.push_back(disk_from(d));
    for (const auto& p : j.value("pci", Json::array())) inv.pci.push_back(pci_from(p));
    return inv;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kParse, std::string("hardware snapshot is malformed: ") + e.what());
  }
}

std::string to_json(const Topology& t, int indent) {
  Json devices = Json::array();
  for (const auto& d : t.devices) {
    devices.push_back({{"name", d.name},
                       {"pci_address", d.pci_address},
                       {"detail", d.detail},
                       {"numa_node", d.numa_node},
                       {"cpu_affinity", d.cpu_affinity},
                       {"memory_node", d.memory_node}});
  }
  Json j = {{"devices", devices}, {"matrix", t.matrix}};
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aion::hw
