#include "aion/hw/ixml.h"

#include <algorithm>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The NVML structures IXML fills, with NVML's layouts.
using IxDevice = void*;  // nvmlDevice_t: an opaque pointer
struct IxPciInfo {
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];  // "00000000:41:00.0"
};
struct IxMemory {
  unsigned long long total, free, used;  // bytes
};
constexpr unsigned kIxNameSize = 96;    // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kIxUuidSize = 96;    // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr unsigned kIxDriverSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

struct IxmlApi {
  int (*init)();
  int (*shutdown)();
  int (*count)(unsigned*);
  int (*handle)(unsigned, IxDevice*);
  int (*pci)(IxDevice, IxPciInfo*);
  int (*name)(IxDevice, char*, unsigned);
  int (*uuid)(IxDevice, char*, unsigned);
  int (*memory)(IxDevice, IxMemory*);
  int (*minor)(IxDevice, unsigned*);
  int (*driver)(char*, unsigned);
  int (*health)(IxDevice, unsigned long long*);
};

IxmlGpu read_ixml_gpu(const IxmlApi& api, unsigned i, IxDevice dev) {
  IxmlGpu g{.index = static_cast<int>(i)};
  IxPciInfo pci{};
  if (api.pci(dev, &pci) == 0) g.pci_address = pci_address_text(pci.bus_id, sizeof pci.bus_id);
  g.name = library_text([&](char* b, unsigned n) { return api.name ? api.name(dev, b, n) : -1; },
                        kIxNameSize);
  g.uuid = library_text([&](char* b, unsigned n) { return api.uuid ? api.uuid(dev, b, n) : -1; },
                        kIxUuidSize);
  IxMemory mem{};
  if (api.memory && api.memory(dev, &mem) == 0) g.memory_bytes = mem.total;
  unsigned minor = 0;
  if (api.minor && api.minor(dev, &minor) == 0) g.minor = static_cast<int>(minor);
  unsigned long long health = 0;  // a bit per fault (SYSHUB, MC, over-temperature, ECC, ...)
  if (api.health && api.health(dev, &health) == 0) g.healthy = health == 0;
  return g;
}

}  // namespace

std::string ixml_library_path() {
  return library_path_from("AION_IXML_LIBRARY", "/usr/local/corex/lib64/libixml.so");
}

Result<std::vector<IxmlGpu>> ixml_query(const std::string& path) {
  std::vector<std::string> paths = {path};
  if (path == "/usr/local/corex/lib64/libixml.so")
    paths.insert(paths.end(), {"/usr/local/corex/lib/libixml.so", "libixml.so"});
  auto lib = VendorLibrary::open("IXML", paths);
  if (!lib) return std::unexpected(lib.error());
  IxmlApi api{};
  lib->bind(api.init, "nvmlInit_v2");
  lib->bind(api.shutdown, "nvmlShutdown", false);
  lib->bind(api.count, "nvmlDeviceGetCount_v2");
  lib->bind(api.handle, "nvmlDeviceGetHandleByIndex_v2");
  lib->bind(api.pci, "nvmlDeviceGetPciInfo_v3");
  lib->bind(api.name, "nvmlDeviceGetName", false);
  lib->bind(api.uuid, "nvmlDeviceGetUUID", false);
  lib->bind(api.memory, "nvmlDeviceGetMemoryInfo", false);
  lib->bind(api.minor, "nvmlDeviceGetMinorNumber", false);
  lib->bind(api.driver, "nvmlSystemGetDriverVersion", false);
  lib->bind(api.health, "ixmlDeviceGetHealth", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(); rc != 0)
    return fail(ErrorCode::kUnavailable, "IXML failed to initialise (" + std::to_string(rc) + ")");
  const LibraryShutdown shutdown{[&] {
    if (api.shutdown) api.shutdown();
  }};
  unsigned count = 0;
  if (int rc = api.count(&count); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "IXML could not count the GPUs (" + std::to_string(rc) + ")");
  const std::string driver = library_text(
      [&](char* b, unsigned n) { return api.driver ? api.driver(b, n) : -1; }, kIxDriverSize);
  std::vector<IxmlGpu> out;
  for (unsigned i = 0; i < std::min(count, kMaxLibraryDevices); ++i) {
    IxDevice dev = nullptr;
    if (api.handle(i, &dev) != 0) continue;
    out.push_back(read_ixml_gpu(api, i, dev));
    out.back().driver_version = driver;
  }
  return out;
}

void read_iluvatar_ixml(Inventory& inv) {
  if (!has_accelerator(inv, "iluvatar")) return;
  auto gpus = ixml_query(ixml_library_path());
  if (!gpus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& g : *gpus) {
    LibraryDevice d{.pci_address = g.pci_address,
                    .model = g.name,
                    .memory_bytes = g.memory_bytes,
                    .uuid = g.uuid,
                    .driver_version = g.driver_version,
                    .index = g.index,
                    .state = g.healthy ? "ok" : "error"};
    if (g.minor >= 0) d.device_nodes = {"/dev/iluvatar" + std::to_string(g.minor)};
    devices.push_back(std::move(d));
  }
  fill_from_library(inv, "iluvatar", "ixml", devices);
}

}  // namespace aion::hw
