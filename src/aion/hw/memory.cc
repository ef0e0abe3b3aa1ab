#include "aion/hw/memory.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "aion/core/cpu_list.h"
#include "aion/core/strings.h"

namespace aion::hw {
namespace {

std::uint64_t leading_number(const std::string& s) {
  return std::strtoull(s.c_str(), nullptr, 10);
}

}  // namespace

std::vector<MeminfoField> parse_meminfo_fields(std::string_view text) {
  std::vector<MeminfoField> out;
  for (const auto& line : split(text, '\n')) {
    auto words = split_words(line);
    // A node's file: "Node 0 MemTotal: 263842304 kB".
    if (words.size() >= 3 && words[0] == "Node" && parse_int(words[1])) {
      words.erase(words.begin(), words.begin() + 2);
    }
    if (words.size() < 2 || !words[0].ends_with(':')) continue;
    auto value = parse_int<std::uint64_t>(words[1]);
    if (!value) continue;
    words[0].pop_back();
    out.push_back({words[0], *value, words.size() >= 3 && words[2] == "kB"});
  }
  return out;
}

MemoryInfo parse_meminfo(std::string_view text) {
  MemoryInfo m;
  for (const auto& f : parse_meminfo_fields(text)) {
    if (f.key == "MemTotal") m.total_bytes = f.value * 1024;
    if (f.key == "MemAvailable") m.available_bytes = f.value * 1024;
  }
  return m;
}

std::optional<std::uint64_t> parse_node_memtotal(std::string_view text) {
  for (const auto& f : parse_meminfo_fields(text)) {
    if (f.key == "MemTotal") return f.value * 1024;
  }
  return std::nullopt;
}

std::vector<int> parse_distances(std::string_view text) {
  std::vector<int> out;
  std::istringstream in{std::string(text)};
  int v;
  while (in >> v) out.push_back(v);
  return out;
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
    MemoryInfo parsed = parse_meminfo(*m);
    inv.memory.total_bytes = parsed.total_bytes;
    inv.memory.available_bytes = parsed.available_bytes;
  } else {
    inv.warnings.push_back({"memory", m.error().message()});
  }
  inv.memory.hugepages = read_hugepages(fs, "/sys/kernel/mm/hugepages");
  for (auto& n : inv.numa_nodes) {
    std::string dir = "/sys/devices/system/node/node" + std::to_string(n.id);
    if (auto d = fs.read_attr(dir + "/distance")) {
      auto distances = parse_distances(*d);
      n.distances.insert(n.distances.end(), distances.begin(), distances.end());
    }
    n.hugepages = read_hugepages(fs, dir + "/hugepages");
  }
  // A memory-only node that no reader placed belongs with the nearest node with CPUs.
  for (auto& n : inv.numa_nodes) {
    if (!n.cpus.empty() || n.near_node >= 0) continue;
    int best = -1;
    for (std::size_t j = 0; j < inv.numa_nodes.size(); ++j) {
      const NumaNode& m = inv.numa_nodes[j];
      if (m.cpus.empty() || j >= n.distances.size()) continue;
      if (best < 0 || n.distances[j] < n.distances[static_cast<std::size_t>(best)])
        best = static_cast<int>(j);
    }
    if (best >= 0) n.near_node = inv.numa_nodes[static_cast<std::size_t>(best)].id;
  }
}

void attach_device_memory(Inventory& inv) {
  auto node_of = [&](int id) -> NumaNode* {
    for (auto& n : inv.numa_nodes)
      if (n.id == id) return &n;
    return nullptr;
  };
  for (auto& a : inv.accelerators) {
    NumaNode* mem = node_of(a.pci.numa_node);
    if (!mem || !mem->cpus.empty()) continue;
    mem->device = a.pci.address;
    if (mem->kind.empty()) mem->kind = a.kind == "gpu" ? "GPUMemory" : "DeviceMemory";
    // The node with CPUs that shares most CPUs with the device's locality; among equals the
    // one already chosen (by topology or distance), else the first.
    auto local = parse_cpu_list(a.pci.cpu_affinity);
    if (local && !local->empty()) {
      int best = -1;
      std::size_t best_shared = 0;
      for (const auto& n : inv.numa_nodes) {
        auto cpus = parse_cpu_list(n.cpus);
        if (!cpus || cpus->empty()) continue;
        std::size_t shared = 0;
        for (int c : *cpus) shared += std::binary_search(local->begin(), local->end(), c);
        if (shared > best_shared ||
            (shared == best_shared && shared > 0 && n.id == mem->near_node)) {
          best = n.id;
          best_shared = shared;
        }
      }
      if (best >= 0) mem->near_node = best;
    }
    a.memory_node = mem->id;
    a.pci.numa_node = mem->near_node;
  }
  // Once online, device memory counts in MemTotal and MemAvailable; the machine's memory is
  // what the CPUs' nodes hold. Left as read when the totals leave it out already.
  std::uint64_t device = 0, host = 0;
  for (const auto& n : inv.numa_nodes) (n.device.empty() ? host : device) += n.memory_bytes;
  if (device > 0 && inv.memory.total_bytes >= host + device / 2 + 1) {
    inv.memory.total_bytes = inv.memory.total_bytes > device ? inv.memory.total_bytes - device : 0;
    inv.memory.available_bytes =
        std::min(inv.memory.total_bytes,
                 inv.memory.available_bytes > device ? inv.memory.available_bytes - device : 0);
  }
}

}  // namespace aion::hw
