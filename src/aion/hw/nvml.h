// NVIDIA devices through NVML, loaded at run time with dlopen so that aion builds and runs
// without the driver. The library is "libnvidia-ml.so.1", or the path in AION_NVML_LIBRARY
// or config hw.nvml_library (the tests point it at a fake that speaks the same C ABI).
// An Nvml is not thread-safe (it holds the event set): each user (discovery, the telemetry
// collector, the scheduler's GPU memory check, doctor) loads its own and calls it from one
// thread at a time. nvml_library_path() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"

namespace aion::hw {

struct NvmlGpu {
  Accelerator accelerator;  // pci.address, model, memory, uuid, cc, MIG, links filled in
  bool lost = false;        // NVML_ERROR_GPU_IS_LOST: fell off the bus (Xid 79)
  std::string error;        // why some attributes are missing
};

struct NvmlReport {
  std::string driver_version;
  std::string nvml_version;
  std::vector<NvmlGpu> gpus;
};

// A compute process on a GPU and the device memory it uses.
struct NvmlProcess {
  unsigned pid = 0;
  std::uint64_t used_memory_bytes = 0;  // 0 when the driver does not say
};

// What a GPU reports right now; a field the driver does not support stays empty.
struct NvmlSample {
  std::optional<double> utilization;         // 0..1, share of time a kernel ran
  std::optional<double> memory_utilization;  // 0..1, share of time memory was read or written
  std::optional<std::uint64_t> memory_used_bytes;
  std::optional<std::uint64_t> memory_total_bytes;
  std::optional<double> temperature_c;
  std::optional<double> power_w;
  std::optional<double> power_limit_w;
  std::optional<double> sm_clock_hz;
  std::optional<double> memory_clock_hz;
  std::optional<std::uint64_t> throttle_reasons;  // NVML's nvmlClocksThrottleReason bits
  std::optional<std::uint64_t> ecc_corrected;     // volatile (since the driver loaded)
  std::optional<std::uint64_t> ecc_uncorrected;
  std::optional<std::uint64_t> pcie_replays;
  // NVLink data-link error counters summed over the GPU's active links, in the order of
  // kNvlinkErrorNames (replay, recovery, CRC flit, CRC data).
  std::optional<std::uint64_t> nvlink_errors[4];
  bool lost = false;  // NVML_ERROR_GPU_IS_LOST
};
inline constexpr const char* kNvlinkErrorNames[4] = {"replay", "recovery", "crc_flit", "crc_data"};

// Health settings and pending repairs of a GPU (what `aion doctor` checks); a field the
// driver does not support stays empty.
struct NvmlHealth {
  std::optional<bool> persistence_mode;
  std::optional<bool> retired_pages_pending;  // pre-Ampere page retirement awaiting a reset
  std::optional<bool> row_remap_pending;      // Ampere+ row remapping awaiting a reset
  std::optional<bool> row_remap_failure;      // a remapping could not be recorded
  std::optional<std::uint64_t> throttle_reasons;
  bool lost = false;
};

// An asynchronous event from the driver (NVML event API).
struct NvmlEvent {
  std::string pci_address;  // sysfs form
  std::string kind;         // "xid", "ecc_single_bit", "ecc_double_bit"
  std::uint64_t xid = 0;    // for "xid": the Xid code (999: one NVML does not know)
};

class Nvml {
 public:
  // Loads and initialises NVML. kUnavailable when the library is absent (normal on machines
  // without NVIDIA GPUs); kUnsupported when it lacks a symbol we need (version mismatch);
  // kUnavailable with NVML's message when nvmlInit fails (driver not loaded).
  static Result<std::unique_ptr<Nvml>> load(const std::string& library_path);
  ~Nvml();

  // Every GPU NVML enumerates. A GPU that fails is reported in its entry, not as an error.
  NvmlReport query();

  // The compute processes on the GPU at `pci_address` (sysfs form, "0000:07:00.0"), from
  // nvmlDeviceGetComputeRunningProcesses_v3. kUnsupported when the driver lacks it, kNotFound
  // when no GPU has that address.
  Result<std::vector<NvmlProcess>> compute_processes(const std::string& pci_address);

  // Utilisation, memory, temperature, power, clocks, throttle reasons, ECC and PCIe replay
  // counts of every GPU, by sysfs PCI address. Functions the driver lacks leave fields empty.
  std::vector<std::pair<std::string, NvmlSample>> sample();

  // Persistence mode, pending page retirement / row remapping and throttle reasons of every
  // GPU, by sysfs PCI address.
  std::vector<std::pair<std::string, NvmlHealth>> health();

  // Registers every GPU for Xid critical errors and ECC error events (what each GPU
  // supports). kUnsupported when the driver lacks the event API.
  Status watch_events();
  // The events that arrived since the last call, without waiting.
  std::vector<NvmlEvent> poll_events();

 private:
  struct Api;
  explicit Nvml(void* handle, std::unique_ptr<Api> api);
  void* handle_;
  std::unique_ptr<Api> api_;
  void* event_set_ = nullptr;
};

// The library path to use: AION_NVML_LIBRARY, else the configured one, else the default.
std::string nvml_library_path(const std::string& configured);

}  // namespace aion::hw
