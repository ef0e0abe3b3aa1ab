// A stand-in for Enflame's libefml.so that exports the EFML functions aion calls, with the
// signatures and structure layouts of Enflame's efml.h, and answers from a JSON description
// named by AION_FAKE_EFML. Loaded by aion through the same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver": "1.2.3", "gcus": [{"pci": "0000:41:00.0", "logic_id": 0,
//   "name": "I20", "uuid": "...", "memory": 17179869184, "healthy": true}]}
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;
constexpr int kOk = 0, kUninitialized = 1, kInvalid = 2, kNotSupported = 3, kNoDriver = 6;

Json g_doc;
bool g_init = false;

const Json* gcu(std::uint32_t i) {
  if (!g_init || !g_doc.contains("gcus") || i >= g_doc["gcus"].size()) return nullptr;
  return &g_doc["gcus"][i];
}

void put(char* out, const std::string& s) {
  std::memset(out, 0, 128);
  std::memcpy(out, s.data(), std::min<std::size_t>(s.size(), 127));
}

}  // namespace

extern "C" {

struct efmlDeviceInfo_t {
  char name[128];
  std::uint32_t vendor_id, device_id, domain_id, bus_id, dev_id, func_id, logic_id;
};
struct efmlDevMemInfo_t {
  std::uint64_t mem_total_size;
  std::uint32_t mem_used;
};

int EfmlInit(bool no_driver) {
  const char* path = std::getenv("AION_FAKE_EFML");
  if (!path || no_driver) return kNoDriver;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  g_doc = Json::parse(ss.str(), nullptr, false);
  if (!g_doc.is_object()) return kNoDriver;
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

void EfmlShutdown() {
  g_init = false;
}

int EfmlGetDevCount(std::uint32_t* count) {
  if (!g_init) return kUninitialized;
  if (!count) return kInvalid;
  *count = static_cast<std::uint32_t>(g_doc.value("gcus", Json::array()).size());
  return kOk;
}

int EfmlGetDevInfo(std::uint32_t i, efmlDeviceInfo_t* info) {
  const Json* g = gcu(i);
  if (!g || !info) return kInvalid;
  std::memset(info, 0, sizeof(*info));
  put(info->name, g->value("name", ""));
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(g->value("pci", "").c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  info->vendor_id = 0x1e36;
  info->domain_id = d;
  info->bus_id = b;
  info->dev_id = dev;
  info->func_id = f;
  info->logic_id = g->value("logic_id", 0u);
  return kOk;
}

int EfmlGetDevMem(std::uint32_t i, efmlDevMemInfo_t* mem) {
  const Json* g = gcu(i);
  if (!g || !mem) return kInvalid;
  mem->mem_total_size = g->value("memory", std::uint64_t{0});
  mem->mem_used = 0;
  return kOk;
}

int EfmlGetDevUuid(std::uint32_t i, char* out) {
  const Json* g = gcu(i);
  if (!g || !out) return kInvalid;
  if (!g->contains("uuid")) return kNotSupported;
  put(out, (*g)["uuid"].get<std::string>());
  return kOk;
}

int EfmlGetDriverVer(char* out) {
  if (!g_init || !out) return kUninitialized;
  put(out, g_doc.value("driver", ""));
  return kOk;
}

int EfmlGetDevIsHealth(std::uint32_t i, bool* healthy) {
  const Json* g = gcu(i);
  if (!g || !healthy) return kInvalid;
  *healthy = g->value("healthy", true);
  return kOk;
}

}  // extern "C"
