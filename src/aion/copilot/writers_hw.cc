// Answer writers for questions about the machine itself: accelerators, their links and
// locality, CPUs, NUMA, memory, NICs, storage, the kernel. All from the hardware and
// topology tools, so they work on a recorded machine as on the live one.
#include <map>
#include <set>

#include "aion/copilot/writers.h"

namespace aion::copilot {
namespace {

// The accelerators the question names (all when it names none); says so when one it names
// does not exist.
std::vector<const Json*> asked_accelerators(Draft& d, const Json& hw) {
  auto all = accelerators(hw);
  if (d.q.gpus.empty()) return all;
  std::vector<const Json*> out;
  for (int i : d.q.gpus) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const Json* a) { return num(*a, "index", -1) == i; });
    if (it == all.end()) {
      d.cannot("this machine has no GPU " + std::to_string(i) + " (it has " +
               std::to_string(all.size()) + " accelerators, numbered from 0)");
      return {};
    }
    out.push_back(*it);
  }
  return out;
}

// "8 x NVIDIA A100-SXM4-80GB" per model, in order of first appearance.
std::vector<std::string> model_groups(const std::vector<const Json*>& accs) {
  std::vector<std::string> order;
  std::map<std::string, int> count;
  for (const Json* a : accs) {
    const std::string m =
        str(*a, "model").empty() ? str(*a, "vendor_name") + " device" : str(*a, "model");
    if (count[m]++ == 0) order.push_back(m);
  }
  std::vector<std::string> out;
  for (const auto& m : order) out.push_back(std::to_string(count[m]) + " x " + m);
  return out;
}

void gpu_count(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = accelerators(*hw);
  if (accs.empty()) {
    d.say("This machine has no accelerators (no GPU, NPU or other accelerator on its PCI bus).");
    return;
  }
  std::map<std::string, int> kinds;
  for (const Json* a : accs) ++kinds[str(*a, "kind")];
  std::vector<std::string> parts;
  for (const auto& [k, n] : kinds)
    parts.push_back(std::to_string(n) + " " + k + (n == 1 ? "" : "s"));
  d.say("This machine has " + join_list(parts) + ": " + join_list(model_groups(accs)) + ".");
}

void gpu_models(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  if (accs.empty()) {
    d.say("This machine has no accelerators.");
    return;
  }
  d.say("Accelerators: " + join_list(model_groups(accs)) + ".");
  for (const Json* a : accs) {
    d.say("  " + gpu_name(*a) + "  " + str(*a, "model") + "  " + str(a->at("pci"), "address") +
          "  " + human_bytes(static_cast<double>(num(*a, "memory_bytes"))) + "  " +
          str(*a, "vendor_name"));
  }
}

void gpu_memory(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  double total = 0;
  for (const Json* a : accs) {
    total += static_cast<double>(num(*a, "memory_bytes"));
    d.say(gpu_name(*a) + " (" + str(*a, "model") + "): " +
          (num(*a, "memory_bytes") > 0 ? human_bytes(static_cast<double>(num(*a, "memory_bytes")))
                                       : std::string("memory not reported")));
  }
  if (accs.size() > 1) d.say("In all: " + human_bytes(total) + " of accelerator memory.");
}

// The topology's matrix entry between two devices named like "GPU0".
std::string link_between(const Json& topo, const std::string& a, const std::string& b) {
  const auto& devs = topo.at("devices");
  int ia = -1, ib = -1;
  for (std::size_t i = 0; i < devs.size(); ++i) {
    if (str(devs[i], "name") == a) ia = static_cast<int>(i);
    if (str(devs[i], "name") == b) ib = static_cast<int>(i);
  }
  if (ia < 0 || ib < 0) return "";
  return topo.at("matrix")[ia][ib].get<std::string>();
}

std::string explain_link(const std::string& l) {
  if (l.rfind("NV", 0) == 0) return l + ": NVLink, " + l.substr(2) + " links (direct GPU-to-GPU)";
  if (l == "PIX") return "PIX: one PCIe switch between them";
  if (l == "PXB") return "PXB: several PCIe switches, no host bridge";
  if (l == "PHB") return "PHB: through a PCIe host bridge (the CPU)";
  if (l == "NODE") return "NODE: across host bridges within one NUMA node";
  if (l == "SYS") return "SYS: across NUMA nodes (the SMP interconnect)";
  if (l.rfind("XGMI", 0) == 0) return l + ": AMD Infinity Fabric (xGMI)";
  return l;
}

void gpu_link(Draft& d) {
  if (d.q.gpus.size() < 2) {
    d.cannot("name two GPUs, for example \"how are GPU 0 and GPU 3 connected?\"");
    return;
  }
  const Json* topo = d.use("topology");
  if (!topo) return;
  const std::string a = "GPU" + std::to_string(d.q.gpus[0]),
                    b = "GPU" + std::to_string(d.q.gpus[1]);
  const std::string l = link_between(*topo, a, b);
  if (l.empty()) {
    d.cannot("the topology has no " + a + " and " + b);
    return;
  }
  d.say(a + " and " + b + " are connected by " + explain_link(l) + ".");
}

void nvlink(Draft& d) {
  if (d.q.gpus.size() >= 2) return gpu_link(d);
  const Json* topo = d.use("topology");
  if (!topo) return;
  std::map<std::string, std::vector<std::string>> peers;
  std::set<std::string> linked;
  for (const DirectLink& l : direct_links(*topo)) {
    peers[l.level].push_back(l.a + "-" + l.b);
    linked.insert(l.a);
    linked.insert(l.b);
  }
  if (linked.empty()) {
    d.say("No GPUs on this machine are linked by NVLink or xGMI; they talk over PCIe.");
    return;
  }
  d.say(std::to_string(linked.size()) +
        " GPUs are linked by NVLink/xGMI: " + join_list({linked.begin(), linked.end()}) + ".");
  for (const auto& [l, pairs] : peers)
    d.say("  " + explain_link(l) + ": " + std::to_string(pairs.size()) + " pairs" +
          (pairs.size() <= 6 ? " (" + join_list(pairs) + ")" : ""));
}

const std::map<std::string, int>& level_rank() {
  static const std::map<std::string, int> r = {
      {"PIX", 0}, {"PXB", 1}, {"PHB", 2}, {"NODE", 3}, {"SYS", 4}};
  return r;
}

void nic_for_gpu(Draft& d) {
  const Json* topo = d.use("topology");
  if (!topo) return;
  const auto& devs = topo->at("devices");
  std::vector<int> gpus = d.q.gpus;
  if (gpus.empty())
    for (const auto& dev : devs)
      if (str(dev, "name").rfind("GPU", 0) == 0)
        gpus.push_back(std::stoi(str(dev, "name").substr(3)));
  for (int g : gpus) {
    const std::string gn = "GPU" + std::to_string(g);
    int best = 99;
    std::vector<std::string> nics;
    for (const auto& dev : devs) {
      if (str(dev, "name").rfind("NIC", 0) != 0) continue;
      const std::string l = link_between(*topo, gn, str(dev, "name"));
      auto r = level_rank().find(l);
      if (r == level_rank().end()) continue;
      if (r->second < best) nics.clear();
      if (r->second <= best) {
        best = r->second;
        nics.push_back(str(dev, "detail") + " (" + str(dev, "name") + ", " + l + ")");
      }
    }
    if (link_between(*topo, gn, gn).empty()) {
      d.cannot("this machine has no GPU " + std::to_string(g));
      return;
    }
    d.say(
        gn + ": " +
        (nics.empty() ? std::string("no NIC on this machine") : "closest NIC " + join_list(nics)));
  }
}

void gpu_numa(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  for (const Json* a : accs) {
    const long long node = num(a->at("pci"), "numa_node", -1);
    d.say(gpu_name(*a) + ": NUMA node " +
          (node < 0 ? std::string("not reported") : std::to_string(node)) + ", local CPUs " +
          (str(*a, "cpu_affinity").empty() ? "not reported" : str(*a, "cpu_affinity")));
  }
  d.suggest(
      "aion run --gpus N -- CMD   # aion places a job's CPUs and memory on its GPUs' NUMA node");
}

void mig(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  std::vector<std::string> on, off, none;
  for (const Json* a : accs) {
    const std::string m = str(*a, "partition_mode");
    (m.find("enabled") != std::string::npos ? on : m.empty() ? none : off).push_back(gpu_name(*a));
  }
  if (!on.empty()) d.say("MIG is enabled on " + join_list(on) + ".");
  if (!off.empty()) d.say("MIG is disabled on " + join_list(off) + ".");
  if (!none.empty())
    d.say(join_list(none) + (none.size() == 1 ? " does" : " do") +
          " not support MIG (or the driver does not say).");
  if (!off.empty())
    d.suggest(
        "sudo nvidia-smi -i <index> -mig 1   # enable MIG on a GPU (needs no running processes)");
}

void compute_capability(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  std::map<std::string, std::vector<std::string>> by;
  for (const Json* a : accs) {
    std::string cc = str(*a, "compute_capability");
    if (cc.empty()) cc = str(*a, "gfx_target").empty() ? "" : str(*a, "gfx_target");
    by[cc.empty() ? "not reported" : cc].push_back(gpu_name(*a));
  }
  for (const auto& [cc, names] : by)
    d.say(join_list(names) + ": " +
          (cc.find('.') != std::string::npos
               ? "compute capability " + cc + " (sm_" + cc.substr(0, cc.find('.')) +
                     cc.substr(cc.find('.') + 1) + ")"
               : cc));
}

void driver_version(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  std::map<std::string, std::set<std::string>> by;
  for (const Json* a : accelerators(*hw)) {
    const std::string v = str(*a, "driver_version");
    by[str(*a, "vendor_name")].insert(
        v.empty() ? "not reported (kernel driver " + str(a->at("pci"), "driver") + ")" : v);
  }
  if (by.empty()) d.say("This machine has no accelerators, so no accelerator driver.");
  for (const auto& [vendor, versions] : by)
    d.say(vendor + " driver: " + join_list({versions.begin(), versions.end()}) + ".");
  std::vector<std::string> fw;
  for (const auto& n : hw->value("nvme", Json::array()))
    fw.push_back(str(n, "name") + " firmware " + str(n, "firmware"));
  if (!fw.empty()) d.say("NVMe: " + join_list(fw) + ".");
  d.say("Kernel: " + str(*hw, "kernel") + ".");
}

void gpu_health(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  std::vector<std::string> ok, bad;
  for (const Json* a : accs) {
    const std::string s = str(*a, "state");
    if (s == "ok")
      ok.push_back(gpu_name(*a));
    else
      bad.push_back(gpu_name(*a) + " is " + (s == "lost" ? "lost (fell off the bus)" : s));
  }
  if (bad.empty())
    d.say("All " + std::to_string(ok.size()) + " accelerators report state ok.");
  else
    d.say(join_list(bad) + "; " + std::to_string(ok.size()) + " report ok.");
  for (const auto& w : hw->value("warnings", Json::array()))
    d.say("Warning: " + str(w, "device") + ": " + str(w, "message"));
  if (!bad.empty()) d.suggest("aion incidents   # what aiond diagnosed");
}

void pcie_link(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  auto accs = asked_accelerators(d, *hw);
  if (d.failed()) return;
  int degraded = 0;
  for (const Json* a : accs) {
    const Json& p = a->at("pci");
    if (str(p, "link_speed").empty()) {
      d.say(gpu_name(*a) + ": the PCIe link is not reported");
      continue;
    }
    const bool down = str(p, "link_speed") != str(p, "max_link_speed") ||
                      num(p, "link_width") < num(p, "max_link_width");
    degraded += down;
    d.say(gpu_name(*a) + ": " + str(p, "link_speed") + " x" + std::to_string(num(p, "link_width")) +
          " (max " + str(p, "max_link_speed") + " x" + std::to_string(num(p, "max_link_width")) +
          ")" + (down ? "  DEGRADED" : ""));
  }
  if (degraded)
    d.say(std::to_string(degraded) +
          " link(s) run below their maximum (idle GPUs may drop speed to save power; check under "
          "load).");
}

void numa_nodes(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  const auto& nodes = hw->at("numa_nodes");
  d.say("This machine has " + std::to_string(nodes.size()) + " NUMA node" +
        (nodes.size() == 1 ? "" : "s") + ":");
  for (const auto& n : nodes)
    d.say("  node " + std::to_string(num(n, "id")) + ": CPUs " +
          (str(n, "cpus").empty() ? "none" : str(n, "cpus")) + ", " +
          human_bytes(static_cast<double>(num(n, "memory_bytes"))) +
          (str(n, "kind").empty() ? "" : " (" + str(n, "kind") + ")"));
}

void cpu_info(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  const Json& c = hw->at("cpu");
  d.say("CPU: " + str(c, "model") + " (" + str(c, "architecture") + "), " +
        std::to_string(num(c, "sockets")) + " socket(s), " + std::to_string(num(c, "cores")) +
        " cores, " + std::to_string(num(c, "threads")) + " logical CPUs.");
  for (const auto& k : c.value("kinds", Json::array()))
    d.say("  " + str(k, "name") + " cores: CPUs " + str(k, "cpus"));
}

void memory_total(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  const Json& m = hw->at("memory");
  d.say("Memory: " + human_bytes(static_cast<double>(num(m, "total_bytes"))) + " in all, " +
        human_bytes(static_cast<double>(num(m, "available_bytes"))) + " available.");
}

void hugepages(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  for (const auto& h : hw->at("memory").value("hugepages", Json::array()))
    d.say("Hugepages of " + human_bytes(static_cast<double>(num(h, "page_size_kb")) * 1024) + ": " +
          std::to_string(num(h, "total")) + " reserved, " + std::to_string(num(h, "free")) +
          " free.");
  d.suggest("sudo sysctl -w vm.nr_hugepages=N   # reserve N hugepages of the default size");
  d.suggest("aion tune diff ai-training   # what the profile would change, hugepages included");
}

void nics(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  const auto& list = hw->at("nics");
  if (list.empty()) d.say("No network interfaces with a PCI device were found.");
  for (const auto& n : list) {
    const long long mbps = num(n, "speed_mbps", -1);
    d.say(str(n, "name") + ": " +
          (mbps > 0 ? std::to_string(mbps / 1000) + " Gb/s"
                    : std::string("link down or speed unknown")) +
          ", " + str(n, "state") +
          (n.value("rdma", false) ? ", RDMA " + str(n, "rdma_device") : "") + ", NUMA node " +
          std::to_string(num(n, "numa_node", -1)));
  }
}

void storage(Draft& d) {
  const Json* hw = d.use("hardware");
  if (!hw) return;
  const auto& disks = hw->at("disks");
  if (disks.empty()) d.say("No disks were found.");
  for (const auto& k : disks)
    d.say(str(k, "name") + ": " + str(k, "model") + ", " +
          human_bytes(static_cast<double>(num(k, "size_bytes"))) + ", " + str(k, "transport") +
          (k.value("rotational", false) ? ", rotational" : ""));
  for (const auto& n : hw->value("nvme", Json::array()))
    d.say(str(n, "name") + " firmware " + str(n, "firmware") + ", NUMA node " +
          std::to_string(num(n, "numa_node", -1)));
}

void kernel_version(Draft& d) {
  const Json* hw = d.use("hardware");
  if (hw) d.say("Kernel: " + str(*hw, "kernel") + ".");
}

void hostname(Draft& d) {
  const Json* hw = d.use("hardware");
  if (hw) d.say("This node is " + str(*hw, "hostname") + ".");
}

}  // namespace

const std::vector<WriterEntry>& hardware_writers() {
  static const std::vector<WriterEntry> w = {
      {"gpu_count", gpu_count},
      {"gpu_models", gpu_models},
      {"gpu_memory", gpu_memory},
      {"gpu_link", gpu_link},
      {"nvlink", nvlink},
      {"nic_for_gpu", nic_for_gpu},
      {"gpu_numa", gpu_numa},
      {"mig", mig},
      {"compute_capability", compute_capability},
      {"driver_version", driver_version},
      {"gpu_health", gpu_health},
      {"pcie_link", pcie_link},
      {"numa_nodes", numa_nodes},
      {"cpu_info", cpu_info},
      {"memory_total", memory_total},
      {"hugepages", hugepages},
      {"nics", nics},
      {"storage", storage},
      {"kernel_version", kernel_version},
      {"hostname", hostname},
  };
  return w;
}

}  // namespace aion::copilot
