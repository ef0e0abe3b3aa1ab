#include "aion/hw/cndev.h"

#include <algorithm>
#include <cstdio>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The CNDev structures aion reads, with the layouts of Cambricon's cndev.h. Structures with
// a `version` member are told the API version the caller was written against.
constexpr std::int32_t kCndevApiVersion = 6;  // CNDEV_VERSION_6
constexpr int kCndevUuidSize = 37;            // CNDEV_UUID_SIZE; the bytes need not end with a NUL
struct CnCardInfo {
  std::int32_t version;
  std::uint32_t number;
};
struct CnPcieInfoV2 {
  std::uint32_t subsystem_id, device_id;
  std::uint16_t vendor, subsystem_vendor;
  std::uint32_t domain, bus, device, function;
  std::uint16_t module_id, slot_id;
  std::uint32_t reserved[8];
};
struct CnMemoryInfoV2 {
  std::int64_t physical_total_mb, physical_used_mb, reserved_mb, virtual_total_mb, virtual_used_mb;
  std::uint64_t global_mb;
  std::uint64_t reserved[16];
};
struct CnUuid {
  std::int32_t version;
  std::uint8_t uuid[kCndevUuidSize];
  std::uint64_t ncs_uuid64;
};
struct CnVersionInfo {
  std::int32_t version;
  std::uint32_t mcu_major, mcu_minor, mcu_build, driver_major, driver_minor, driver_build;
};
struct CnCoreCount {
  std::int32_t version;
  std::int32_t count;
};
struct CnHealthState {
  std::int32_t version;
  std::int32_t health;
  std::int32_t device_state;  // enum
  std::int32_t driver_state;  // enum
};

using CnHandle = std::int32_t;  // cndevDevice_t
struct CndevApi {
  int (*init)(std::int32_t);
  int (*release)();
  int (*device_count)(CnCardInfo*);
  int (*handle_by_index)(std::int32_t, CnHandle*);
  int (*pcie_info)(CnPcieInfoV2*, CnHandle);
  int (*memory)(CnMemoryInfoV2*, CnHandle);
  const char* (*name)(CnHandle);
  int (*uuid)(CnUuid*, CnHandle);
  int (*version)(CnVersionInfo*, CnHandle);
  int (*cores)(CnCoreCount*, CnHandle);
  int (*health)(CnHealthState*, CnHandle);
};

CndevDevice read_cndev_device(const CndevApi& api, int index, CnHandle h) {
  CndevDevice d{.index = index};
  CnPcieInfoV2 pci{};
  if (api.pcie_info(&pci, h) == 0)
    d.pci_address = pci_address_text(pci.domain, pci.bus, pci.device, pci.function);
  if (api.name) {
    if (const char* n = api.name(h); n != nullptr && *n != '\0' && std::string(n) != "Unknown")
      d.name = n;
  }
  CnMemoryInfoV2 mem{};
  if (api.memory && api.memory(&mem, h) == 0 && mem.physical_total_mb > 0)
    d.memory_bytes = static_cast<std::uint64_t>(mem.physical_total_mb) << 20;
  CnUuid uuid{.version = kCndevApiVersion};
  if (api.uuid && api.uuid(&uuid, h) == 0) {
    std::size_t n = 0;
    while (n < kCndevUuidSize && uuid.uuid[n] != 0) ++n;
    d.uuid.assign(reinterpret_cast<const char*>(uuid.uuid), n);
  }
  CnVersionInfo ver{.version = kCndevApiVersion};
  if (api.version && api.version(&ver, h) == 0 && (ver.driver_major | ver.driver_minor) != 0) {
    d.driver_version = std::to_string(ver.driver_major) + "." + std::to_string(ver.driver_minor) +
                       "." + std::to_string(ver.driver_build);
  }
  CnCoreCount cores{.version = kCndevApiVersion};
  if (api.cores && api.cores(&cores, h) == 0) d.cores = std::max(0, cores.count);
  CnHealthState health{.version = kCndevApiVersion};
  if (api.health && api.health(&health, h) == 0) d.healthy = health.health != 0;
  return d;
}

}  // namespace

std::string cndev_library_path() {
  return library_path_from("AION_CNDEV_LIBRARY", "libcndev.so");
}

Result<std::vector<CndevDevice>> cndev_query(const std::string& path) {
  auto lib = VendorLibrary::open("CNDev", {path});
  if (!lib) return std::unexpected(lib.error());
  CndevApi api{};
  lib->bind(api.init, "cndevInit");
  lib->bind(api.release, "cndevRelease", false);
  lib->bind(api.device_count, "cndevGetDeviceCount");
  lib->bind(api.handle_by_index, "cndevGetDeviceHandleByIndex");
  lib->bind(api.pcie_info, "cndevGetPCIeInfoV2");
  lib->bind(api.memory, "cndevGetMemoryUsageV2", false);
  lib->bind(api.name, "cndevGetCardNameStringByDevId", false);
  lib->bind(api.uuid, "cndevGetUUID", false);
  lib->bind(api.version, "cndevGetVersionInfo", false);
  lib->bind(api.cores, "cndevGetCoreCount", false);
  lib->bind(api.health, "cndevGetCardHealthState", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(0); rc != 0)
    return fail(ErrorCode::kUnavailable, "CNDev failed to initialise (" + std::to_string(rc) + ")");
  struct Releaser {
    const CndevApi& api;
    ~Releaser() {
      if (api.release) api.release();
    }
  } releaser{api};
  CnCardInfo count{.version = kCndevApiVersion, .number = 0};
  if (int rc = api.device_count(&count); rc != 0) {
    return fail(ErrorCode::kUnavailable,
                "CNDev could not count the MLUs (" + std::to_string(rc) + ")");
  }
  std::vector<CndevDevice> out;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(count.number, kMaxLibraryDevices); ++i) {
    CnHandle handle = 0;
    if (api.handle_by_index(static_cast<std::int32_t>(i), &handle) != 0) continue;
    out.push_back(read_cndev_device(api, static_cast<int>(i), handle));
  }
  return out;
}

void read_cambricon_cndev(Inventory& inv) {
  if (!has_accelerator(inv, "cambricon")) return;
  auto found = cndev_query(cndev_library_path());
  if (!found) return;
  std::vector<LibraryDevice> devices;
  for (const auto& d : *found) {
    devices.push_back({.pci_address = d.pci_address,
                       .model = d.name.empty() ? "" : "Cambricon " + d.name,
                       .cores = d.cores,
                       .memory_bytes = d.memory_bytes,
                       .uuid = d.uuid,
                       .driver_version = d.driver_version,
                       .index = d.index,
                       .device_nodes = {"/dev/cambricon_dev" + std::to_string(d.index)},
                       .state = d.healthy ? "ok" : "error"});
  }
  fill_from_library(inv, "cambricon", "cndev", devices);
}

}  // namespace aion::hw
