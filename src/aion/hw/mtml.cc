#include "aion/hw/mtml.h"

#include <algorithm>
#include <cstdio>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// MTML's handles are opaque pointers; its buffers have the sizes its bindings give.
using MtLibrary = void*;
using MtDevice = void*;
using MtMemory = void*;
using MtSystem = void*;
constexpr unsigned kMtNameSize = 32;    // MTML_DEVICE_NAME_BUFFER_SIZE
constexpr unsigned kMtUuidSize = 48;    // MTML_DEVICE_UUID_BUFFER_SIZE
constexpr unsigned kMtPathSize = 64;    // MTML_DEVICE_PATH_BUFFER_SIZE
constexpr unsigned kMtDriverSize = 80;  // MTML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
constexpr unsigned kMtSbdfSize = 32;    // MTML_DEVICE_PCI_SBDF_BUFFER_SIZE
constexpr unsigned kMtBusIdSize = 32;   // MTML_DEVICE_PCI_BUS_ID_BUFFER_SIZE
struct MtPciInfo {
  char sbdf[kMtSbdfSize];
  unsigned segment, bus, device, pci_device_id, bus_width;
  float max_speed, cur_speed;
  unsigned max_width, cur_width, max_gen, cur_gen;
  char bus_id[kMtBusIdSize];
  unsigned reserved[6];
};

struct MtmlApi {
  int (*init)(MtLibrary*);
  int (*shutdown)(MtLibrary);
  int (*count)(MtLibrary, unsigned*);
  int (*device_by_index)(MtLibrary, unsigned, MtDevice*);
  int (*free_device)(MtDevice);
  int (*index)(MtDevice, unsigned*);
  int (*name)(MtDevice, char*, unsigned);
  int (*uuid)(MtDevice, char*, unsigned);
  int (*pci)(MtDevice, MtPciInfo*);
  int (*init_memory)(MtDevice, MtMemory*);
  int (*memory_total)(MtMemory, std::uint64_t*);
  int (*free_memory)(MtMemory);
  int (*init_system)(MtLibrary, MtSystem*);
  int (*driver_version)(MtSystem, char*, unsigned);
  int (*free_system)(MtSystem);
  int (*gpu_path)(MtDevice, char*, unsigned);
  int (*primary_path)(MtDevice, char*, unsigned);
  int (*render_path)(MtDevice, char*, unsigned);
};

// A string an MTML call wrote into `size` bytes; "" when the call is absent or fails.
template <typename Fn, typename Handle>
std::string mt_text(Fn fn, Handle h, unsigned size) {
  if (!fn) return {};
  return library_text([&](char* buf, unsigned n) { return fn(h, buf, n); }, size);
}

MtmlGpu read_mtml_gpu(const MtmlApi& api, unsigned i, MtDevice dev) {
  MtmlGpu g{.index = static_cast<int>(i)};
  unsigned index = i;
  if (api.index && api.index(dev, &index) == 0) g.index = static_cast<int>(index);
  g.name = mt_text(api.name, dev, kMtNameSize);
  g.uuid = mt_text(api.uuid, dev, kMtUuidSize);
  MtPciInfo pci{};
  if (api.pci(dev, &pci) == 0) g.pci_address = pci_address_text(pci.sbdf, sizeof pci.sbdf);
  MtMemory mem = nullptr;
  if (api.init_memory && api.memory_total && api.init_memory(dev, &mem) == 0) {
    std::uint64_t total = 0;
    if (api.memory_total(mem, &total) == 0) g.memory_bytes = total;
    if (api.free_memory) api.free_memory(mem);
  }
  for (auto fn : {api.gpu_path, api.primary_path, api.render_path}) {
    std::string path = mt_text(fn, dev, kMtPathSize);
    if (path.starts_with("/dev/")) g.device_nodes.push_back(std::move(path));
  }
  return g;
}

}  // namespace

std::string mtml_library_path() {
  return library_path_from("AION_MTML_LIBRARY", "libmtml.so");
}

Result<std::vector<MtmlGpu>> mtml_query(const std::string& path) {
  auto lib = VendorLibrary::open("MTML", {path});
  if (!lib) return std::unexpected(lib.error());
  MtmlApi api{};
  lib->bind(api.init, "mtmlLibraryInit");
  lib->bind(api.shutdown, "mtmlLibraryShutDown", false);
  lib->bind(api.count, "mtmlLibraryCountDevice");
  lib->bind(api.device_by_index, "mtmlLibraryInitDeviceByIndex");
  lib->bind(api.free_device, "mtmlLibraryFreeDevice", false);
  lib->bind(api.pci, "mtmlDeviceGetPciInfo");
  lib->bind(api.index, "mtmlDeviceGetIndex", false);
  lib->bind(api.name, "mtmlDeviceGetName", false);
  lib->bind(api.uuid, "mtmlDeviceGetUUID", false);
  lib->bind(api.init_memory, "mtmlDeviceInitMemory", false);
  lib->bind(api.memory_total, "mtmlMemoryGetTotal", false);
  lib->bind(api.free_memory, "mtmlDeviceFreeMemory", false);
  lib->bind(api.init_system, "mtmlLibraryInitSystem", false);
  lib->bind(api.driver_version, "mtmlSystemGetDriverVersion", false);
  lib->bind(api.free_system, "mtmlLibraryFreeSystem", false);
  lib->bind(api.gpu_path, "mtmlDeviceGetGpuPath", false);
  lib->bind(api.primary_path, "mtmlDeviceGetPrimaryPath", false);
  lib->bind(api.render_path, "mtmlDeviceGetRenderPath", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  MtLibrary handle = nullptr;
  if (int rc = api.init(&handle); rc != 0)
    return fail(ErrorCode::kUnavailable, "MTML failed to initialise (" + std::to_string(rc) + ")");
  const LibraryShutdown shutdown{[&] {
    if (api.shutdown) api.shutdown(handle);
  }};
  unsigned count = 0;
  if (int rc = api.count(handle, &count); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "MTML could not count the GPUs (" + std::to_string(rc) + ")");
  std::string driver;
  MtSystem system = nullptr;
  if (api.init_system && api.init_system(handle, &system) == 0) {
    driver = mt_text(api.driver_version, system, kMtDriverSize);
    if (api.free_system) api.free_system(system);
  }
  std::vector<MtmlGpu> out;
  for (unsigned i = 0; i < std::min(count, kMaxLibraryDevices); ++i) {
    MtDevice dev = nullptr;
    if (api.device_by_index(handle, i, &dev) != 0) continue;
    out.push_back(read_mtml_gpu(api, i, dev));
    out.back().driver_version = driver;
    if (api.free_device) api.free_device(dev);
  }
  return out;
}

void read_moore_threads_mtml(Inventory& inv) {
  if (!has_accelerator(inv, "moore-threads")) return;
  auto gpus = mtml_query(mtml_library_path());
  if (!gpus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& g : *gpus) {
    devices.push_back({.pci_address = g.pci_address,
                       .model = g.name,
                       .memory_bytes = g.memory_bytes,
                       .uuid = g.uuid,
                       .driver_version = g.driver_version,
                       .index = g.index,
                       .device_nodes = g.device_nodes});
  }
  fill_from_library(inv, "moore-threads", "mtml", devices);
}

}  // namespace aion::hw
