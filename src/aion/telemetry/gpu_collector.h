// GPU metrics. Simulated GPUs (from [[simulate.gpu]]) produce plausible series so the whole
// path (collection, store, /metrics, anomaly detection) runs on machines without GPUs:
// utilisation as a bounded random walk with bursts, memory that follows it, temperature
// that lags utilisation, power between idle and the board limit, SM clock that drops when
// hot. Each GPU's series is seeded by its index, so a run is reproducible.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

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
// PCIe replays, and aion_gpu_lost for a GPU that fell off the bus.
class NvmlGpuCollector {
 public:
  NvmlGpuCollector(std::unique_ptr<hw::Nvml> nvml, std::vector<hw::Accelerator> gpus);
  std::vector<MetricFamily> collect();

 private:
  std::unique_ptr<hw::Nvml> nvml_;
  std::vector<hw::Accelerator> gpus_;  // NVIDIA, not simulated: labels by PCI address
};

// The labels every GPU series carries: gpu (index within its vendor), pci, model, vendor,
// and simulated="true" for simulated devices.
Labels gpu_labels(const hw::Accelerator& a);

}  // namespace aion::telemetry
