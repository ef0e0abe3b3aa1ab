// A stand-in for MetaX's libmxsml.so that exports the native MXSML functions aion calls, with
// the signatures (devices by integer id; the count returned, not written) and structure
// layouts of MetaX's bindings, answering from a JSON description named by AION_FAKE_MXSML.
// Loaded by aion through the same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver": "2.33.0", "gpus": [{"bdf": "0000:41:00.0", "name": "C500",
//   "uuid": "...", "vram_kib": 67108864, "state": 1}]}
#include <cstdint>
#include <cstring>
#include <string>

#include "fake_library.h"

namespace {

using aion::fake::Json;
constexpr unsigned kSuccess = 0, kFailure = 1, kInvalidDeviceId = 6, kInvalidInput = 9,
                   kInsufficientSize = 10;

Json g_doc;
bool g_init = false;

const Json* gpu(unsigned id) {
  if (!g_init || id >= g_doc["gpus"].size()) return nullptr;
  return &g_doc["gpus"][id];
}

}  // namespace

extern "C" {

struct mxSmlDeviceInfo_t {
  std::uint32_t deviceId, type;
  char bdfId[32];
  std::uint32_t gpuId, nodeId;
  char uuid[96];
  std::uint32_t brand, mode;
  char deviceName[32];
};
struct mxSmlMemoryInfo_t {
  long visVramTotal, visVramUse, vramTotal, vramUse, xttTotal, xttUse;
};

unsigned mxSmlInit() {
  g_doc = aion::fake::load_description("AION_FAKE_MXSML");
  if (!g_doc.is_object()) return kFailure;
  if (!g_doc.contains("gpus")) g_doc["gpus"] = Json::array();
  unsigned err = g_doc.value("init_error", 0u);
  g_init = err == 0;
  return err;
}

unsigned mxSmlGetDeviceCount() {
  return g_init ? static_cast<unsigned>(g_doc["gpus"].size()) : 0;
}

unsigned mxSmlGetDeviceInfo(unsigned id, mxSmlDeviceInfo_t* info) {
  const Json* g = gpu(id);
  if (!g) return kInvalidDeviceId;
  if (!info) return kInvalidInput;
  std::memset(info, 0, sizeof(*info));
  info->deviceId = id;
  aion::fake::put_text(info->bdfId, sizeof info->bdfId, g->value("bdf", ""));
  aion::fake::put_text(info->uuid, sizeof info->uuid, g->value("uuid", ""));
  aion::fake::put_text(info->deviceName, sizeof info->deviceName, g->value("name", ""));
  info->brand = 2;  // MXSML_Brand_C
  return kSuccess;
}

unsigned mxSmlGetMemoryInfo(unsigned id, mxSmlMemoryInfo_t* mem) {
  const Json* g = gpu(id);
  if (!g) return kInvalidDeviceId;
  if (!mem) return kInvalidInput;
  std::memset(mem, 0, sizeof(*mem));
  mem->vramTotal = g->value("vram_kib", 0L);
  mem->visVramTotal = mem->vramTotal;
  return kSuccess;
}

unsigned mxSmlGetDeviceVersion(unsigned id, unsigned unit, char* version, unsigned* size) {
  if (!gpu(id)) return kInvalidDeviceId;
  if (!version || !size || unit != 1) return kInvalidInput;  // 1: MXSML_Version_Driver
  const std::string v = g_doc.value("driver", "");
  if (!aion::fake::put_text(version, *size, v)) return kInsufficientSize;
  *size = static_cast<unsigned>(v.size() + 1);
  return kSuccess;
}

unsigned mxSmlGetDeviceState(unsigned id, int* state) {
  const Json* g = gpu(id);
  if (!g) return kInvalidDeviceId;
  if (!state) return kInvalidInput;
  *state = g->value("state", 1);
  return kSuccess;
}

}  // extern "C"
