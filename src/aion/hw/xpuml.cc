#include "aion/hw/xpuml.h"

#include <algorithm>
#include <cstdio>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The XPUML structures aion reads, with the layouts of Kunlunxin's xpuml.h (128 bytes each).
using XpDevice = void*;  // xpumlDevice_t: an opaque pointer
struct XpPciInfo {
  std::uint32_t domain, bus, device, function, pci_device_id, pci_subsystem_id;
  char bus_id[32];  // XPUML_DEVICE_PCI_BUS_ID_BUFFER_SIZE
  std::uint64_t reserved[9];
};
struct XpMemory {
  std::uint64_t page_size_global, total_global, free_global, used_global;  // bytes
  std::uint64_t page_size_l3, total_l3, free_l3, used_l3;
  std::uint64_t reserved[8];
};
struct XpAttributes {
  std::int32_t arch_id, board_id, model_id;
  std::uint32_t cluster_count, sdnn_count, dma_engine_count, decoder_count, encoder_count,
      img_proc_count, max_vf_count;
  std::uint64_t global_memory_mb, l3_memory_mb;
  std::uint64_t sn[2];
  std::uint64_t reserved[7];
};
static_assert(sizeof(XpPciInfo) == 128 && sizeof(XpMemory) == 128 && sizeof(XpAttributes) == 128,
              "XPUML structures are 128 bytes");
constexpr unsigned kXpNameSize = 96;    // XPUML_DEVICE_NAME_BUFFER_SIZE
constexpr unsigned kXpSerialSize = 17;  // XPUML_DEVICE_SERIAL_BUFFER_SIZE
constexpr unsigned kXpDriverSize = 80;  // XPUML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
constexpr int kXpStateError = 207;      // XPUML_DEVICE_STATE_ERROR

struct XpumlApi {
  int (*init)();
  int (*shutdown)();
  int (*count)(unsigned*);
  int (*handle)(unsigned, XpDevice*);
  int (*pci)(XpDevice, XpPciInfo*);
  int (*memory)(XpDevice, XpMemory*);
  int (*attributes)(XpDevice, XpAttributes*);
  int (*serial)(XpDevice, char*, unsigned);
  int (*state)(XpDevice, int*);
  int (*name)(XpDevice, char*, unsigned);
  int (*id)(XpDevice, int*);
  int (*driver)(char*, unsigned);
};

// The board names of xpumlDeviceModel_t, as Kunlunxin's device plugin prints them.
std::string xp_model_name(int model_id) {
  switch (model_id) {
    case 0: return "K200";
    case 1: return "K100";
    case 2: return "R200";
    case 3: return "R300";
    case 4: return "R200-8F";
    case 200: return "R200-PF";
    case 201:
    case 202:
    case 203: return "R200-VF";
    default: return {};
  }
}

XpumlXpu read_xpuml_xpu(const XpumlApi& api, unsigned i, XpDevice dev) {
  XpumlXpu x{.index = static_cast<int>(i)};
  XpPciInfo pci{};
  if (api.pci(dev, &pci) == 0)
    x.pci_address = pci_address_text(pci.domain, pci.bus, pci.device, pci.function);
  XpMemory mem{};
  if (api.memory && api.memory(dev, &mem) == 0) x.memory_bytes = mem.total_global;
  XpAttributes attr{};
  if (api.attributes && api.attributes(dev, &attr) == 0) {
    x.name = xp_model_name(attr.model_id);
    if (x.memory_bytes == 0) x.memory_bytes = attr.global_memory_mb << 20;
  }
  x.name = library_text([&](char* b, unsigned n) { return api.name ? api.name(dev, b, n) : -1; },
                        kXpNameSize, x.name);
  x.serial = library_text(
      [&](char* b, unsigned n) { return api.serial ? api.serial(dev, b, n) : -1; }, kXpSerialSize);
  int state = 0;
  if (api.state && api.state(dev, &state) == 0) x.healthy = state != kXpStateError;
  int id = -1;
  if (api.id && api.id(dev, &id) == 0 && id >= 0) x.id = id;
  return x;
}

}  // namespace

std::string xpuml_library_path() {
  return library_path_from("AION_XPUML_LIBRARY", "libxpuml.so");
}

Result<std::vector<XpumlXpu>> xpuml_query(const std::string& path) {
  std::vector<std::string> paths = {path};
  if (path == "libxpuml.so")
    paths.insert(paths.end(), {"libxpuml.so.1", "/usr/local/xpu/lib64/libxpuml.so.1"});
  auto lib = VendorLibrary::open("XPUML", paths);
  if (!lib) return std::unexpected(lib.error());
  XpumlApi api{};
  lib->bind(api.init, "xpumlInit");
  lib->bind(api.shutdown, "xpumlShutdown", false);
  lib->bind(api.count, "xpumlDeviceGetCount");
  lib->bind(api.handle, "xpumlDeviceGetHandleByIndex");
  lib->bind(api.pci, "xpumlDeviceGetPciInfo");
  lib->bind(api.memory, "xpumlDeviceGetMemoryInfo", false);
  lib->bind(api.attributes, "xpumlDeviceGetAttributes", false);
  lib->bind(api.serial, "xpumlDeviceGetSerial", false);
  lib->bind(api.state, "xpumlDeviceGetState", false);
  lib->bind(api.name, "xpumlDeviceGetName", false);
  lib->bind(api.id, "xpumlDeviceGetId", false);
  lib->bind(api.driver, "xpumlSystemGetDriverVersion", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(); rc != 0)
    return fail(ErrorCode::kUnavailable, "XPUML failed to initialise (" + std::to_string(rc) + ")");
  const LibraryShutdown shutdown{[&] {
    if (api.shutdown) api.shutdown();
  }};
  unsigned count = 0;
  if (int rc = api.count(&count); rc != 0)
    return fail(ErrorCode::kUnavailable,
                "XPUML could not count the XPUs (" + std::to_string(rc) + ")");
  const std::string driver = library_text(
      [&](char* b, unsigned n) { return api.driver ? api.driver(b, n) : -1; }, kXpDriverSize);
  std::vector<XpumlXpu> out;
  for (unsigned i = 0; i < std::min(count, kMaxLibraryDevices); ++i) {
    XpDevice dev = nullptr;
    if (api.handle(i, &dev) != 0) continue;
    out.push_back(read_xpuml_xpu(api, i, dev));
    out.back().driver_version = driver;
  }
  return out;
}

void read_kunlunxin_xpuml(Inventory& inv) {
  if (!has_accelerator(inv, "kunlunxin")) return;
  auto xpus = xpuml_query(xpuml_library_path());
  if (!xpus) return;
  std::vector<LibraryDevice> devices;
  for (const auto& x : *xpus) {
    const int node = x.id >= 0 ? x.id : x.index;
    devices.push_back({.pci_address = x.pci_address,
                       .model = x.name.empty() ? "" : "Kunlunxin " + x.name,
                       .memory_bytes = x.memory_bytes,
                       .uuid = x.serial,
                       .driver_version = x.driver_version,
                       .index = x.index,
                       .device_nodes = {"/dev/xpu" + std::to_string(node)},
                       .state = x.healthy ? "ok" : "error"});
  }
  fill_from_library(inv, "kunlunxin", "xpuml", devices);
}

}  // namespace aion::hw
