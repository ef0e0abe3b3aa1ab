#include "aion/hw/efml.h"

#include <algorithm>
#include <cstdio>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The EFML structures aion reads, with the layouts of Enflame's efml.h; its text buffers are
// MAX_CHAR_BUFF_LEN (128) bytes.
constexpr std::size_t kEfText = 128;
struct EfDeviceInfo {
  char name[kEfText];
  std::uint32_t vendor_id, device_id, domain_id, bus_id, dev_id, func_id, logic_id;
};
struct EfMemInfo {
  std::uint64_t mem_total_size;  // bytes
  std::uint32_t mem_used;
};

struct EfmlApi {
  int (*init)(bool);
  void (*shutdown)();
  int (*count)(std::uint32_t*);
  int (*info)(std::uint32_t, EfDeviceInfo*);
  int (*memory)(std::uint32_t, EfMemInfo*);
  int (*uuid)(std::uint32_t, char*);
  int (*driver)(char*);
  int (*healthy)(std::uint32_t, bool*);
};

EfmlGcu read_efml_gcu(const EfmlApi& api, std::uint32_t i, const EfDeviceInfo& info) {
  EfmlGcu g{.logic_id = static_cast<int>(info.logic_id), .name = fixed_text(info.name, kEfText)};
  g.pci_address = pci_address_text(info.domain_id, info.bus_id, info.dev_id, info.func_id);
  EfMemInfo mem{};
  if (api.memory && api.memory(i, &mem) == 0) g.memory_bytes = mem.mem_total_size;
  char uuid[kEfText] = {};
  if (api.uuid && api.uuid(i, uuid) == 0) g.uuid = fixed_text(uuid, kEfText);
  bool healthy = true;
  if (api.healthy && api.healthy(i, &healthy) == 0) g.healthy = healthy;
  return g;
}

}  // namespace

std::string efml_library_path() {
  return library_path_from("AION_EFML_LIBRARY", "libefml.so");
}

Result<std::vector<EfmlGcu>> efml_query(const std::string& path) {
  std::vector<std::string> paths = {path};
  if (path == "libefml.so") paths.push_back("libefml.so.1");
  auto lib = VendorLibrary::open("EFML", paths);
  if (!lib) return std::unexpected(lib.error());
  EfmlApi api{};
  lib->bind(api.init, "EfmlInit");
  lib->bind(api.shutdown, "EfmlShutdown", false);
  lib->bind(api.count, "EfmlGetDevCount");
  lib->bind(api.info, "EfmlGetDevInfo");
  lib->bind(api.memory, "EfmlGetDevMem", false);
  lib->bind(api.uuid, "EfmlGetDevUuid", false);
  lib->bind(api.driver, "EfmlGetDriverVer", false);
  lib->bind(api.healthy, "EfmlGetDevIsHealth", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(false); rc != 0)
    return fail(ErrorCode::kUnavailable, "EFML failed to initialise (" + std::to_string(rc) + ")");
  const LibraryShutdown shutdown{[&] {
    if (api.shutdown) api.shutdown();
  }};
  std::uint32_t count = 0;
  if (int rc = api.count(&count); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "EFML could not count the GCUs (" + std::to_string(rc) + ")");
  std::string driver;
  char ver[kEfText] = {};
  if (api.driver && api.driver(ver) == 0) driver = fixed_text(ver, kEfText);
  std::vector<EfmlGcu> out;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(count, kMaxLibraryDevices); ++i) {
    EfDeviceInfo info{};
    if (api.info(i, &info) != 0) continue;
    out.push_back(read_efml_gcu(api, i, info));
    out.back().driver_version = driver;
  }
  return out;
}

void read_enflame_efml(Inventory& inv) {
  if (!has_accelerator(inv, "enflame")) return;
  auto gcus = efml_query(efml_library_path());
  if (!gcus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& g : *gcus) {
    devices.push_back({.pci_address = g.pci_address,
                       .model = g.name.empty() ? "" : "Enflame " + g.name,
                       .memory_bytes = g.memory_bytes,
                       .uuid = g.uuid,
                       .driver_version = g.driver_version,
                       .index = g.logic_id,
                       .device_nodes = {"/dev/gcu" + std::to_string(g.logic_id)},
                       .state = g.healthy ? "ok" : "error"});
  }
  fill_from_library(inv, "enflame", "efml", devices);
}

}  // namespace aion::hw
