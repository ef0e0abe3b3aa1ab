// A stand-in for Huawei's libdcmi.so that exports the DCMI functions aion calls, with the
// signatures and structure layouts of Huawei's DCMI API reference, and answers from a JSON
// description named by AION_FAKE_DCMI. Loaded by aion through the same dlopen path as the
// real library.
//
// JSON: {"init_error": 0, "cards": [{"card_id": 3, "chips": [
//   {"pci": "0000:03:00.0", "chip_type": "Ascend", "chip_name": "910B3", "chip_ver": "V1",
//    "aicore": 20, "hbm_mb": 65536, "health": 0, "logic_id": 0, "phy_id": 0}]}]}
// A chip without "hbm_mb" answers the HBM call with an error and reports "ddr_mb" through
// dcmi_get_device_memory_info_v3 instead.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;
constexpr int kOk = 0, kInvalid = -8001, kNotSupported = -8255, kNotInit = -8007;

Json g_doc;
bool g_init = false;

// The cards of the description (g_doc itself, not a copy: chip() hands out pointers into it).
const Json& cards() {
  static const Json none = Json::array();
  const Json& doc = g_doc;
  return doc.contains("cards") && doc["cards"].is_array() ? doc["cards"] : none;
}

const Json* chip(int card, int device) {
  if (!g_init) return nullptr;
  for (const auto& c : cards()) {
    if (c.value("card_id", -1) != card || !c.contains("chips")) continue;
    const Json& chips = c["chips"];
    if (device < 0 || device >= static_cast<int>(chips.size())) return nullptr;
    return &chips[static_cast<std::size_t>(device)];
  }
  return nullptr;
}

void put(unsigned char* out, const std::string& s) {
  std::memset(out, 0, 32);
  std::memcpy(out, s.data(), std::min<std::size_t>(s.size(), 31));
}

}  // namespace

extern "C" {

struct dcmi_chip_info {
  unsigned char chip_type[32];
  unsigned char chip_name[32];
  unsigned char chip_ver[32];
  unsigned int aicore_cnt;
};
struct dcmi_pcie_info_all {
  unsigned int venderid, subvenderid, deviceid, subdeviceid;
  int domain;
  unsigned int bdf_busid, bdf_deviceid, bdf_funcid;
  unsigned char reserve[32];
};
struct dcmi_hbm_info {
  unsigned long long memory_size;
  unsigned int freq;
  unsigned long long memory_usage;
  int temp;
  unsigned int bandwith_util_rate;
};
struct dcmi_get_memory_info_stru {
  unsigned long long memory_size;
  unsigned long long memory_available;
  unsigned int freq;
  unsigned long hugepagesize, hugepages_total, hugepages_free;
  unsigned int utiliza;
  unsigned char reserve[60];
};

int dcmi_init() {
  const char* path = std::getenv("AION_FAKE_DCMI");
  if (!path) return kNotInit;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  g_doc = Json::parse(ss.str(), nullptr, false);
  if (!g_doc.is_object()) return kNotInit;
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

int dcmi_get_card_num_list(int* card_num, int* card_list, int list_len) {
  if (!g_init) return kNotInit;
  if (!card_num || !card_list) return kInvalid;
  int n = 0;
  for (const auto& c : cards()) {
    if (n >= list_len) break;
    card_list[n++] = c.value("card_id", 0);
  }
  *card_num = n;
  return kOk;
}

int dcmi_get_device_num_in_card(int card_id, int* device_num) {
  if (!g_init) return kNotInit;
  for (const auto& c : cards()) {
    if (c.value("card_id", -1) != card_id) continue;
    *device_num = static_cast<int>(c.value("chips", Json::array()).size());
    return kOk;
  }
  return kInvalid;
}

int dcmi_get_device_chip_info(int card_id, int device_id, dcmi_chip_info* info) {
  const Json* c = chip(card_id, device_id);
  if (!c || !info) return kInvalid;
  put(info->chip_type, c->value("chip_type", ""));
  put(info->chip_name, c->value("chip_name", ""));
  put(info->chip_ver, c->value("chip_ver", ""));
  info->aicore_cnt = c->value("aicore", 0u);
  return kOk;
}

int dcmi_get_device_pcie_info_v2(int card_id, int device_id, dcmi_pcie_info_all* p) {
  const Json* c = chip(card_id, device_id);
  if (!c || !p) return kInvalid;
  std::memset(p, 0, sizeof(*p));
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(c->value("pci", "").c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  p->venderid = 0x19e5;
  p->domain = static_cast<int>(d);
  p->bdf_busid = b;
  p->bdf_deviceid = dev;
  p->bdf_funcid = f;
  return kOk;
}

int dcmi_get_device_hbm_info(int card_id, int device_id, dcmi_hbm_info* hbm) {
  const Json* c = chip(card_id, device_id);
  if (!c || !hbm) return kInvalid;
  if (!c->contains("hbm_mb")) return kNotSupported;
  std::memset(hbm, 0, sizeof(*hbm));
  hbm->memory_size = c->value("hbm_mb", 0ull);
  return kOk;
}

int dcmi_get_device_memory_info_v3(int card_id, int device_id, dcmi_get_memory_info_stru* m) {
  const Json* c = chip(card_id, device_id);
  if (!c || !m) return kInvalid;
  std::memset(m, 0, sizeof(*m));
  m->memory_size = c->value("ddr_mb", 0ull);
  return kOk;
}

int dcmi_get_device_health(int card_id, int device_id, unsigned int* health) {
  const Json* c = chip(card_id, device_id);
  if (!c || !health) return kInvalid;
  *health = c->value("health", 0u);
  return kOk;
}

int dcmi_get_device_logic_id(int* logic_id, int card_id, int device_id) {
  const Json* c = chip(card_id, device_id);
  if (!c || !logic_id) return kInvalid;
  *logic_id = c->value("logic_id", 0);
  return kOk;
}

int dcmi_get_device_phyid_from_logicid(unsigned int logic_id, unsigned int* phy_id) {
  if (!g_init || !phy_id) return kInvalid;
  for (const auto& c : cards()) {
    for (const auto& ch : c.value("chips", Json::array())) {
      if (ch.value("logic_id", -1) == static_cast<int>(logic_id)) {
        *phy_id = ch.value("phy_id", 0u);
        return kOk;
      }
    }
  }
  return kInvalid;
}

}  // extern "C"
