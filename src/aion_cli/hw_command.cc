// aion hw, aion hw topo, aion hw diff: the machine's hardware, read without the daemon.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/hw/discovery.h"
#include "aion/hw/inventory_json.h"
#include "aion/hw/snapshot.h"
#include "aion/hw/topology.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string numa_text(int n) {
  return n < 0 ? "-" : std::to_string(n);
}

// Loads the config (for [[simulate.gpu]] and hw.nvml_library) and discovers the machine.
std::optional<hw::Inventory> discover_machine(Context& ctx) {
  auto m = load_machine(ctx);
  if (!m) return std::nullopt;
  return discover(ctx, *m);
}

// Host, CPU, caches, memory and hugepages: one key per row.
void print_host(const hw::Inventory& inv) {
  Table head;  // no header: one key per row
  head.add({"Host", inv.hostname + " (Linux " + inv.kernel + ")"});
  head.add({"CPU", inv.cpu.model +
                       (inv.cpu.architecture.empty() ? "" : " (" + inv.cpu.architecture + ")")});
  head.add({"", std::to_string(inv.cpu.sockets) + " socket(s), " + std::to_string(inv.cpu.cores) +
                    " cores, " + std::to_string(inv.cpu.threads) + " threads"});
  // Hybrid CPUs: which CPUs are of which kind, most performant first.
  for (auto k = inv.cpu.kinds.rbegin(); k != inv.cpu.kinds.rend(); ++k) {
    std::string what = "CPUs " + k->cpus;
    if (!k->core_type.empty()) what += ", " + k->core_type;
    if (k->max_mhz > 0) what += ", up to " + std::to_string(k->max_mhz) + " MHz";
    head.add({k == inv.cpu.kinds.rbegin() ? "Core kinds" : "", k->name + ": " + what});
  }
  std::string caches;
  for (const auto& c : inv.cpu.caches) {
    caches += (caches.empty() ? "" : ", ") + std::string("L") + std::to_string(c.level) +
              (c.type == "Data"          ? "d"
               : c.type == "Instruction" ? "i"
                                         : "") +
              " " + human_bytes(c.size_bytes) + " x" + std::to_string(c.instances);
  }
  if (!caches.empty()) head.add({"Caches", caches});
  head.add({"Memory", human_bytes(inv.memory.total_bytes) + " total, " +
                          human_bytes(inv.memory.available_bytes) + " available"});
  for (const auto& h : inv.memory.hugepages) {
    if (h.total > 0) {
      head.add({"Hugepages", std::to_string(h.total) + " x " + human_bytes(h.page_size_kb * 1024) +
                                 " (" + std::to_string(h.free) + " free)"});
    }
  }
  head.print();
}

void print_numa(const hw::Inventory& inv) {
  std::printf("\nNUMA nodes\n");
  Table numa({"NODE", "CPUS", "MEMORY", "KIND", "DISTANCES"});
  for (const auto& n : inv.numa_nodes) {
    std::string d;
    for (int x : n.distances) d += (d.empty() ? "" : " ") + std::to_string(x);
    // A node without CPUs is memory beside another node (a tier, HBM, CXL, GPU memory).
    std::string kind = n.kind.empty() ? (n.cpus.empty() ? "memory only" : "-") : n.kind;
    if (!n.device.empty()) kind += ", device " + n.device;
    if (n.cpus.empty() && n.near_node >= 0) kind += ", near node " + std::to_string(n.near_node);
    numa.add({std::to_string(n.id), n.cpus.empty() ? "-" : n.cpus, human_bytes(n.memory_bytes),
              kind, d});
  }
  numa.print();
}

// "16GT/s x16" from sysfs's "16.0 GT/s PCIe" and 16 lanes, with the maximum when the link
// runs below it (a card in a narrower slot, or trained down).
std::string link_text(const hw::PciLocation& p) {
  auto one = [](const std::string& speed, int width) {
    std::string s = speed.substr(0, speed.find(" GT/s"));
    if (s.ends_with(".0")) s.resize(s.size() - 2);
    return speed.empty() || speed.starts_with("Unknown")
               ? std::string()
               : s + "GT/s" + (width > 0 ? " x" + std::to_string(width) : "");
  };
  std::string now = one(p.link_speed, p.link_width);
  std::string max = one(p.max_link_speed, p.max_link_width);
  if (now.empty()) return max.empty() ? "-" : "max " + max;
  return max.empty() || max == now ? now : now + " (max " + max + ")";
}

void print_accelerators(const hw::Inventory& inv) {
  std::printf("\nAccelerators\n");
  if (inv.accelerators.empty()) {
    std::printf(
        "  no accelerator found (no PCI function of a computing class: GPU, NPU, vector\n"
        "  engine, co-processor or other processing accelerator, of any vendor).\n"
        "  To try aion's GPU features here, add [[simulate.gpu]] entries to the config.\n");
    return;
  }
  Table t({"KIND", "IDX", "VENDOR", "MODEL", "PCI", "NUMA", "LINK", "MEMORY", "DRIVER", "ARCH",
           "UUID", "DEPTH"});
  for (const auto& a : inv.accelerators) {
    std::string arch = !a.compute_capability.empty() ? "sm " + a.compute_capability : a.gfx_target;
    if (arch.empty() && a.cores > 0) arch = std::to_string(a.cores) + " cores";
    std::string model = a.model + (a.simulated ? " [simulated]" : "") +
                        (a.partition_mode.find("enabled") != std::string::npos &&
                                 a.partition_mode.find("disabled") == std::string::npos
                             ? " [" + a.partition_mode + "]"
                             : "") +
                        (a.state != "ok" ? " [" + a.state + "]" : "");
    t.add({a.kind, std::to_string(a.index), a.vendor_name.empty() ? a.vendor : a.vendor_name, model,
           a.pci.address.empty() ? "-" : a.pci.address,
           numa_text(a.pci.numa_node) +
               (a.memory_node >= 0 ? " mem " + std::to_string(a.memory_node) : ""),
           link_text(a.pci), a.memory_bytes ? human_bytes(a.memory_bytes) : "-",
           a.pci.driver.empty()
               ? (a.driver_version.empty() ? "-" : a.driver_version)
               : a.pci.driver + (a.driver_version.empty() ? "" : " " + a.driver_version),
           arch.empty() ? "-" : arch, a.uuid.empty() ? "-" : a.uuid, a.depth});
  }
  t.print();
  // What "generic" means, once, when any device is shown without vendor depth.
  for (const auto& a : inv.accelerators) {
    if (a.depth != "generic" || a.simulated) continue;
    std::printf(
        "  DEPTH generic: known from PCI only (class, ids, link, NUMA); aion reads nothing\n"
        "  vendor-specific for it (see data/hw/accelerators.toml).\n");
    break;
  }
}

void print_nics(const hw::Inventory& inv) {
  std::printf("\nNetwork interfaces\n");
  if (inv.nics.empty()) {
    std::printf("  none with hardware behind them\n");
  } else {
    Table t({"NAME", "PCI", "NUMA", "SPEED", "STATE", "RDMA", "DRIVER"});
    for (const auto& n : inv.nics) {
      t.add({n.name, n.pci.address.empty() ? "-" : n.pci.address, numa_text(n.pci.numa_node),
             n.speed_mbps > 0 ? std::to_string(n.speed_mbps / 1000) + " Gb/s" : "-",
             n.state.empty() ? "-" : n.state, n.rdma ? n.rdma_device : "no",
             n.pci.driver.empty() ? "-" : n.pci.driver});
    }
    t.print();
  }
}

// Disks, then NVMe controllers when there are any.
void print_storage(const hw::Inventory& inv) {
  std::printf("\nDisks\n");
  if (inv.disks.empty()) {
    std::printf("  none\n");
  } else {
    Table t({"NAME", "MODEL", "SIZE", "TYPE", "BUS", "PCI", "NUMA"});
    for (const auto& d : inv.disks) {
      t.add({d.name, d.model.empty() ? "-" : d.model, human_bytes(d.size_bytes),
             d.rotational ? "hdd" : "ssd", d.transport.empty() ? "-" : d.transport,
             d.pci.address.empty() ? "-" : d.pci.address, numa_text(d.pci.numa_node)});
    }
    t.print();
  }
  if (!inv.nvme.empty()) {
    std::printf("\nNVMe controllers\n");
    Table t({"NAME", "MODEL", "SIZE", "PCI", "NUMA", "FIRMWARE"});
    for (const auto& d : inv.nvme) {
      t.add({d.name, d.model, human_bytes(d.size_bytes), d.pci.address, numa_text(d.pci.numa_node),
             d.firmware});
    }
    t.print();
  }
}

void print_summary(const hw::Inventory& inv) {
  print_host(inv);
  print_numa(inv);
  print_accelerators(inv);
  print_nics(inv);
  print_storage(inv);
}

void print_topology(const hw::Topology& t) {
  if (t.devices.empty()) {
    std::printf("no accelerators or NICs to relate\n");
    return;
  }
  std::vector<std::string> header = {""};
  for (const auto& d : t.devices) header.push_back(d.name);
  header.push_back("CPU AFFINITY");
  header.push_back("NUMA");
  Table table(header);
  for (std::size_t i = 0; i < t.devices.size(); ++i) {
    std::vector<std::string> row = {t.devices[i].name};
    for (const auto& cell : t.matrix[i]) row.push_back(cell);
    row.push_back(t.devices[i].cpu_affinity.empty() ? "-" : t.devices[i].cpu_affinity);
    row.push_back(
        numa_text(t.devices[i].numa_node) +
        (t.devices[i].memory_node >= 0 ? " mem " + std::to_string(t.devices[i].memory_node) : ""));
    table.add(row);
  }
  table.print();
  std::printf("\n");
  Table devices;  // no header: what each name of the matrix stands for
  for (const auto& d : t.devices) devices.add({d.name, d.pci_address, d.detail});
  devices.print();
  std::printf(
      "\nLegend:\n"
      "  X     self\n"
      "  NV#   connected by # NVLink links (directly or through NVSwitch)\n"
      "  XGMI  connected by AMD Infinity Fabric (XGMI)\n"
      "  PIX   at most one PCIe switch between them\n"
      "  PXB   several PCIe switches, not through a host bridge\n"
      "  PHB   through a PCIe host bridge (same root complex, usually the same CPU)\n"
      "  NODE  through the interconnect between host bridges within one NUMA node\n"
      "  SYS   through the SMP interconnect between NUMA nodes (QPI/UPI/Infinity Fabric)\n");
}

}  // namespace

void add_hw_commands(Command& app, Context& ctx) {
  Command hw = app.add(
      "hw",
      "The machine's CPUs, NUMA nodes, memory, accelerators, NICs and NVMe (no daemon needed)");
  hw.action([&ctx, hw] {
    if (hw.ran_subcommand()) return;
    auto inv = discover_machine(ctx);
    if (!inv) return;
    if (ctx.json) {
      std::printf("%s\n", hw::to_json(*inv).c_str());
    } else {
      print_summary(*inv);
    }
  });

  Command topo = hw.add(
      "topo", "Device topology matrix (like nvidia-smi topo -m) with CPU affinity and NUMA node");
  topo.action([&ctx] {
    auto inv = discover_machine(ctx);
    if (!inv) return;
    hw::Topology t = hw::build_topology(*inv);
    if (ctx.json) {
      std::printf("%s\n", hw::to_json(t).c_str());
    } else {
      print_topology(t);
    }
  });

  auto snapshot_file = std::make_shared<std::string>();
  Command diff = hw.add(
      "diff", "What changed since the daemon's stored hardware snapshot (or since --from FILE)");
  diff.option("--from", *snapshot_file,
              "Compare with this `aion hw --json` output instead of the daemon's snapshot");
  diff.action([&ctx, snapshot_file] {
    std::string before_text;
    if (!snapshot_file->empty()) {
      std::ifstream in(*snapshot_file);
      if (!in) {
        report(ctx, Error(ErrorCode::kNotFound, "cannot read " + *snapshot_file));
        return;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      before_text = ss.str();
    } else {
      auto client = connect_daemon(ctx);
      if (!client) return;
      auto body = call(ctx, *client, "GET", "/v1/hw/snapshot");
      if (!body) return;
      Json j = Json::parse(*body, nullptr, false);
      if (!j.is_object() || !j.contains("inventory")) {
        report(ctx, Error(ErrorCode::kParse, "the daemon sent an unreadable snapshot"));
        return;
      }
      before_text = j["inventory"].dump();
    }
    auto before = hw::inventory_from_json(before_text);
    if (!before) {
      report(ctx, before.error());
      return;
    }
    auto now = discover_machine(ctx);
    if (!now) return;
    auto changes = hw::diff(*before, *now);
    if (ctx.json) {
      Json out = Json::array();
      for (const auto& c : changes)
        out.push_back({{"severity", c.severity}, {"device", c.device}, {"message", c.message}});
      std::printf("%s\n", Json{{"changes", out}}.dump(2).c_str());
    } else if (changes.empty()) {
      std::printf("no hardware changes since the snapshot\n");
    } else {
      Table t;  // no header: the changes read as a report
      for (const auto& c : changes) t.add({c.severity, c.device, c.message});
      t.print();
    }
  });
}

}  // namespace aion::cli
