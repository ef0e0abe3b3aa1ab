#include "aion/hw/nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace aion::hw {
namespace {

// The part of NVIDIA's NVML C ABI that aion calls (nvml.h, documented by NVIDIA). Only the
// types and values used here are declared.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr nvmlReturn_t NVML_ERROR_GPU_IS_LOST = 15;
constexpr unsigned NVML_NVLINK_MAX_LINKS = 18;
constexpr int NVML_FEATURE_ENABLED = 1;
constexpr int NVML_NVLINK_DEVICE_TYPE_SWITCH = 2;

struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};

struct nvmlProcessInfo_t {  // the _v3 layout (driver 510+)
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

struct nvmlUtilization_t {
  unsigned gpu;     // percent
  unsigned memory;  // percent
};
constexpr int NVML_TEMPERATURE_GPU = 0;
constexpr int NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2;
constexpr int NVML_MEMORY_ERROR_TYPE_CORRECTED = 0, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1;
constexpr int NVML_VOLATILE_ECC = 0;

// Event API.
using nvmlEventSet_t = struct nvmlEventSet_st*;
struct nvmlEventData_t {  // the layout nvmlEventSetWait_v2 fills (driver 450+)
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;  // the Xid for an Xid event
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr unsigned long long nvmlEventTypeSingleBitEccError = 0x1,
                             nvmlEventTypeDoubleBitEccError = 0x2,
                             nvmlEventTypeXidCriticalError = 0x8;

struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

// "00000000:07:00.0" (NVML) -> "0000:07:00.0" (sysfs).
std::string sysfs_address(const char* bus_id) {
  std::string s(bus_id);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.size() == 16) s = s.substr(4);
  return s;
}

// Calls visit(device, sysfs PCI address) for every GPU NVML can open and name; the others are
// skipped. `Api` is deduced so that Nvml's private table can be passed.
template <class Api, class Visit>
void for_each_named_gpu(Api& api, Visit visit) {
  unsigned count = 0;
  if (api.device_count(&count) != NVML_SUCCESS) return;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    nvmlPciInfo_t pci{};
    if (api.device_by_index(i, &dev) != NVML_SUCCESS ||
        api.device_pci_info(dev, &pci) != NVML_SUCCESS) {
      continue;
    }
    visit(dev, sysfs_address(pci.busId));
  }
}

// Name, UUID, memory, compute capability and MIG mode of one GPU into gpu.accelerator;
// returns what could not be read ("uuid: ..."; unsupported queries are not problems) and
// marks the GPU lost when NVML says so. `Api` is deduced as above.
template <class Api>
std::string read_identity(const Api& api, nvmlDevice_t dev, NvmlGpu& gpu) {
  Accelerator& a = gpu.accelerator;
  std::string problems;
  auto note = [&](const char* what, nvmlReturn_t r) {
    if (r == NVML_SUCCESS || r == NVML_ERROR_NOT_SUPPORTED) return;
    if (r == NVML_ERROR_GPU_IS_LOST) gpu.lost = true;
    problems += std::string(problems.empty() ? "" : "; ") + what + ": " + api.why(r);
  };
  char buf[256];
  nvmlReturn_t rc;
  if ((rc = api.device_name(dev, buf, sizeof(buf))) == NVML_SUCCESS) a.model = buf;
  note("name", rc);
  if ((rc = api.device_uuid(dev, buf, sizeof(buf))) == NVML_SUCCESS) a.uuid = buf;
  note("uuid", rc);
  nvmlMemory_t mem{};
  if ((rc = api.device_memory(dev, &mem)) == NVML_SUCCESS) a.memory_bytes = mem.total;
  note("memory", rc);
  int major = 0, minor = 0;
  if ((rc = api.device_cc(dev, &major, &minor)) == NVML_SUCCESS) {
    a.compute_capability = std::to_string(major) + "." + std::to_string(minor);
  }
  note("compute capability", rc);
  if (api.device_mig_mode) {
    unsigned current = 0, pending = 0;
    rc = api.device_mig_mode(dev, &current, &pending);
    if (rc == NVML_SUCCESS) a.partition_mode = current == 1 ? "mig enabled" : "mig disabled";
    note("MIG mode", rc);
  }
  return problems;
}

// NVLink: counts active links per peer into gpu.accelerator.links; links to NVSwitch count
// towards the fabric ("nvswitch"). Stops when the GPU is lost.
template <class Api>
void read_nvlinks(const Api& api, nvmlDevice_t dev, NvmlGpu& gpu) {
  Accelerator& a = gpu.accelerator;
  for (unsigned link = 0; link < NVML_NVLINK_MAX_LINKS && !gpu.lost; ++link) {
    int active = 0;
    nvmlReturn_t rc = api.nvlink_state(dev, link, &active);
    if (rc == NVML_ERROR_NOT_SUPPORTED) break;
    if (rc != NVML_SUCCESS) {
      if (rc == NVML_ERROR_GPU_IS_LOST) gpu.lost = true;
      continue;  // links beyond the device's count answer INVALID_ARGUMENT
    }
    if (active != NVML_FEATURE_ENABLED) continue;
    std::string peer;
    int type = 0;
    if (api.nvlink_remote_type && api.nvlink_remote_type(dev, link, &type) == NVML_SUCCESS &&
        type == NVML_NVLINK_DEVICE_TYPE_SWITCH) {
      peer = "nvswitch";
    } else {
      nvmlPciInfo_t remote{};
      if (api.nvlink_remote_pci(dev, link, &remote) != NVML_SUCCESS) continue;
      peer = sysfs_address(remote.busId);
    }
    auto it =
        std::find_if(a.links.begin(), a.links.end(), [&](const Link& l) { return l.peer == peer; });
    if (it == a.links.end()) {
      a.links.push_back({"nvlink", peer, 1});
    } else {
      it->count++;
    }
  }
}

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  const char* (*error_string)(nvmlReturn_t);
  nvmlReturn_t (*system_driver_version)(char*, unsigned);
  nvmlReturn_t (*system_nvml_version)(char*, unsigned);
  nvmlReturn_t (*device_count)(unsigned*);
  nvmlReturn_t (*device_by_index)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*device_pci_info)(nvmlDevice_t, nvmlPciInfo_t*);
  nvmlReturn_t (*device_name)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*device_uuid)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*device_memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*device_cc)(nvmlDevice_t, int*, int*);
  nvmlReturn_t (*device_mig_mode)(nvmlDevice_t, unsigned*, unsigned*);
  nvmlReturn_t (*nvlink_state)(nvmlDevice_t, unsigned, int*);
  nvmlReturn_t (*nvlink_remote_pci)(nvmlDevice_t, unsigned, nvmlPciInfo_t*);
  nvmlReturn_t (*nvlink_remote_type)(nvmlDevice_t, unsigned, int*);  // optional (newer drivers)
  nvmlReturn_t (*compute_processes)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*);  // optional
  // Telemetry, all optional.
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*);
  nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*clock_info)(nvmlDevice_t, int, unsigned*);
  nvmlReturn_t (*throttle_reasons)(nvmlDevice_t, unsigned long long*);
  nvmlReturn_t (*ecc_errors)(nvmlDevice_t, int, int, unsigned long long*);
  nvmlReturn_t (*pcie_replays)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*nvlink_errors)(nvmlDevice_t, unsigned, int, unsigned long long*);
  nvmlReturn_t (*persistence_mode)(nvmlDevice_t, int*);
  nvmlReturn_t (*retired_pages_pending)(nvmlDevice_t, int*);
  nvmlReturn_t (*remapped_rows)(nvmlDevice_t, unsigned*, unsigned*, unsigned*, unsigned*);
  nvmlReturn_t (*event_set_create)(nvmlEventSet_t*);
  nvmlReturn_t (*event_set_free)(nvmlEventSet_t);
  nvmlReturn_t (*supported_events)(nvmlDevice_t, unsigned long long*);
  nvmlReturn_t (*register_events)(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
  nvmlReturn_t (*event_wait)(nvmlEventSet_t, nvmlEventData_t*, unsigned);

  std::string why(nvmlReturn_t rc) const {
    const char* s = error_string ? error_string(rc) : nullptr;
    return std::string(s ? s : "unknown NVML error") + " (" + std::to_string(rc) + ")";
  }
};

std::string nvml_library_path(const std::string& configured) {
  if (const char* env = std::getenv("AION_NVML_LIBRARY"); env && *env) return env;
  if (!configured.empty()) return configured;
  return "libnvidia-ml.so.1";
}

Nvml::Nvml(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  if (event_set_ && api_->event_set_free)
    api_->event_set_free(static_cast<nvmlEventSet_t>(event_set_));
  if (api_ && api_->shutdown) api_->shutdown();
  if (handle_) ::dlclose(handle_);
}

Result<std::unique_ptr<Nvml>> Nvml::load(const std::string& path) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* err = ::dlerror();
    return fail(ErrorCode::kUnavailable,
                "NVML not available (" + path + ": " + (err ? err : "not found") + ")");
  }
  auto api = std::make_unique<Api>();
  std::string missing;
  auto sym = [&](auto& fn, const char* name, bool required = true) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
    if (!fn && required) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  sym(api->init, "nvmlInit_v2");
  sym(api->shutdown, "nvmlShutdown");
  sym(api->error_string, "nvmlErrorString");
  sym(api->system_driver_version, "nvmlSystemGetDriverVersion");
  sym(api->system_nvml_version, "nvmlSystemGetNVMLVersion");
  sym(api->device_count, "nvmlDeviceGetCount_v2");
  sym(api->device_by_index, "nvmlDeviceGetHandleByIndex_v2");
  sym(api->device_pci_info, "nvmlDeviceGetPciInfo_v3");
  sym(api->device_name, "nvmlDeviceGetName");
  sym(api->device_uuid, "nvmlDeviceGetUUID");
  sym(api->device_memory, "nvmlDeviceGetMemoryInfo");
  sym(api->device_cc, "nvmlDeviceGetCudaComputeCapability");
  sym(api->device_mig_mode, "nvmlDeviceGetMigMode", false);
  sym(api->nvlink_state, "nvmlDeviceGetNvLinkState");
  sym(api->nvlink_remote_pci, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
  sym(api->nvlink_remote_type, "nvmlDeviceGetNvLinkRemoteDeviceType", false);
  sym(api->compute_processes, "nvmlDeviceGetComputeRunningProcesses_v3", false);
  sym(api->utilization, "nvmlDeviceGetUtilizationRates", false);
  sym(api->temperature, "nvmlDeviceGetTemperature", false);
  sym(api->power_usage, "nvmlDeviceGetPowerUsage", false);
  sym(api->power_limit, "nvmlDeviceGetEnforcedPowerLimit", false);
  sym(api->clock_info, "nvmlDeviceGetClockInfo", false);
  sym(api->throttle_reasons, "nvmlDeviceGetCurrentClocksThrottleReasons", false);
  sym(api->ecc_errors, "nvmlDeviceGetTotalEccErrors", false);
  sym(api->pcie_replays, "nvmlDeviceGetPcieReplayCounter", false);
  sym(api->nvlink_errors, "nvmlDeviceGetNvLinkErrorCounter", false);
  sym(api->persistence_mode, "nvmlDeviceGetPersistenceMode", false);
  sym(api->retired_pages_pending, "nvmlDeviceGetRetiredPagesPendingStatus", false);
  sym(api->remapped_rows, "nvmlDeviceGetRemappedRows", false);
  sym(api->event_set_create, "nvmlEventSetCreate", false);
  sym(api->event_set_free, "nvmlEventSetFree", false);
  sym(api->supported_events, "nvmlDeviceGetSupportedEventTypes", false);
  sym(api->register_events, "nvmlDeviceRegisterEvents", false);
  sym(api->event_wait, "nvmlEventSetWait_v2", false);
  if (!missing.empty()) {
    ::dlclose(h);
    return fail(ErrorCode::kUnsupported,
                "NVML at " + path + " lacks " + missing +
                    " (driver too old for this aion, or a version mismatch)");
  }
  nvmlReturn_t rc = api->init();
  if (rc != NVML_SUCCESS) {
    std::string why = api->why(rc);
    ::dlclose(h);
    return fail(ErrorCode::kUnavailable, "NVML failed to initialise: " + why);
  }
  return std::unique_ptr<Nvml>(new Nvml(h, std::move(api)));
}

std::vector<std::pair<std::string, NvmlHealth>> Nvml::health() {
  std::vector<std::pair<std::string, NvmlHealth>> out;
  for_each_named_gpu(*api_, [&](nvmlDevice_t dev, std::string address) {
    NvmlHealth h;
    auto ok = [&](nvmlReturn_t rc) {
      if (rc == NVML_ERROR_GPU_IS_LOST) h.lost = true;
      return rc == NVML_SUCCESS;
    };
    int state = 0;
    if (api_->persistence_mode && ok(api_->persistence_mode(dev, &state)))
      h.persistence_mode = state == NVML_FEATURE_ENABLED;
    if (api_->retired_pages_pending && ok(api_->retired_pages_pending(dev, &state)))
      h.retired_pages_pending = state == NVML_FEATURE_ENABLED;
    unsigned corr = 0, unc = 0, pending = 0, failure = 0;
    if (api_->remapped_rows && ok(api_->remapped_rows(dev, &corr, &unc, &pending, &failure))) {
      h.row_remap_pending = pending != 0;
      h.row_remap_failure = failure != 0;
    }
    unsigned long long reasons = 0;
    if (api_->throttle_reasons && ok(api_->throttle_reasons(dev, &reasons)))
      h.throttle_reasons = reasons;
    out.emplace_back(std::move(address), h);
  });
  return out;
}

std::vector<std::pair<std::string, NvmlSample>> Nvml::sample() {
  std::vector<std::pair<std::string, NvmlSample>> out;
  for_each_named_gpu(*api_, [&](nvmlDevice_t dev, std::string address) {
    NvmlSample s;
    auto ok = [&](nvmlReturn_t rc) {
      if (rc == NVML_ERROR_GPU_IS_LOST) s.lost = true;
      return rc == NVML_SUCCESS;
    };
    nvmlMemory_t mem{};
    if (ok(api_->device_memory(dev, &mem))) {
      s.memory_used_bytes = mem.used;
      s.memory_total_bytes = mem.total;
    }
    if (nvmlUtilization_t u{}; api_->utilization && ok(api_->utilization(dev, &u))) {
      s.utilization = u.gpu / 100.0;
      s.memory_utilization = u.memory / 100.0;
    }
    unsigned v = 0;
    if (api_->temperature && ok(api_->temperature(dev, NVML_TEMPERATURE_GPU, &v)))
      s.temperature_c = v;
    if (api_->power_usage && ok(api_->power_usage(dev, &v))) s.power_w = v / 1000.0;
    if (api_->power_limit && ok(api_->power_limit(dev, &v))) s.power_limit_w = v / 1000.0;
    if (api_->clock_info && ok(api_->clock_info(dev, NVML_CLOCK_SM, &v))) s.sm_clock_hz = v * 1e6;
    if (api_->clock_info && ok(api_->clock_info(dev, NVML_CLOCK_MEM, &v)))
      s.memory_clock_hz = v * 1e6;
    unsigned long long ull = 0;
    if (api_->throttle_reasons && ok(api_->throttle_reasons(dev, &ull))) s.throttle_reasons = ull;
    if (api_->ecc_errors &&
        ok(api_->ecc_errors(dev, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, &ull)))
      s.ecc_corrected = ull;
    if (api_->ecc_errors &&
        ok(api_->ecc_errors(dev, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, &ull)))
      s.ecc_uncorrected = ull;
    if (api_->pcie_replays && ok(api_->pcie_replays(dev, &v))) s.pcie_replays = v;
    if (api_->nvlink_errors) {
      for (unsigned link = 0; link < NVML_NVLINK_MAX_LINKS && !s.lost; ++link) {
        int active = 0;
        nvmlReturn_t rc = api_->nvlink_state(dev, link, &active);
        if (rc == NVML_ERROR_NOT_SUPPORTED) break;
        if (!ok(rc) || active != NVML_FEATURE_ENABLED) continue;
        for (int k = 0; k < 4; ++k) {
          if (ok(api_->nvlink_errors(dev, link, k, &ull)))
            s.nvlink_errors[k] = s.nvlink_errors[k].value_or(0) + ull;
        }
      }
    }
    out.emplace_back(std::move(address), s);
  });
  return out;
}

Status Nvml::watch_events() {
  if (event_set_) return {};
  if (!api_->event_set_create || !api_->register_events || !api_->event_wait) {
    return fail(ErrorCode::kUnsupported,
                "this NVIDIA driver has no event API (nvmlEventSetWait_v2): Xid errors are "
                "only seen in the kernel log");
  }
  nvmlEventSet_t set = nullptr;
  if (nvmlReturn_t rc = api_->event_set_create(&set); rc != NVML_SUCCESS) {
    return fail(ErrorCode::kUnavailable, "NVML event set: " + api_->why(rc));
  }
  event_set_ = set;
  unsigned count = 0;
  if (api_->device_count(&count) != NVML_SUCCESS) count = 0;
  std::string problems;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (api_->device_by_index(i, &dev) != NVML_SUCCESS) continue;
    unsigned long long want = nvmlEventTypeXidCriticalError | nvmlEventTypeSingleBitEccError |
                              nvmlEventTypeDoubleBitEccError;
    unsigned long long supported = want;
    if (api_->supported_events && api_->supported_events(dev, &supported) == NVML_SUCCESS)
      want &= supported;
    if (want == 0) continue;
    if (nvmlReturn_t rc = api_->register_events(dev, want, set); rc != NVML_SUCCESS) {
      problems += (problems.empty() ? "" : "; ") + std::string("GPU ") + std::to_string(i) + ": " +
                  api_->why(rc);
    }
  }
  if (!problems.empty()) {
    return fail(ErrorCode::kUnavailable, "NVML event registration: " + problems);
  }
  return {};
}

std::vector<NvmlEvent> Nvml::poll_events() {
  std::vector<NvmlEvent> out;
  if (!event_set_) return out;
  for (int i = 0; i < 1024; ++i) {  // bounded, in case a driver keeps answering
    nvmlEventData_t data{};
    nvmlReturn_t rc = api_->event_wait(static_cast<nvmlEventSet_t>(event_set_), &data, 0);
    if (rc != NVML_SUCCESS) break;  // NVML_ERROR_TIMEOUT (10): nothing more
    NvmlEvent e;
    nvmlPciInfo_t pci{};
    if (data.device && api_->device_pci_info(data.device, &pci) == NVML_SUCCESS)
      e.pci_address = sysfs_address(pci.busId);
    if (data.eventType & nvmlEventTypeXidCriticalError) {
      e.kind = "xid";
      e.xid = data.eventData;
    } else if (data.eventType & nvmlEventTypeDoubleBitEccError) {
      e.kind = "ecc_double_bit";
    } else if (data.eventType & nvmlEventTypeSingleBitEccError) {
      e.kind = "ecc_single_bit";
    } else {
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<NvmlProcess>> Nvml::compute_processes(const std::string& pci_address) {
  if (!api_->compute_processes) {
    return fail(ErrorCode::kUnsupported,
                "this NVIDIA driver has no nvmlDeviceGetComputeRunningProcesses_v3 (driver 510 "
                "or newer needed to watch per-process GPU memory)");
  }
  unsigned count = 0;
  if (api_->device_count(&count) != NVML_SUCCESS) count = 0;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    nvmlPciInfo_t pci{};
    if (api_->device_by_index(i, &dev) != NVML_SUCCESS ||
        api_->device_pci_info(dev, &pci) != NVML_SUCCESS ||
        sysfs_address(pci.busId) != pci_address) {
      continue;
    }
    std::vector<nvmlProcessInfo_t> infos(64);
    for (int attempt = 0; attempt < 4; ++attempt) {
      unsigned n = static_cast<unsigned>(infos.size());
      nvmlReturn_t rc = api_->compute_processes(dev, &n, infos.data());
      if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
        infos.resize(static_cast<std::size_t>(n) + 16);
        continue;
      }
      if (rc != NVML_SUCCESS) {
        return fail(ErrorCode::kUnavailable, pci_address + ": compute processes: " + api_->why(rc));
      }
      std::vector<NvmlProcess> out;
      for (unsigned k = 0; k < n; ++k) {
        std::uint64_t used = infos[k].usedGpuMemory;
        if (used == ~0ULL) used = 0;  // NVML_VALUE_NOT_AVAILABLE
        out.push_back({infos[k].pid, used});
      }
      return out;
    }
    return fail(ErrorCode::kUnavailable, pci_address + ": the process list keeps growing");
  }
  return fail(ErrorCode::kNotFound, "NVML has no GPU at " + pci_address);
}

NvmlReport Nvml::query() {
  NvmlReport report;
  char buf[256];
  if (api_->system_driver_version(buf, sizeof(buf)) == NVML_SUCCESS) report.driver_version = buf;
  if (api_->system_nvml_version(buf, sizeof(buf)) == NVML_SUCCESS) report.nvml_version = buf;
  unsigned count = 0;
  if (api_->device_count(&count) != NVML_SUCCESS) return report;
  for (unsigned i = 0; i < count; ++i) {
    NvmlGpu gpu;
    Accelerator& a = gpu.accelerator;
    a.index = static_cast<int>(i);
    a.vendor = "nvidia";
    a.source = "nvml";
    a.driver_version = report.driver_version;
    nvmlDevice_t dev = nullptr;
    nvmlReturn_t rc = api_->device_by_index(i, &dev);
    if (rc != NVML_SUCCESS) {
      gpu.lost = rc == NVML_ERROR_GPU_IS_LOST;
      gpu.error = api_->why(rc);
      report.gpus.push_back(std::move(gpu));
      continue;
    }
    nvmlPciInfo_t pci{};
    rc = api_->device_pci_info(dev, &pci);
    if (rc == NVML_SUCCESS) {
      a.pci.address = sysfs_address(pci.busId);
    } else {
      gpu.lost = rc == NVML_ERROR_GPU_IS_LOST;
      gpu.error = "PCI info: " + api_->why(rc);
      report.gpus.push_back(std::move(gpu));
      continue;
    }
    std::string problems = read_identity(*api_, dev, gpu);
    read_nvlinks(*api_, dev, gpu);
    if (gpu.lost && problems.empty()) problems = "GPU is lost (fell off the bus)";
    gpu.error = problems;
    report.gpus.push_back(std::move(gpu));
  }
  return report;
}

}  // namespace aion::hw
