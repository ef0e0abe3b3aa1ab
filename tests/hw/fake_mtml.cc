// A stand-in for Moore Threads' libmtml.so that exports the MTML functions aion calls, with
// the signatures, opaque handles, buffer sizes and PCI structure of Moore Threads' bindings,
// and answers from a JSON description named by AION_FAKE_MTML. Loaded by aion through the
// same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver": "2.7.0", "gpus": [{"sbdf": "0000:1B:00.0", "index": 0,
//   "name": "MTT S4000", "uuid": "...", "memory": 51539607552, "gpu_path": "/dev/mtgpu.0",
//   "primary_path": "/dev/dri/card0", "render_path": "/dev/dri/renderD128"}]}
// Handles are pointers into the description; a buffer too small for its text is an error,
// as MTML answers (MTML_ERROR_INSUFFICIENT_SIZE).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;
constexpr int kOk = 0, kNotLoaded = 1, kInvalid = 3, kInsufficientSize = 5;

Json g_doc;
int g_library_token = 0;  // the address handed out as the library handle
int g_system_token = 0;

const Json* gpu_of(void* handle) {
  if (!g_doc.contains("gpus")) return nullptr;
  for (const auto& g : g_doc["gpus"]) {
    if (&g == handle) return &g;
  }
  return nullptr;
}

int put(const std::string& text, char* out, unsigned size) {
  if (!out || text.size() + 1 > size) return kInsufficientSize;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return kOk;
}

int text_of(void* device, const char* key, char* out, unsigned size) {
  const Json* g = gpu_of(device);
  if (!g) return kInvalid;
  if (!g->contains(key)) return 4;  // MTML_ERROR_NOT_SUPPORTED
  return put((*g)[key].get<std::string>(), out, size);
}

}  // namespace

extern "C" {

struct MtmlPciInfo {
  char sbdf[32];
  unsigned segment, bus, device, pciDeviceId, busWidth;
  float pciMaxSpeed, pciCurSpeed;
  unsigned pciMaxWidth, pciCurWidth, pciMaxGen, pciCurGen;
  char busId[32];
  unsigned rsvd[6];
};

int mtmlLibraryInit(void** lib) {
  const char* path = std::getenv("AION_FAKE_MTML");
  if (!path || !lib) return kNotLoaded;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  g_doc = Json::parse(ss.str(), nullptr, false);
  if (!g_doc.is_object()) return kNotLoaded;
  if (int err = g_doc.value("init_error", 0); err != 0) return err;
  *lib = &g_library_token;
  return kOk;
}

int mtmlLibraryShutDown(void* lib) {
  if (lib != &g_library_token) return kInvalid;
  g_doc = Json();
  return kOk;
}

int mtmlLibraryCountDevice(void* lib, unsigned* count) {
  if (lib != &g_library_token || !count) return kInvalid;
  *count = static_cast<unsigned>(g_doc.value("gpus", Json::array()).size());
  return kOk;
}

int mtmlLibraryInitDeviceByIndex(void* lib, unsigned index, void** device) {
  if (lib != &g_library_token || !device || !g_doc.contains("gpus")) return kInvalid;
  if (index >= g_doc["gpus"].size()) return kInvalid;
  *device = &g_doc["gpus"][index];
  return kOk;
}

int mtmlLibraryFreeDevice(void* device) {
  return gpu_of(device) ? kOk : kInvalid;
}

int mtmlDeviceGetIndex(void* device, unsigned* index) {
  const Json* g = gpu_of(device);
  if (!g || !index) return kInvalid;
  *index = g->value("index", 0u);
  return kOk;
}

int mtmlDeviceGetName(void* d, char* out, unsigned n) {
  return text_of(d, "name", out, n);
}
int mtmlDeviceGetUUID(void* d, char* out, unsigned n) {
  return text_of(d, "uuid", out, n);
}
int mtmlDeviceGetGpuPath(void* d, char* out, unsigned n) {
  return text_of(d, "gpu_path", out, n);
}
int mtmlDeviceGetPrimaryPath(void* d, char* out, unsigned n) {
  return text_of(d, "primary_path", out, n);
}
int mtmlDeviceGetRenderPath(void* d, char* out, unsigned n) {
  return text_of(d, "render_path", out, n);
}

int mtmlDeviceGetPciInfo(void* device, MtmlPciInfo* pci) {
  const Json* g = gpu_of(device);
  if (!g || !pci) return kInvalid;
  std::memset(pci, 0, sizeof(*pci));
  const std::string sbdf = g->value("sbdf", "");
  std::strncpy(pci->sbdf, sbdf.c_str(), sizeof(pci->sbdf) - 1);
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(sbdf.c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  pci->segment = d;
  pci->bus = b;
  pci->device = dev;
  pci->pciMaxGen = pci->pciCurGen = 5;
  pci->pciMaxWidth = pci->pciCurWidth = 16;
  return kOk;
}

int mtmlDeviceInitMemory(void* device, void** memory) {
  if (!gpu_of(device) || !memory) return kInvalid;
  *memory = device;  // the memory handle is the device's entry
  return kOk;
}

int mtmlMemoryGetTotal(void* memory, std::uint64_t* total) {
  const Json* g = gpu_of(memory);
  if (!g || !total) return kInvalid;
  *total = g->value("memory", std::uint64_t{0});
  return kOk;
}

int mtmlDeviceFreeMemory(void* memory) {
  return gpu_of(memory) ? kOk : kInvalid;
}

int mtmlLibraryInitSystem(void* lib, void** system) {
  if (lib != &g_library_token || !system) return kInvalid;
  *system = &g_system_token;
  return kOk;
}

int mtmlSystemGetDriverVersion(void* system, char* out, unsigned n) {
  if (system != &g_system_token) return kInvalid;
  return put(g_doc.value("driver", ""), out, n);
}

int mtmlLibraryFreeSystem(void* system) {
  return system == &g_system_token ? kOk : kInvalid;
}

}  // extern "C"
