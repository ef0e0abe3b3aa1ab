// A stand-in for libnvidia-ml.so.1 that exports the NVML C functions aion calls, with
// NVIDIA's documented signatures and return codes, and answers from a JSON description
// named by AION_FAKE_NVML. Loaded by aion through the same dlopen path as the real library.
//
// JSON: {"init_error": 0, "driver_version": "...", "nvml_version": "...", "gpus": [
//   {"bus_id": "00000000:07:00.0", "name": "...", "uuid": "...", "memory_total": N,
//    "cc": [8, 0], "mig": 0|1|null, "lost": false,
//    "nvlinks": [{"active": true, "remote_type": "gpu"|"switch", "remote_bus_id": "..."}]}]}
// "processes": [{"pid": N, "used_memory": BYTES}] per GPU are read again from the file at every
// nvmlDeviceGetComputeRunningProcesses_v3 call, so a test can change them while aion runs.
// AION_FAKE_NVML_INIT_LOG, when set, names a file that gets one byte per nvmlInit_v2 call.
// A "lost" GPU answers NVML_ERROR_GPU_IS_LOST to everything but its PCI info, as a GPU
// that fell off the bus does. Built without FAKE_NVML_FULL_ABI it lacks
// nvmlDeviceGetPciInfo_v3, like a driver too old for aion.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Json = nlohmann::json;
constexpr int kSuccess = 0, kUninitialized = 1, kInvalidArgument = 2, kNotSupported = 3,
              kInsufficientSize = 7, kGpuIsLost = 15, kUnknown = 999;

struct PciInfo {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};
struct Memory {
  unsigned long long total, free, used;
};

Json g_doc;
std::atomic<bool> g_init{false};
std::mutex g_init_mu;  // guards g_refs and the writes of g_doc
int g_refs = 0;

const Json* gpu(void* handle) {
  auto i = reinterpret_cast<std::uintptr_t>(handle);
  if (!g_init || i == 0 || i > g_doc["gpus"].size()) return nullptr;
  return &g_doc["gpus"][i - 1];
}

int copy(const std::string& s, char* out, unsigned len) {
  if (s.size() + 1 > len) return kInsufficientSize;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return kSuccess;
}

void fill_pci(const std::string& bus_id, PciInfo* p) {
  std::memset(p, 0, sizeof(*p));
  std::snprintf(p->busId, sizeof(p->busId), "%s", bus_id.c_str());
  std::snprintf(p->busIdLegacy, sizeof(p->busIdLegacy), "%s", bus_id.substr(4).c_str());
  unsigned d = 0, b = 0, dev = 0, f = 0;
  std::sscanf(bus_id.c_str(), "%x:%x:%x.%x", &d, &b, &dev, &f);
  p->domain = d;
  p->bus = b;
  p->device = dev;
}

// The GPU's "telemetry" object, read again from the file at every call so that a test can
// change readings while aion runs: {"util": %, "mem_util": %, "temp": C, "power_mw",
// "power_limit_mw", "sm_mhz", "mem_mhz", "throttle", "ecc_corrected", "ecc_uncorrected",
// "pcie_replays", "memory_used": bytes, "persistence", "retired_pending", "remapped_rows",
// "nvlink_errors": [replay, recovery, crc_flit, crc_data] per active link, "xids": [codes]}.
// Without it the telemetry calls are not supported. Each entry of "xids" is delivered once, in
// order, as an Xid event through the event API.
// The description as the file says now, parsed again only when the file changed (its size or
// mtime, or it was written in the last second): telemetry calls come many times a second.
std::shared_ptr<const Json> file_now() {
  static std::mutex mu;
  static std::int64_t seen_mtime = -1;
  static std::int64_t seen_size = -1;
  static std::shared_ptr<const Json> cached = std::make_shared<const Json>(Json::object());
  const char* path = std::getenv("AION_FAKE_NVML");
  struct stat st {};
  if (!path || ::stat(path, &st) != 0) return std::make_shared<const Json>(Json::object());
  const std::int64_t mtime =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  // A file written within the last second may be written again within the same clock tick
  // with the same size: read it again rather than trust its mtime.
  const bool recent =
      static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec - mtime < 1000000000;
  std::lock_guard lock(mu);
  if (recent || mtime != seen_mtime || st.st_size != seen_size) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    cached = std::make_shared<const Json>(Json::parse(ss.str(), nullptr, false));
    seen_mtime = mtime;
    seen_size = st.st_size;
  }
  return cached;
}

Json gpu_now(void* handle) {
  std::size_t index = reinterpret_cast<std::uintptr_t>(handle) - 1;
  std::shared_ptr<const Json> now = file_now();
  if (!now->is_object() || !now->contains("gpus") || index >= (*now)["gpus"].size()) {
    return Json::object();
  }
  return (*now)["gpus"][index];
}

Json telemetry(void* handle) {
  return gpu_now(handle).value("telemetry", Json::object());
}

// "lost" is read from the file at every call too: a GPU falls off the bus while NVML is in
// use, and every user of the library sees it.
#define CHECK_GPU(h)               \
  const Json* g = gpu(h);          \
  if (!g) return kInvalidArgument; \
  if (gpu_now(h).value("lost", false)) return kGpuIsLost

}  // namespace

extern "C" {

// Reference-counted, as NVIDIA documents nvmlInit_v2/nvmlShutdown: the library shuts down
// when the last user calls nvmlShutdown, so one user's shutdown leaves the others working.
// The description is read at the first init.
int nvmlInit_v2() {
  // A test that counts NVML loads names a file here: every init appends one byte.
  if (const char* log = std::getenv("AION_FAKE_NVML_INIT_LOG")) {
    std::ofstream(log, std::ios::app) << 'i';
  }
  std::lock_guard lock(g_init_mu);
  if (g_refs > 0) {
    ++g_refs;
    return kSuccess;
  }
  const char* path = std::getenv("AION_FAKE_NVML");
  if (!path) return kUnknown;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  g_doc = Json::parse(ss.str(), nullptr, false);
  if (!g_doc.is_object()) return kUnknown;
  int err = g_doc.value("init_error", 0);
  if (err != 0) return err;
  g_refs = 1;
  g_init = true;
  return kSuccess;
}

int nvmlShutdown() {
  std::lock_guard lock(g_init_mu);
  if (g_refs == 0) return kUninitialized;
  if (--g_refs == 0) g_init = false;
  return kSuccess;
}

const char* nvmlErrorString(int rc) {
  switch (rc) {
    case kSuccess: return "Success";
    case kUninitialized: return "Uninitialized";
    case kInvalidArgument: return "Invalid Argument";
    case kNotSupported: return "Not Supported";
    case 9: return "Driver Not Loaded";
    case 18: return "Argument version mismatch";
    case kGpuIsLost: return "GPU is lost";
    default: return "Unknown Error";
  }
}

int nvmlSystemGetDriverVersion(char* out, unsigned len) {
  return g_init ? copy(g_doc.value("driver_version", ""), out, len) : kUninitialized;
}
int nvmlSystemGetNVMLVersion(char* out, unsigned len) {
  return g_init ? copy(g_doc.value("nvml_version", ""), out, len) : kUninitialized;
}
int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!g_init) return kUninitialized;
  *count = static_cast<unsigned>(g_doc["gpus"].size());
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** handle) {
  if (!g_init) return kUninitialized;
  if (index >= g_doc["gpus"].size()) return kInvalidArgument;
  *handle = reinterpret_cast<void*>(static_cast<std::uintptr_t>(index + 1));
  return kSuccess;
}
#ifdef FAKE_NVML_FULL_ABI
int nvmlDeviceGetPciInfo_v3(void* h, PciInfo* p) {
  const Json* g = gpu(h);
  if (!g) return kInvalidArgument;
  fill_pci(g->value("bus_id", ""), p);
  return kSuccess;
}
#endif
int nvmlDeviceGetName(void* h, char* out, unsigned len) {
  CHECK_GPU(h);
  return copy(g->value("name", ""), out, len);
}
int nvmlDeviceGetUUID(void* h, char* out, unsigned len) {
  CHECK_GPU(h);
  return copy(g->value("uuid", ""), out, len);
}
int nvmlDeviceGetMemoryInfo(void* h, Memory* m) {
  CHECK_GPU(h);
  m->total = g->value("memory_total", 0ull);
  m->used = std::min<unsigned long long>(m->total, telemetry(h).value("memory_used", 0ull));
  m->free = m->total - m->used;
  return kSuccess;
}
int nvmlDeviceGetCudaComputeCapability(void* h, int* major, int* minor) {
  CHECK_GPU(h);
  *major = (*g)["cc"][0];
  *minor = (*g)["cc"][1];
  return kSuccess;
}
int nvmlDeviceGetMigMode(void* h, unsigned* current, unsigned* pending) {
  CHECK_GPU(h);
  if (!g->contains("mig") || (*g)["mig"].is_null()) return kNotSupported;
  *current = *pending = (*g)["mig"].get<unsigned>();
  return kSuccess;
}
int nvmlDeviceGetNvLinkState(void* h, unsigned link, int* active) {
  CHECK_GPU(h);
  const Json& links = (*g)["nvlinks"];
  if (links.empty()) return kNotSupported;
  if (link >= links.size()) return kInvalidArgument;
  *active = links[link].value("active", false) ? 1 : 0;
  return kSuccess;
}
int nvmlDeviceGetNvLinkRemotePciInfo_v2(void* h, unsigned link, PciInfo* p) {
  CHECK_GPU(h);
  const Json& links = (*g)["nvlinks"];
  if (link >= links.size()) return kInvalidArgument;
  fill_pci(links[link].value("remote_bus_id", ""), p);
  return kSuccess;
}
int nvmlDeviceGetNvLinkRemoteDeviceType(void* h, unsigned link, int* type) {
  CHECK_GPU(h);
  const Json& links = (*g)["nvlinks"];
  if (link >= links.size()) return kInvalidArgument;
  *type = links[link].value("remote_type", "gpu") == "switch" ? 2 : 0;
  return kSuccess;
}

struct ProcessInfo {
  unsigned pid;
  unsigned long long usedGpuMemory;
  unsigned gpuInstanceId;
  unsigned computeInstanceId;
};

int nvmlDeviceGetComputeRunningProcesses_v3(void* h, unsigned* count, ProcessInfo* infos) {
  CHECK_GPU(h);
  std::size_t index = reinterpret_cast<std::uintptr_t>(h) - 1;
  std::ifstream in(std::getenv("AION_FAKE_NVML"));
  std::stringstream ss;
  ss << in.rdbuf();
  Json now = Json::parse(ss.str(), nullptr, false);
  Json procs = Json::array();
  if (now.is_object() && index < now["gpus"].size()) {
    procs = now["gpus"][index].value("processes", Json::array());
  }
  if (procs.size() > *count) {
    *count = static_cast<unsigned>(procs.size());
    return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  }
  *count = static_cast<unsigned>(procs.size());
  for (std::size_t i = 0; i < procs.size(); ++i) {
    infos[i] = {procs[i].value("pid", 0u), procs[i].value("used_memory", 0ull), 0xffffffffu,
                0xffffffffu};
  }
  return kSuccess;
}

// Telemetry readings (see telemetry() above).
#define READING(key, out, type)               \
  CHECK_GPU(h);                               \
  Json t = telemetry(h);                      \
  if (!t.contains(key)) return kNotSupported; \
  *(out) = t[key].get<type>();                \
  return kSuccess

struct Utilization {
  unsigned gpu, memory;
};
int nvmlDeviceGetUtilizationRates(void* h, Utilization* u) {
  CHECK_GPU(h);
  Json t = telemetry(h);
  if (!t.contains("util")) return kNotSupported;
  u->gpu = t["util"].get<unsigned>();
  u->memory = t.value("mem_util", 0u);
  return kSuccess;
}
int nvmlDeviceGetTemperature(void* h, int sensor, unsigned* v) {
  if (sensor != 0) return kInvalidArgument;
  READING("temp", v, unsigned);
}
int nvmlDeviceGetPowerUsage(void* h, unsigned* v) {
  READING("power_mw", v, unsigned);
}
int nvmlDeviceGetEnforcedPowerLimit(void* h, unsigned* v) {
  READING("power_limit_mw", v, unsigned);
}
int nvmlDeviceGetClockInfo(void* h, int type, unsigned* v) {
  if (type == 1) {
    READING("sm_mhz", v, unsigned);
  }
  if (type == 2) {
    READING("mem_mhz", v, unsigned);
  }
  return kInvalidArgument;
}
int nvmlDeviceGetCurrentClocksThrottleReasons(void* h, unsigned long long* v) {
  READING("throttle", v, unsigned long long);
}
int nvmlDeviceGetTotalEccErrors(void* h, int type, int counter, unsigned long long* v) {
  if (counter != 0) return kInvalidArgument;
  if (type == 0) {
    READING("ecc_corrected", v, unsigned long long);
  }
  READING("ecc_uncorrected", v, unsigned long long);
}
int nvmlDeviceGetPcieReplayCounter(void* h, unsigned* v) {
  READING("pcie_replays", v, unsigned);
}

int nvmlDeviceGetNvLinkErrorCounter(void* h, unsigned link, int counter, unsigned long long* v) {
  CHECK_GPU(h);
  if (counter < 0 || counter > 4) return kInvalidArgument;
  Json t = telemetry(h);
  if (!t.contains("nvlink_errors")) return kNotSupported;
  if (link >= (*g)["nvlinks"].size()) return kInvalidArgument;
  *v = counter < 4 ? t["nvlink_errors"][counter].get<unsigned long long>() : 0;
  return kSuccess;
}

// Health (aion doctor): telemetry keys "persistence" (0/1), "retired_pending" (0/1) and
// "remapped_rows": [corrected, uncorrected, pending, failure].
int nvmlDeviceGetPersistenceMode(void* h, int* v) {
  READING("persistence", v, int);
}
int nvmlDeviceGetRetiredPagesPendingStatus(void* h, int* v) {
  READING("retired_pending", v, int);
}
int nvmlDeviceGetRemappedRows(void* h, unsigned* corr, unsigned* unc, unsigned* pending,
                              unsigned* failure) {
  CHECK_GPU(h);
  Json t = telemetry(h);
  if (!t.contains("remapped_rows")) return kNotSupported;
  const Json& r = t["remapped_rows"];
  *corr = r.at(0).get<unsigned>();
  *unc = r.at(1).get<unsigned>();
  *pending = r.at(2).get<unsigned>();
  *failure = r.at(3).get<unsigned>();
  return kSuccess;
}

// Events: one set; a registered GPU's "xids" are delivered once each.
struct EventData {
  void* device;
  unsigned long long eventType, eventData;
  unsigned gpuInstanceId, computeInstanceId;
};
int g_set_token = 0;
std::vector<unsigned long long> g_registered;  // per GPU: the event mask
std::vector<std::size_t> g_delivered;          // per GPU: xids delivered so far

int nvmlEventSetCreate(void** set) {
  if (!g_init) return kUninitialized;
  *set = &g_set_token;
  g_registered.assign(g_doc["gpus"].size(), 0);
  g_delivered.assign(g_doc["gpus"].size(), 0);
  return kSuccess;
}
int nvmlEventSetFree(void*) {
  return kSuccess;
}
int nvmlDeviceGetSupportedEventTypes(void* h, unsigned long long* types) {
  CHECK_GPU(h);
  *types = 0x1 | 0x2 | 0x8;
  return kSuccess;
}
int nvmlDeviceRegisterEvents(void* h, unsigned long long types, void* set) {
  CHECK_GPU(h);
  if (set != &g_set_token) return kInvalidArgument;
  g_registered[reinterpret_cast<std::uintptr_t>(h) - 1] |= types;
  return kSuccess;
}
int nvmlEventSetWait_v2(void* set, EventData* data, unsigned /*timeout_ms*/) {
  if (set != &g_set_token) return kInvalidArgument;
  for (std::size_t i = 0; i < g_registered.size(); ++i) {
    if (!(g_registered[i] & 0x8)) continue;
    void* h = reinterpret_cast<void*>(static_cast<std::uintptr_t>(i + 1));
    Json xids = telemetry(h).value("xids", Json::array());
    if (g_delivered[i] < xids.size()) {
      *data = {h, 0x8, xids[g_delivered[i]++].get<unsigned long long>(), 0xffffffffu, 0xffffffffu};
      return kSuccess;
    }
  }
  return 10;  // NVML_ERROR_TIMEOUT
}

}  // extern "C"
