#include "aion/hw/mxsml.h"

#include <algorithm>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The MXSML structures aion reads, with the layouts of MetaX's bindings.
struct MxDeviceInfo {
  std::uint32_t device_id, type;
  char bdf_id[32];
  std::uint32_t gpu_id, node_id;
  char uuid[96];
  std::uint32_t brand, mode;
  char device_name[32];
};
struct MxMemoryInfo {
  long vis_vram_total, vis_vram_use, vram_total, vram_use, xtt_total, xtt_use;  // KiB
};
static_assert(sizeof(MxDeviceInfo) == 184, "mxSmlDeviceInfo_t is 184 bytes");
static_assert(sizeof(MxMemoryInfo) == 48, "mxSmlMemoryInfo_t is 48 bytes");
constexpr unsigned kMxVersionDriver = 1;  // MXSML_Version_Driver
constexpr unsigned kMxVersionSize = 64;

struct MxsmlApi {
  unsigned (*init)();
  unsigned (*count)();
  unsigned (*info)(unsigned, MxDeviceInfo*);
  unsigned (*memory)(unsigned, MxMemoryInfo*);
  unsigned (*version)(unsigned, unsigned, char*, unsigned*);
  unsigned (*state)(unsigned, int*);
};

MxsmlGpu read_mxsml_gpu(const MxsmlApi& api, unsigned id, const MxDeviceInfo& info) {
  MxsmlGpu g{.id = static_cast<int>(id),
             .pci_address = pci_address_text(info.bdf_id, sizeof info.bdf_id),
             .name = fixed_text(info.device_name, sizeof info.device_name),
             .uuid = fixed_text(info.uuid, sizeof info.uuid)};
  MxMemoryInfo mem{};
  if (api.memory && api.memory(id, &mem) == 0 && mem.vram_total > 0)
    g.memory_bytes = static_cast<std::uint64_t>(mem.vram_total) * 1024;
  g.driver_version = library_text(
      [&](char* b, unsigned n) {
        unsigned size = n;
        return api.version ? static_cast<int>(api.version(id, kMxVersionDriver, b, &size)) : -1;
      },
      kMxVersionSize);
  int state = 1;
  if (api.state && api.state(id, &state) == 0) g.available = state != 0;
  return g;
}

}  // namespace

std::string mxsml_library_path() {
  return library_path_from("AION_MXSML_LIBRARY", "/opt/mxdriver/lib/libmxsml.so");
}

Result<std::vector<MxsmlGpu>> mxsml_query(const std::string& path) {
  std::vector<std::string> paths = {path};
  if (path == "/opt/mxdriver/lib/libmxsml.so")
    paths.insert(paths.end(),
                 {"/opt/maca/lib/libmxsml.so", "/opt/mxn100/lib/libmxsml.so", "libmxsml.so"});
  auto lib = VendorLibrary::open("MXSML", paths);
  if (!lib) return std::unexpected(lib.error());
  MxsmlApi api{};
  lib->bind(api.init, "mxSmlInit");
  lib->bind(api.count, "mxSmlGetDeviceCount");
  lib->bind(api.info, "mxSmlGetDeviceInfo");
  lib->bind(api.memory, "mxSmlGetMemoryInfo", false);
  lib->bind(api.version, "mxSmlGetDeviceVersion", false);
  lib->bind(api.state, "mxSmlGetDeviceState", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (unsigned rc = api.init(); rc != 0)
    return fail(ErrorCode::kUnavailable, "MXSML failed to initialise (" + std::to_string(rc) + ")");
  const unsigned count = api.count();  // MXSML returns the count itself
  std::vector<MxsmlGpu> out;
  for (unsigned id = 0; id < std::min(count, kMaxLibraryDevices); ++id) {
    MxDeviceInfo info{};
    if (api.info(id, &info) != 0) continue;
    out.push_back(read_mxsml_gpu(api, id, info));
  }
  return out;
}

void read_metax_mxsml(Inventory& inv) {
  if (!has_accelerator(inv, "metax")) return;
  auto gpus = mxsml_query(mxsml_library_path());
  if (!gpus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& g : *gpus) {
    devices.push_back({.pci_address = g.pci_address,
                       .model = g.name.empty() ? "" : "MetaX " + g.name,
                       .memory_bytes = g.memory_bytes,
                       .uuid = g.uuid,
                       .driver_version = g.driver_version,
                       .index = g.id,
                       .state = g.available ? "ok" : "error"});
  }
  fill_from_library(inv, "metax", "mxsml", devices);
}

}  // namespace aion::hw
