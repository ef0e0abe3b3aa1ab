#include "aion/pipeline/fast_storage.h"

#include <sys/statvfs.h>

#include <set>
#include <sstream>

namespace aion::pipeline {

std::optional<FastStorage> nvme_near_gpus(const hw::Inventory& inventory, const HostFs& host) {
  std::set<int> gpu_nodes;
  for (const auto& a : inventory.accelerators) {
    if (a.pci.numa_node >= 0) gpu_nodes.insert(a.pci.numa_node);
  }
  if (gpu_nodes.empty()) return std::nullopt;
  auto mounts = host.read("/proc/mounts");
  if (!mounts) return std::nullopt;
  std::optional<FastStorage> best;
  for (const auto& d : inventory.disks) {
    if (d.transport != "nvme" || !gpu_nodes.contains(d.pci.numa_node)) continue;
    std::istringstream lines(*mounts);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::string source, point, type, options;
      if (!(f >> source >> point >> type >> options)) continue;
      const std::string dev = "/dev/" + d.name;
      // The drive itself or one of its partitions ("nvme0n1p2").
      if (source != dev && !(source.starts_with(dev + "p") && source.size() > dev.size() + 1)) {
        continue;
      }
      if (options == "ro" || options.starts_with("ro,")) continue;
      FastStorage c{point, source, d.name, d.pci.numa_node, 0};
      if (host.is_live()) {
        struct statvfs st {};
        if (::statvfs(point.c_str(), &st) == 0) {
          c.free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
        }
      }
      if (!best || c.free_bytes > best->free_bytes) best = c;
    }
  }
  return best;
}

}  // namespace aion::pipeline
