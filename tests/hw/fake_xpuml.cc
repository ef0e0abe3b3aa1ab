// A stand-in for Kunlunxin's libxpuml.so that exports the XPUML functions aion calls, with the
// signatures, enums and 128-byte structure layouts of Kunlunxin's xpuml.h, and answers from a
// JSON description named by AION_FAKE_XPUML. Loaded by aion through the same dlopen path as
// the real library.
//
// JSON: {"init_error": 0, "driver": "5.0.21", "with_name": true, "xpus": [{"pci":
//   "0000:41:00.0", "id": 1, "model_id": 3, "name": "P800", "serial": "...", "memory":
//   103079215104, "state": 201}]}  ("with_name": false leaves out xpumlDeviceGetName's answer)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "fake_library.h"

namespace {

using aion::fake::Json;
constexpr int kOk = 0, kUninitialized = 1, kInvalid = 2, kNotSupported = 3, kInsufficientSize = 7,
              kNoDriver = 9;

Json g_doc;
bool g_init = false;

const Json* xpu(void* handle) {
  if (!g_init) return nullptr;
  long i = aion::fake::position_of(handle, g_doc["xpus"].size());
  return i < 0 ? nullptr : &g_doc["xpus"][static_cast<std::size_t>(i)];
}

int put(char* out, unsigned size, const std::string& s) {
  return aion::fake::put_text(out, size, s) ? kOk : kInsufficientSize;
}

}  // namespace

extern "C" {

struct xpumlPciInfo_t {
  std::uint32_t domain, bus, device, function, pciDeviceId, pciSubSystemId;
  char busId[32];
  std::uint64_t reserved[9];
};
struct xpumlMemory_t {
  std::uint64_t pageSizeGlobalMemory, totalGlobalMemory, freeGlobalMemory, usedGlobalMemory;
  std::uint64_t pageSizeL3Memory, totalL3Memory, freeL3Memory, usedL3Memory;
  std::uint64_t reserved[8];
};
struct xpumlDeviceAttributes_t {
  std::int32_t archId, boardId, modelId;
  std::uint32_t clusterCount, sdnnCount, dmaEngineCount, decoderCount, encoderCount, imgProcCount,
      maxVFCount;
  std::uint64_t globalMemorySizeMB, l3MemorySizeMB;
  std::uint64_t sn[2];
  std::uint64_t reserved[7];
};

int xpumlInit() {
  g_doc = aion::fake::load_description("AION_FAKE_XPUML");
  if (!g_doc.is_object()) return kNoDriver;
  if (!g_doc.contains("xpus")) g_doc["xpus"] = Json::array();
  int err = g_doc.value("init_error", 0);
  g_init = err == 0;
  return err;
}

int xpumlShutdown() {
  g_init = false;
  return kOk;
}

int xpumlDeviceGetCount(unsigned* count) {
  if (!g_init) return kUninitialized;
  if (!count) return kInvalid;
  *count = static_cast<unsigned>(g_doc["xpus"].size());
  return kOk;
}

int xpumlDeviceGetHandleByIndex(unsigned i, void** device) {
  if (!g_init) return kUninitialized;
  if (!device || i >= g_doc["xpus"].size()) return kInvalid;
  *device = aion::fake::handle_of(i);
  return kOk;
}

int xpumlDeviceGetPciInfo(void* device, xpumlPciInfo_t* pci) {
  const Json* x = xpu(device);
  if (!x || !pci) return kInvalid;
  std::memset(pci, 0, sizeof(*pci));
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(x->value("pci", "").c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  pci->domain = d;
  pci->bus = b;
  pci->device = dev;
  pci->function = f;
  pci->pciDeviceId = 0x36841d22;
  std::snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%01X", d, b, dev, f);
  return kOk;
}

int xpumlDeviceGetMemoryInfo(void* device, xpumlMemory_t* mem) {
  const Json* x = xpu(device);
  if (!x || !mem) return kInvalid;
  std::memset(mem, 0, sizeof(*mem));
  mem->totalGlobalMemory = x->value("memory", std::uint64_t{0});
  mem->freeGlobalMemory = mem->totalGlobalMemory;
  return kOk;
}

int xpumlDeviceGetAttributes(void* device, xpumlDeviceAttributes_t* attr) {
  const Json* x = xpu(device);
  if (!x || !attr) return kInvalid;
  std::memset(attr, 0, sizeof(*attr));
  attr->modelId = x->value("model_id", 9999);
  attr->globalMemorySizeMB = x->value("memory", std::uint64_t{0}) >> 20;
  return kOk;
}

int xpumlDeviceGetSerial(void* device, char* serial, unsigned length) {
  const Json* x = xpu(device);
  if (!x) return kInvalid;
  return put(serial, length, x->value("serial", ""));
}

int xpumlDeviceGetState(void* device, int* state) {
  const Json* x = xpu(device);
  if (!x || !state) return kInvalid;
  *state = x->value("state", 201);  // XPUML_DEVICE_STATE_RUNNING
  return kOk;
}

int xpumlDeviceGetName(void* device, char* name, unsigned length) {
  const Json* x = xpu(device);
  if (!x) return kInvalid;
  if (!g_doc.value("with_name", true)) return kNotSupported;
  return put(name, length, x->value("name", ""));
}

int xpumlDeviceGetId(void* device, int* id) {
  const Json* x = xpu(device);
  if (!x || !id) return kInvalid;
  *id = x->value("id", 0);
  return kOk;
}

int xpumlSystemGetDriverVersion(char* version, unsigned length) {
  if (!g_init) return kUninitialized;
  return put(version, length, g_doc.value("driver", ""));
}

}  // extern "C"
