// A stand-in for Iluvatar's libixml.so: NVML's function names and structure layouts as IXML
// exports them, plus ixmlDeviceGetHealth, answering from a JSON description named by
// AION_FAKE_IXML. Loaded by aion through the same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver": "4.4.0", "gpus": [{"pci": "0000:41:00.0", "minor": 2,
//   "name": "Iluvatar BI-V150", "uuid": "GPU-...", "memory": 34359738368, "health": 0}]}
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "fake_library.h"

namespace {

using aion::fake::Json;
constexpr int kOk = 0, kUninitialized = 1, kInvalid = 2, kInsufficientSize = 7,
              kDriverNotLoaded = 9;

Json g_doc;
bool g_init = false;

const Json* gpu(void* handle) {
  if (!g_init) return nullptr;
  long i = aion::fake::position_of(handle, g_doc["gpus"].size());
  return i < 0 ? nullptr : &g_doc["gpus"][static_cast<std::size_t>(i)];
}

int put(char* out, unsigned size, const std::string& s) {
  return aion::fake::put_text(out, size, s) ? kOk : kInsufficientSize;
}

}  // namespace

extern "C" {

struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};
struct nvmlMemory_t {
  unsigned long long total, free, used;
};

int nvmlInit_v2() {
  g_doc = aion::fake::load_description("AION_FAKE_IXML");
  if (!g_doc.is_object()) return kDriverNotLoaded;
  if (!g_doc.contains("gpus")) g_doc["gpus"] = Json::array();
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

int nvmlShutdown() {
  g_init = false;
  return kOk;
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!g_init) return kUninitialized;
  if (!count) return kInvalid;
  *count = static_cast<unsigned>(g_doc["gpus"].size());
  return kOk;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** device) {
  if (!g_init) return kUninitialized;
  if (!device || i >= g_doc["gpus"].size()) return kInvalid;
  *device = aion::fake::handle_of(i);
  return kOk;
}

int nvmlDeviceGetPciInfo_v3(void* device, nvmlPciInfo_t* pci) {
  const Json* g = gpu(device);
  if (!g || !pci) return kInvalid;
  std::memset(pci, 0, sizeof(*pci));
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(g->value("pci", "").c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  pci->domain = d;
  pci->bus = b;
  pci->device = dev;
  std::snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", d, b, dev, f);
  std::snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", d, b, dev, f);
  return kOk;
}

int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  const Json* g = gpu(device);
  return g ? put(name, length, g->value("name", "")) : kInvalid;
}

int nvmlDeviceGetUUID(void* device, char* uuid, unsigned length) {
  const Json* g = gpu(device);
  return g ? put(uuid, length, g->value("uuid", "")) : kInvalid;
}

int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* mem) {
  const Json* g = gpu(device);
  if (!g || !mem) return kInvalid;
  mem->total = g->value("memory", 0ull);
  mem->free = mem->total;
  mem->used = 0;
  return kOk;
}

int nvmlDeviceGetMinorNumber(void* device, unsigned* minor) {
  const Json* g = gpu(device);
  if (!g || !minor) return kInvalid;
  *minor = g->value("minor", 0u);
  return kOk;
}

int nvmlSystemGetDriverVersion(char* version, unsigned length) {
  if (!g_init) return kUninitialized;
  return put(version, length, g_doc.value("driver", ""));
}

int ixmlDeviceGetHealth(void* device, unsigned long long* health) {
  const Json* g = gpu(device);
  if (!g || !health) return kInvalid;
  *health = g->value("health", 0ull);
  return kOk;
}

}  // extern "C"
