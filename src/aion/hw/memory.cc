#include "aion/hw/memory.h"

#include <cstdlib>
#include <map>
#include <sstream>

namespace aion::hw {
namespace {

// "key value" lines (/proc/meminfo without the colon handling).
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

}  // namespace

MemoryInfo parse_meminfo(std::string_view text) {
  auto kv = key_values(std::string(text));
  MemoryInfo m;
  m.total_bytes = leading_number(kv["MemTotal"]) * 1024;
  m.available_bytes = leading_number(kv["MemAvailable"]) * 1024;
  return m;
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
}

}  // namespace aion::hw
