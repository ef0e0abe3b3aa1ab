// PodDemand: what a pod asks of a node, from its containers' resource requests (limits when a
// request is missing) and aion's annotations (aion.io/gpu-share, aion.io/gpu-model; see
// extender.h), and the Kubernetes quantity syntax they are written in. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aion/core/error.h"

namespace aion::k8s {

// What the pod asks for, from the ExtenderArgs' pod.
struct PodDemand {
  std::string name;  // namespace/name
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  int num_gpu = 0;
  int gpu_milli = 0;     // per GPU: 1000, or the share
  std::string gpu_spec;  // accepted models, "|"-separated; "" = any
};
// kInvalidArgument for a malformed pod (bad quantity, share out of range, share with > 1 GPU).
Result<PodDemand> pod_demand(std::string_view pod_json, std::string_view gpu_resource);

// Parses a Kubernetes quantity ("500m", "2", "1.5", "1Gi", "512Mi", "1G", "1e3") scaled by
// `scale` (1000 for milli-CPU; 1 for plain units), rounded up. kInvalidArgument when malformed.
Result<std::int64_t> parse_quantity(std::string_view text, double scale);

}  // namespace aion::k8s
