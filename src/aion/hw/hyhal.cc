#include "aion/hw/hyhal.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

constexpr int kRsmiMemVram = 0;      // RSMI_MEM_TYPE_VRAM
constexpr int kRsmiCompDriver = 0;   // RSMI_SW_COMP_DRIVER
constexpr unsigned kRsmiText = 256;  // what Hygon's own code passes
constexpr std::uint64_t kRsmiAllGpus = 0;

struct HygonSmiApi {
  int (*init)(std::uint64_t);
  int (*shutdown)();
  int (*count)(std::uint32_t*);
  int (*pci_id)(std::uint32_t, std::uint64_t*);
  int (*name)(std::uint32_t, char*, std::size_t);
  int (*unique_id)(std::uint32_t, std::uint64_t*);
  int (*memory_total)(std::uint32_t, int, std::uint64_t*);
  int (*version)(int, char*, std::uint32_t);
};

// ROCm SMI's BDF id: domain in bits 63:32, a partition number in 31:28 (masked off), bus in
// 15:8, device in 7:3, function in 2:0.
std::string hy_bdf(std::uint64_t id) {
  return pci_address_text(static_cast<unsigned>(id >> 32), (id >> 8) & 0xff, (id >> 3) & 0x1f,
                          id & 0x7);
}

HygonDcu read_hygon_dcu(const HygonSmiApi& api, std::uint32_t i) {
  HygonDcu d{.index = static_cast<int>(i)};
  std::uint64_t bdf = 0;
  if (api.pci_id(i, &bdf) == 0) d.pci_address = hy_bdf(bdf);
  d.name = library_text([&](char* b, unsigned n) { return api.name ? api.name(i, b, n) : -1; },
                        kRsmiText);
  std::uint64_t uid = 0;
  if (api.unique_id && api.unique_id(i, &uid) == 0 && uid != 0) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%016" PRIx64, uid);
    d.unique_id = text;
  }
  std::uint64_t total = 0;
  if (api.memory_total && api.memory_total(i, kRsmiMemVram, &total) == 0) d.memory_bytes = total;
  return d;
}

}  // namespace

std::string hygon_smi_library_path() {
  return library_path_from("AION_HYGON_SMI_LIBRARY", "/opt/hyhal/lib/librocm_smi64.so");
}

Result<std::vector<HygonDcu>> hygon_smi_query(const std::string& path) {
  auto lib = VendorLibrary::open("Hygon ROCm SMI", {path});
  if (!lib) return std::unexpected(lib.error());
  HygonSmiApi api{};
  lib->bind(api.init, "rsmi_init");
  lib->bind(api.shutdown, "rsmi_shut_down", false);
  lib->bind(api.count, "rsmi_num_monitor_devices");
  lib->bind(api.pci_id, "rsmi_dev_pci_id_get");
  lib->bind(api.name, "rsmi_dev_name_get", false);
  lib->bind(api.unique_id, "rsmi_dev_unique_id_get", false);
  lib->bind(api.memory_total, "rsmi_dev_memory_total_get", false);
  lib->bind(api.version, "rsmi_version_str_get", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(kRsmiAllGpus); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "Hygon's ROCm SMI failed to initialise (" + std::to_string(rc) + ")");
  const LibraryShutdown shutdown{[&] {
    if (api.shutdown) api.shutdown();
  }};
  std::uint32_t count = 0;
  if (int rc = api.count(&count); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "Hygon's ROCm SMI could not count the DCUs (" + std::to_string(rc) + ")");
  const std::string driver = library_text(
      [&](char* b, unsigned n) { return api.version ? api.version(kRsmiCompDriver, b, n) : -1; },
      kRsmiText);
  std::vector<HygonDcu> out;
  for (std::uint32_t i = 0; i < std::min(count, kMaxLibraryDevices); ++i) {
    out.push_back(read_hygon_dcu(api, i));
    out.back().driver_version = driver;
  }
  return out;
}

void read_hygon_smi(Inventory& inv) {
  if (!has_accelerator(inv, "hygon")) return;
  auto dcus = hygon_smi_query(hygon_smi_library_path());
  if (!dcus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& d : *dcus) {
    devices.push_back({.pci_address = d.pci_address,
                       .model = d.name,
                       .memory_bytes = d.memory_bytes,
                       .uuid = d.unique_id,
                       .driver_version = d.driver_version,
                       .index = d.index});
  }
  fill_from_library(inv, "hygon", "hyhal-smi", devices);
}

}  // namespace aion::hw
