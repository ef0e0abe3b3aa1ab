#include "aion/hw/snapshot.h"

#include <cstdio>
#include <map>

namespace aion::hw {
namespace {

std::string gib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

template <class T, class Key>
std::map<std::string, const T*> by_key(const std::vector<T>& v, Key key) {
  std::map<std::string, const T*> out;
  for (const auto& x : v) out[key(x)] = &x;
  return out;
}

}  // namespace

namespace {

// Accelerators gone, new, changed in state, memory or partition mode; driver upgrades once
// per (vendor, from, to), since they touch every device of a vendor at once.
void diff_accelerators(const Inventory& before, const Inventory& after,
                       std::vector<HwChange>& out) {
  auto acc_key = [](const Accelerator& a) {
    return a.pci.address.empty() ? a.uuid : a.pci.address;
  };
  auto b_acc = by_key(before.accelerators, acc_key);
  auto a_acc = by_key(after.accelerators, acc_key);
  std::map<std::string, int> driver_changes;
  for (const auto& [key, old] : b_acc) {
    auto it = a_acc.find(key);
    std::string name = old->model + " at " + key;
    if (it == a_acc.end()) {
      out.push_back(
          {"critical", key,
           name + " is gone: it fell off the bus or was removed (check dmesg for Xid 79 / AER)"});
      continue;
    }
    const Accelerator& now = *it->second;
    if (old->driver_version != now.driver_version && !now.driver_version.empty()) {
      driver_changes[now.vendor + "\t" +
                     (old->driver_version.empty() ? "none" : old->driver_version) + "\t" +
                     now.driver_version]++;
    }
    if (old->state != now.state) {
      out.push_back({now.state == "ok" ? "info" : "critical", key,
                     name + " changed state: " + old->state + " -> " + now.state});
    }
    // A lost GPU reports nothing else; comparing its attributes would only add noise.
    if (old->state != "ok" || now.state != "ok") continue;
    if (old->memory_bytes != now.memory_bytes && now.memory_bytes != 0) {
      out.push_back(
          {"warning", key,
           name + " memory changed: " + gib(old->memory_bytes) + " -> " + gib(now.memory_bytes)});
    }
    if (old->partition_mode != now.partition_mode) {
      out.push_back(
          {"info", key,
           name + " partition mode changed: " + old->partition_mode + " -> " + now.partition_mode});
    }
  }
  for (const auto& [k, count] : driver_changes) {
    auto t1 = k.find('\t'), t2 = k.find('\t', t1 + 1);
    std::string vendor = k.substr(0, t1);
    out.push_back({"info", vendor + " driver",
                   vendor + " driver changed: " + k.substr(t1 + 1, t2 - t1 - 1) + " -> " +
                       k.substr(t2 + 1) + " (" + std::to_string(count) + " device" +
                       (count == 1 ? "" : "s") + ")"});
  }
  for (const auto& [key, now] : a_acc) {
    if (!b_acc.contains(key))
      out.push_back(
          {"info", key, "new accelerator: " + now->vendor + " " + now->model + " at " + key});
  }
}

// System memory (beyond 1%), online CPUs and NUMA nodes.
void diff_host(const Inventory& before, const Inventory& after, std::vector<HwChange>& out) {
  if (after.memory.total_bytes + (before.memory.total_bytes / 100) < before.memory.total_bytes) {
    out.push_back({"warning", "memory",
                   "system memory shrank: " + gib(before.memory.total_bytes) + " -> " +
                       gib(after.memory.total_bytes) + " (a DIMM offline? check EDAC and dmesg)"});
  } else if (after.memory.total_bytes >
             before.memory.total_bytes + before.memory.total_bytes / 100) {
    out.push_back({"info", "memory",
                   "system memory grew: " + gib(before.memory.total_bytes) + " -> " +
                       gib(after.memory.total_bytes)});
  }
  if (before.cpu.threads != after.cpu.threads) {
    out.push_back({"warning", "cpu",
                   "online CPUs changed: " + std::to_string(before.cpu.threads) + " -> " +
                       std::to_string(after.cpu.threads)});
  }
  if (before.numa_nodes.size() != after.numa_nodes.size()) {
    out.push_back({"warning", "numa",
                   "NUMA nodes changed: " + std::to_string(before.numa_nodes.size()) + " -> " +
                       std::to_string(after.numa_nodes.size())});
  }
}

// Network interfaces gone, new, or at another link speed.
void diff_nics(const Inventory& before, const Inventory& after, std::vector<HwChange>& out) {
  auto nic_key = [](const Nic& n) { return n.name; };
  auto b_nic = by_key(before.nics, nic_key);
  auto a_nic = by_key(after.nics, nic_key);
  for (const auto& [name, old] : b_nic) {
    auto it = a_nic.find(name);
    if (it == a_nic.end()) {
      out.push_back({"warning", name, "network interface " + name + " is gone"});
      continue;
    }
    const Nic& now = *it->second;
    if (old->speed_mbps > 0 && now.speed_mbps != old->speed_mbps) {
      std::string sev = now.speed_mbps < old->speed_mbps ? "warning" : "info";
      out.push_back({sev, name,
                     name + " link speed changed: " + std::to_string(old->speed_mbps) + " -> " +
                         std::to_string(now.speed_mbps) + " Mb/s"});
    }
  }
  for (const auto& [name, now] : a_nic) {
    if (!b_nic.contains(name)) out.push_back({"info", name, "new network interface " + name});
  }
}

// NVMe devices and disks gone or new.
void diff_storage(const Inventory& before, const Inventory& after, std::vector<HwChange>& out) {
  auto nvme_key = [](const NvmeDevice& d) { return d.serial.empty() ? d.name : d.serial; };
  auto b_nvme = by_key(before.nvme, nvme_key);
  auto a_nvme = by_key(after.nvme, nvme_key);
  for (const auto& [k, old] : b_nvme) {
    if (!a_nvme.contains(k))
      out.push_back({"warning", old->name, "NVMe " + old->name + " (" + old->model + ") is gone"});
  }
  for (const auto& [k, now] : a_nvme) {
    if (!b_nvme.contains(k))
      out.push_back({"info", now->name, "new NVMe " + now->name + " (" + now->model + ")"});
  }
  auto disk_key = [](const Disk& d) { return d.name; };
  auto b_disk = by_key(before.disks, disk_key);
  auto a_disk = by_key(after.disks, disk_key);
  for (const auto& [k, old] : b_disk) {
    if (!a_disk.contains(k))
      out.push_back({"warning", k, "disk " + k + " (" + gib(old->size_bytes) + ") is gone"});
  }
  for (const auto& [k, now] : a_disk) {
    if (!b_disk.contains(k))
      out.push_back({"info", k, "new disk " + k + " (" + gib(now->size_bytes) + ")"});
  }
}

}  // namespace

std::vector<HwChange> diff(const Inventory& before, const Inventory& after) {
  std::vector<HwChange> out;
  diff_accelerators(before, after, out);
  diff_host(before, after, out);
  diff_nics(before, after, out);
  diff_storage(before, after, out);
  return out;
}

}  // namespace aion::hw
