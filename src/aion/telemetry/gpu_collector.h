// GPU metrics. Simulated GPUs (from [[simulate.gpu]]) produce plausible series so the whole
// path (collection, store, /metrics, anomaly detection) runs on machines without GPUs:
// utilisation as a bounded random walk with bursts, memory that follows it, temperature
// that lags utilisation, power between idle and the board limit, SM clock that drops when
// hot. Each GPU's series is seeded by its index, so a run is reproducible.
//
// The collectors are not thread-safe: each belongs to the telemetry loop thread, which
// calls collect() (the NVML one keeps its Nvml, the simulated one its random walks).
// gpu_labels() is a pure function; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/hw/nvml.h"
#include "aion/telemetry/metric.h"

namespace aion::telemetry {

class SimulatedGpuCollector {
 public:
  explicit SimulatedGpuCollector(std::vector<hw::Accelerator> gpus);
  // One step of every GPU's series.
  std::vector<MetricFamily> collect();
  bool empty() const { return gpus_.empty(); }

 private:
  struct State {
    double util = 0.3, mem = 0.2, temp = 40, power_limit = 400;
    std::mt19937_64 rng;
  };
  std::vector<hw::Accelerator> gpus_;
  std::vector<State> state_;
};

// NVIDIA GPUs through NVML (loaded with dlopen): utilisation, memory, temperature, power and
// its limit, clocks, throttle reasons (one 0/1 series per reason), volatile ECC error counts,
// PCIe replays, NVLink error counters, aion_gpu_lost for a GPU that fell off the bus, and Xid
// errors from NVML's event API: each one counted in aion_gpu_xid_errors_total{xid} and passed
// to `on_event` as it is collected.
class NvmlGpuCollector {
 public:
  using EventSink = std::function<void(const hw::NvmlEvent&, const hw::Accelerator*)>;
  NvmlGpuCollector(std::unique_ptr<hw::Nvml> nvml, std::vector<hw::Accelerator> gpus,
                   EventSink on_event = {});
  std::vector<MetricFamily> collect();

 private:
  std::unique_ptr<hw::Nvml> nvml_;
  std::vector<hw::Accelerator> gpus_;  // NVIDIA, not simulated: labels by PCI address
  EventSink on_event_;
  bool events_ = false;
  std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> xids_;  // (pci, xid) -> count
};

// AMD GPUs through amdgpu's sysfs files and hwmon, read with HostFs: busy percent (GPU and
// memory), VRAM used and total, temperatures by sensor (edge, junction, mem), power and its
// cap, SCLK and MCLK, PCIe replays, and RAS memory (UMC) error counts. A file the driver does
// not offer just leaves its series out.
class AmdGpuCollector {
 public:
  AmdGpuCollector(HostFs fs, std::vector<hw::Accelerator> gpus);
  std::vector<MetricFamily> collect();
  bool empty() const { return gpus_.empty(); }

 private:
  struct Gpu {
    hw::Accelerator accelerator;
    std::string dev;    // /sys/bus/pci/devices/<address>
    std::string hwmon;  // its hwmon directory ("" when it has none)
  };
  HostFs fs_;
  std::vector<Gpu> gpus_;
};

// The labels every GPU series carries: gpu (index within its vendor), pci, model, vendor,
// and simulated="true" for simulated devices.
Labels gpu_labels(const hw::Accelerator& a);

}  // namespace aion::telemetry
