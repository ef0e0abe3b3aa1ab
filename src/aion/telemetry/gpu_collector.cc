#include "aion/telemetry/gpu_collector.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace aion::telemetry {

namespace {

using T = MetricType;

// The families both GPU collectors fill, with one name, help and type each.
struct GpuFamilies {
  MetricFamily util{"aion_gpu_utilization_ratio",
                    "Share of time a kernel ran on the GPU over the last sample period",
                    T::kGauge,
                    {}};
  MetricFamily mem_util{"aion_gpu_memory_utilization_ratio",
                        "Share of time GPU memory was read or written",
                        T::kGauge,
                        {}};
  MetricFamily used{"aion_gpu_memory_used_bytes", "GPU memory in use", T::kGauge, {}};
  MetricFamily total{"aion_gpu_memory_total_bytes", "GPU memory in all", T::kGauge, {}};
  MetricFamily temp{"aion_gpu_temperature_celsius", "GPU core temperature", T::kGauge, {}};
  MetricFamily power{"aion_gpu_power_watts", "GPU board power draw", T::kGauge, {}};
  MetricFamily limit{"aion_gpu_power_limit_watts", "Enforced GPU power limit", T::kGauge, {}};
  MetricFamily sm{"aion_gpu_sm_clock_hertz", "GPU SM clock", T::kGauge, {}};
  MetricFamily memclk{"aion_gpu_memory_clock_hertz", "GPU memory clock", T::kGauge, {}};
  MetricFamily ecc{"aion_gpu_ecc_errors_total",
                   "ECC errors since the driver loaded, by type (corrected, uncorrected)",
                   T::kCounter,
                   {}};
  MetricFamily replays{
      "aion_gpu_pcie_replays_total", "PCIe replays (link retransmissions)", T::kCounter, {}};
};

// NVIDIA's families beyond the shared ones.
struct NvmlFamilies : GpuFamilies {
  MetricFamily throttled{"aion_gpu_throttled",
                         "1 while the GPU's clocks are held down for this reason (NVML)",
                         T::kGauge,
                         {}};
  MetricFamily lost{
      "aion_gpu_lost", "1 when NVML reports the GPU lost (fell off the bus)", T::kGauge, {}};
  MetricFamily nvlink{"aion_gpu_nvlink_errors_total",
                      "NVLink data-link errors summed over the GPU's active links, by type",
                      T::kCounter,
                      {}};
  MetricFamily xid{"aion_gpu_xid_errors_total",
                   "Xid errors NVML reported through its event API since aiond started, by code",
                   T::kCounter,
                   {}};

  // One GPU's NVML sample, labelled `l`.
  void add(const Labels& l, const hw::NvmlSample& s) {
    static const std::pair<std::uint64_t, const char*> kReasons[] = {
        {0x4, "sw_power_cap"},
        {0x8, "hw_slowdown"},
        {0x20, "sw_thermal_slowdown"},
        {0x40, "hw_thermal_slowdown"},
        {0x80, "hw_power_brake_slowdown"},
        {0x1, "gpu_idle"}};
    lost.add(l, s.lost ? 1 : 0);
    if (s.utilization) util.add(l, *s.utilization);
    if (s.memory_utilization) mem_util.add(l, *s.memory_utilization);
    if (s.memory_used_bytes) used.add(l, static_cast<double>(*s.memory_used_bytes));
    if (s.memory_total_bytes) total.add(l, static_cast<double>(*s.memory_total_bytes));
    if (s.temperature_c) temp.add(l, *s.temperature_c);
    if (s.power_w) power.add(l, *s.power_w);
    if (s.power_limit_w) limit.add(l, *s.power_limit_w);
    if (s.sm_clock_hz) sm.add(l, *s.sm_clock_hz);
    if (s.memory_clock_hz) memclk.add(l, *s.memory_clock_hz);
    if (s.throttle_reasons) {
      for (const auto& [bit, name] : kReasons) {
        Labels r = l;
        r.emplace_back("reason", name);
        throttled.add(std::move(r), (*s.throttle_reasons & bit) ? 1 : 0);
      }
    }
    for (auto [v, type] :
         {std::pair{s.ecc_corrected, "corrected"}, std::pair{s.ecc_uncorrected, "uncorrected"}}) {
      if (!v) continue;
      Labels r = l;
      r.emplace_back("type", type);
      ecc.add(std::move(r), static_cast<double>(*v));
    }
    if (s.pcie_replays) replays.add(l, static_cast<double>(*s.pcie_replays));
    for (int k = 0; k < 4; ++k) {
      if (!s.nvlink_errors[k]) continue;
      Labels r = l;
      r.emplace_back("type", hw::kNvlinkErrorNames[k]);
      nvlink.add(std::move(r), static_cast<double>(*s.nvlink_errors[k]));
    }
  }

  std::vector<MetricFamily> take() {
    std::vector<MetricFamily> out;
    move_nonempty(out, {&util, &mem_util, &used, &total, &temp, &power, &limit, &sm, &memclk,
                        &throttled, &ecc, &replays, &nvlink, &xid, &lost});
    return out;
  }
};

// AMD's families beyond the shared ones.
struct AmdFamilies : GpuFamilies {
  MetricFamily sensors{"aion_gpu_sensor_temperature_celsius",
                       "GPU temperatures by sensor (AMD hwmon: edge, junction, mem)",
                       T::kGauge,
                       {}};

  std::vector<MetricFamily> take() {
    std::vector<MetricFamily> out;
    move_nonempty(out, {&util, &mem_util, &used, &total, &temp, &sensors, &power, &limit, &sm,
                        &memclk, &ecc, &replays});
    return out;
  }
};

}  // namespace

Labels gpu_labels(const hw::Accelerator& a) {
  Labels l = {{"gpu", std::to_string(a.index)},
              {"pci", a.pci.address},
              {"model", a.model},
              {"vendor", a.vendor}};
  if (a.simulated) l.emplace_back("simulated", "true");
  return l;
}

SimulatedGpuCollector::SimulatedGpuCollector(std::vector<hw::Accelerator> gpus)
    : gpus_(std::move(gpus)) {
  for (const auto& g : gpus_) {
    State s;
    s.rng.seed(0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(g.index + 1));
    s.power_limit = g.model.find("H100") != std::string::npos ? 700 : 400;
    state_.push_back(std::move(s));
  }
}

std::vector<MetricFamily> SimulatedGpuCollector::collect() {
  GpuFamilies f;
  for (std::size_t i = 0; i < gpus_.size(); ++i) {
    const auto& g = gpus_[i];
    State& s = state_[i];
    std::normal_distribution<double> step(0, 0.04);
    std::uniform_real_distribution<double> uni(0, 1);
    // Mostly a slow random walk; now and then a job starts or ends.
    s.util = std::clamp(s.util + step(s.rng), 0.0, 1.0);
    if (uni(s.rng) < 0.01) s.util = uni(s.rng) < 0.5 ? 0.02 : 0.95;
    s.mem = std::clamp(0.9 * s.mem + 0.1 * (0.1 + 0.8 * s.util) + step(s.rng) * 0.1, 0.0, 1.0);
    s.temp += 0.1 * ((35 + 50 * s.util) - s.temp) + step(s.rng) * 5;
    const double watts = 60 + (s.power_limit - 60) * s.util + step(s.rng) * 20;
    const double mhz = s.temp > 83 ? 1200 : 1410;
    const double mem_total = g.memory_bytes > 0 ? static_cast<double>(g.memory_bytes) : 80e9;
    Labels l = gpu_labels(g);
    f.util.add(l, std::round(s.util * 100) / 100);
    f.used.add(l, std::round(s.mem * mem_total / 1048576) * 1048576);
    f.total.add(l, mem_total);
    f.temp.add(l, std::round(s.temp));
    f.power.add(l, std::round(std::max(30.0, watts) * 10) / 10);
    f.sm.add(l, mhz * 1e6);
  }
  std::vector<MetricFamily> out;
  if (gpus_.empty()) return out;
  move_nonempty(out, {&f.util, &f.used, &f.total, &f.temp, &f.power, &f.sm});
  return out;
}

NvmlGpuCollector::NvmlGpuCollector(std::unique_ptr<hw::Nvml> nvml,
                                   std::vector<hw::Accelerator> gpus, EventSink on_event)
    : nvml_(std::move(nvml)), gpus_(std::move(gpus)), on_event_(std::move(on_event)) {
  // Without the event API, Xids are still in the kernel log (NVRM: Xid ...).
  events_ = nvml_->watch_events().has_value();
}

std::vector<MetricFamily> NvmlGpuCollector::collect() {
  NvmlFamilies f;
  auto find = [&](const std::string& pci) -> const hw::Accelerator* {
    for (const auto& g : gpus_) {
      if (g.pci.address == pci) return &g;
    }
    return nullptr;
  };
  if (events_) {
    for (const auto& e : nvml_->poll_events()) {
      if (e.kind == "xid") ++xids_[{e.pci_address, e.xid}];
      if (on_event_) on_event_(e, find(e.pci_address));
    }
  }
  for (const auto& [k, n] : xids_) {
    const hw::Accelerator* a = find(k.first);
    if (!a) continue;
    Labels l = gpu_labels(*a);
    l.emplace_back("xid", std::to_string(k.second));
    f.xid.add(std::move(l), static_cast<double>(n));
  }
  for (const auto& [pci, s] : nvml_->sample()) {
    if (const hw::Accelerator* a = find(pci)) f.add(gpu_labels(*a), s);
  }
  return f.take();
}

AmdGpuCollector::AmdGpuCollector(HostFs fs, std::vector<hw::Accelerator> gpus)
    : fs_(std::move(fs)) {
  for (auto& a : gpus) {
    Gpu g{std::move(a), "", ""};
    g.dev = "/sys/bus/pci/devices/" + g.accelerator.pci.address;
    if (auto hw = fs_.list(g.dev + "/hwmon")) {
      for (const auto& h : *hw) {
        if (h.rfind("hwmon", 0) == 0) {
          g.hwmon = g.dev + "/hwmon/" + h;
          break;
        }
      }
    }
    gpus_.push_back(std::move(g));
  }
}

namespace {

// What one AMD GPU's hwmon directory says: temperatures by sensor (the edge sensor, else the
// first, as the core temperature), power draw and cap, SM and memory clocks.
void read_hwmon(const HostFs& fs, const std::string& hwmon, const Labels& l, AmdFamilies& f) {
  auto num = [&](const std::string& path) -> std::optional<double> {
    auto v = fs.read_int(path);
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  std::optional<double> core;  // the edge sensor, else the first one
  for (int i = 1; i <= 8; ++i) {
    const std::string base = hwmon + "/temp" + std::to_string(i);
    auto v = num(base + "_input");
    if (!v) continue;
    std::string label = "temp" + std::to_string(i);
    if (auto lab = fs.read_attr(base + "_label")) label = *lab;
    Labels r = l;
    r.emplace_back("sensor", label);
    f.sensors.add(std::move(r), *v / 1000);
    if (label == "edge" || !core) core = *v / 1000;
  }
  if (core) f.temp.add(l, *core);
  auto watts = num(hwmon + "/power1_average");
  if (!watts) watts = num(hwmon + "/power1_input");
  if (watts) f.power.add(l, *watts / 1e6);
  if (auto v = num(hwmon + "/power1_cap")) f.limit.add(l, *v / 1e6);
  for (int i = 1; i <= 2; ++i) {
    const std::string base = hwmon + "/freq" + std::to_string(i);
    auto v = num(base + "_input");
    if (!v) continue;
    auto lab = fs.read_attr(base + "_label");
    const std::string label = lab ? *lab : (i == 1 ? "sclk" : "mclk");
    if (label == "sclk") f.sm.add(l, *v);
    if (label == "mclk") f.memclk.add(l, *v);
  }
}

}  // namespace

std::vector<MetricFamily> AmdGpuCollector::collect() {
  AmdFamilies f;
  auto num = [&](const std::string& path) -> std::optional<double> {
    auto v = fs_.read_int(path);
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  for (const auto& g : gpus_) {
    Labels l = gpu_labels(g.accelerator);
    if (auto v = num(g.dev + "/gpu_busy_percent")) f.util.add(l, *v / 100);
    if (auto v = num(g.dev + "/mem_busy_percent")) f.mem_util.add(l, *v / 100);
    if (auto v = num(g.dev + "/mem_info_vram_used")) f.used.add(l, *v);
    if (auto v = num(g.dev + "/mem_info_vram_total")) f.total.add(l, *v);
    if (auto v = num(g.dev + "/pcie_replay_count")) f.replays.add(l, *v);
    if (auto ras = fs_.read(g.dev + "/ras/umc_err_count")) {
      // "ue: N\nce: M"
      for (auto [key, type] : {std::pair{"ue:", "uncorrected"}, std::pair{"ce:", "corrected"}}) {
        auto p = ras->find(key);
        if (p == std::string::npos) continue;
        Labels r = l;
        r.emplace_back("type", type);
        f.ecc.add(std::move(r), std::strtod(ras->c_str() + p + 3, nullptr));
      }
    }
    if (!g.hwmon.empty()) read_hwmon(fs_, g.hwmon, l, f);
  }
  return f.take();
}

}  // namespace aion::telemetry
