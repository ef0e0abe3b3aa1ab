// recommend(): which profile suits this node, from its hardware and, when aiond has been
// collecting, from recent GPU telemetry. A pure function (thread-safe): the CLI gathers the
// inputs.
//
// Rules, in order: no accelerator -> "throughput" on a multi-socket or many-core machine,
// else "balanced"; with telemetry, sustained GPU use (mean >= 50%) -> "ai-training", bursty
// use (mean < 35% with a p95 at least twice the mean and above 50%) -> "ai-inference";
// without telemetry, RDMA NICs or several GPUs -> "ai-training" (distributed or multi-GPU
// training is the common case for such nodes), a single GPU without RDMA -> "ai-inference".
// Every rule that fired is listed in `reasons`.
#pragma once

#include <string>
#include <vector>

#include "aion/hw/inventory.h"

namespace aion::tune {

struct TelemetrySummary {
  bool available = false;
  std::string note;             // why not, or where it came from
  double window_hours = 0;      // how far back it looked
  std::size_t gpu_samples = 0;  // aggregated points of GPU utilisation
  double gpu_util_mean = 0;     // 0..1
  double gpu_util_p95 = 0;      // 0..1
  int jobs_seen = -1;           // jobs with metrics in the window; -1 unknown
};

struct Recommendation {
  std::string profile;
  std::vector<std::string> reasons;
};

Recommendation recommend(const hw::Inventory& inventory, const TelemetrySummary& telemetry);

// The mean and p95 of a set of 0..1 samples into a summary (helpers for the CLI and tests).
void summarize_gpu_utilization(const std::vector<double>& samples, TelemetrySummary& out);

}  // namespace aion::tune
