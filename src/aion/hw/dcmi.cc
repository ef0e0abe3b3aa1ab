#include "aion/hw/dcmi.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "aion/hw/accelerators.h"
#include "aion/hw/vendor_library.h"

namespace aion::hw {
namespace {

// The DCMI structures aion reads, as Huawei's DCMI API reference defines them
// (dcmi_interface_api.h): fixed layouts, sizes stated there.
constexpr int kChipNameLen = 32;
struct DcmiChipInfo {
  unsigned char chip_type[kChipNameLen];
  unsigned char chip_name[kChipNameLen];
  unsigned char chip_ver[kChipNameLen];
  unsigned int aicore_cnt;
};
struct DcmiPcieInfoAll {
  unsigned int venderid;
  unsigned int subvenderid;
  unsigned int deviceid;
  unsigned int subdeviceid;
  int domain;
  unsigned int bdf_busid;
  unsigned int bdf_deviceid;
  unsigned int bdf_funcid;
  unsigned char reserve[32];
};
static_assert(sizeof(DcmiPcieInfoAll) == 64, "DCMI says dcmi_pcie_info_all is 64 bytes");
struct DcmiHbmInfo {
  unsigned long long memory_size;  // MB
  unsigned int freq;
  unsigned long long memory_usage;  // MB
  int temp;
  unsigned int bandwith_util_rate;
};
struct DcmiMemoryInfo {
  unsigned long long memory_size;  // MB
  unsigned long long memory_available;
  unsigned int freq;
  unsigned long hugepagesize;
  unsigned long hugepages_total;
  unsigned long hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

struct Api {
  int (*init)();
  int (*card_list)(int*, int*, int);
  int (*device_count)(int, int*);
  int (*chip_info)(int, int, DcmiChipInfo*);
  int (*pcie_info)(int, int, DcmiPcieInfoAll*);
  int (*hbm_info)(int, int, DcmiHbmInfo*);
  int (*memory_info)(int, int, DcmiMemoryInfo*);
  int (*health)(int, int, unsigned int*);
  int (*logic_id)(int*, int, int);
  int (*phy_id)(unsigned int, unsigned int*);
};

std::string text_of(const unsigned char* s, std::size_t cap) {
  std::size_t n = 0;
  while (n < cap && s[n] != 0) ++n;
  std::string out(reinterpret_cast<const char*>(s), n);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out;
}

DcmiChip read_chip(const Api& api, int card, int device) {
  DcmiChip c{.card_id = card, .device_id = device};
  DcmiPcieInfoAll pci{};
  if (api.pcie_info(card, device, &pci) == 0)
    c.pci_address = pci_address_text(static_cast<unsigned>(pci.domain), pci.bdf_busid,
                                     pci.bdf_deviceid, pci.bdf_funcid);
  DcmiChipInfo info{};
  if (api.chip_info(card, device, &info) == 0) {
    c.chip_type = text_of(info.chip_type, kChipNameLen);
    c.chip_name = text_of(info.chip_name, kChipNameLen);
    c.chip_version = text_of(info.chip_ver, kChipNameLen);
    c.aicore_count = static_cast<int>(info.aicore_cnt);
  }
  DcmiHbmInfo hbm{};
  DcmiMemoryInfo ddr{};
  if (api.hbm_info && api.hbm_info(card, device, &hbm) == 0 && hbm.memory_size > 0) {
    c.memory_bytes = static_cast<std::uint64_t>(hbm.memory_size) << 20;
  } else if (api.memory_info && api.memory_info(card, device, &ddr) == 0) {
    c.memory_bytes = static_cast<std::uint64_t>(ddr.memory_size) << 20;
  }
  unsigned int health = 0xffffffffu;
  if (api.health(card, device, &health) == 0) c.health = health;
  int logic = -1;
  if (api.logic_id && api.logic_id(&logic, card, device) == 0) c.logic_id = logic;
  unsigned int phy = 0;
  if (c.logic_id >= 0 && api.phy_id && api.phy_id(static_cast<unsigned>(c.logic_id), &phy) == 0)
    c.phy_id = static_cast<int>(phy);
  return c;
}

}  // namespace

std::string dcmi_library_path(const std::string& configured) {
  return library_path_from("AION_DCMI_LIBRARY", configured.empty() ? "libdcmi.so" : configured);
}

Result<std::vector<DcmiChip>> dcmi_query(const std::string& path) {
  std::vector<std::string> paths = {path};
  if (path == "libdcmi.so") paths.push_back("/usr/local/dcmi/libdcmi.so");
  auto lib = VendorLibrary::open("DCMI", paths);
  if (!lib) return std::unexpected(lib.error());
  Api api{};
  lib->bind(api.init, "dcmi_init");
  lib->bind(api.card_list, "dcmi_get_card_num_list");
  lib->bind(api.device_count, "dcmi_get_device_num_in_card");
  lib->bind(api.chip_info, "dcmi_get_device_chip_info");
  lib->bind(api.pcie_info, "dcmi_get_device_pcie_info_v2");
  lib->bind(api.health, "dcmi_get_device_health");
  lib->bind(api.hbm_info, "dcmi_get_device_hbm_info", false);
  lib->bind(api.memory_info, "dcmi_get_device_memory_info_v3", false);
  lib->bind(api.logic_id, "dcmi_get_device_logic_id", false);
  lib->bind(api.phy_id, "dcmi_get_device_phyid_from_logicid", false);
  if (auto st = lib->check_bound(); !st) return std::unexpected(st.error());
  if (int rc = api.init(); rc != 0)
    return fail(ErrorCode::kUnavailable, "DCMI failed to initialise (" + std::to_string(rc) + ")");
  constexpr int kMaxCards = 64;
  int cards[kMaxCards] = {};
  int count = 0;
  if (int rc = api.card_list(&count, cards, kMaxCards); rc != 0) {
    return fail(ErrorCode::kUnavailable,
                "DCMI could not list the NPU cards (" + std::to_string(rc) + ")");
  }
  std::vector<DcmiChip> out;
  for (int i = 0; i < std::clamp(count, 0, kMaxCards); ++i) {
    int devices = 0;
    if (api.device_count(cards[i], &devices) != 0) continue;
    for (int d = 0; d < std::clamp(devices, 0, 16); ++d) out.push_back(read_chip(api, cards[i], d));
  }
  return out;
}

std::string dcmi_health_state(std::uint32_t health) {
  return health <= 1 ? "ok" : "error";
}

void read_ascend_dcmi(Inventory& inv) {
  if (!has_accelerator(inv, "huawei")) return;
  auto chips = dcmi_query(dcmi_library_path());
  if (!chips) return;
  std::vector<LibraryDevice> devices;
  for (const auto& c : *chips) {
    LibraryDevice d{.pci_address = c.pci_address,
                    .cores = c.aicore_count,
                    .memory_bytes = c.memory_bytes,
                    .index = c.logic_id,
                    .state = dcmi_health_state(c.health)};
    if (!c.chip_name.empty())
      d.model = (c.chip_type.empty() ? "Ascend" : c.chip_type) + " " + c.chip_name;
    if (c.phy_id >= 0) d.device_nodes = {"/dev/davinci" + std::to_string(c.phy_id)};
    devices.push_back(std::move(d));
  }
  fill_from_library(inv, "huawei", "dcmi", devices);
}

}  // namespace aion::hw
