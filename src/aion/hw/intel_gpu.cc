#include "aion/hw/intel_gpu.h"

#include <optional>
#include <string_view>

#include "aion/core/strings.h"

namespace aion::hw {
namespace {

// N of a "<prefix><N>" entry name, or nullopt.
std::optional<int> numbered(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  return parse_int<int>(name.substr(prefix.size()));
}

}  // namespace

std::optional<XeGpu> read_xe_gpu(const HostFs& fs, const std::string& pci_address) {
  const std::string dev = "/sys/bus/pci/devices/" + pci_address;
  auto entries = fs.list(dev);
  if (!entries) return std::nullopt;
  XeGpu gpu;
  for (const auto& entry : *entries) {
    if (!numbered(entry, "tile")) continue;
    const std::string tile = dev + "/" + entry;
    ++gpu.tiles;
    if (auto size = fs.read_int(tile + "/physical_vram_size_bytes"); size && *size > 0)
      gpu.memory_bytes += static_cast<std::uint64_t>(*size);
  }
  if (gpu.tiles == 0) return std::nullopt;
  return gpu;
}

void read_intel_gpus(const HostFs& fs, Inventory& inv) {
  for (auto& a : inv.accelerators) {
    if (a.vendor != "intel" || a.pci.driver != "xe") continue;
    auto gpu = read_xe_gpu(fs, a.pci.address);
    if (!gpu) continue;
    if (gpu->memory_bytes > 0) a.memory_bytes = gpu->memory_bytes;
    a.depth = "xe-sysfs";
  }
}

}  // namespace aion::hw
