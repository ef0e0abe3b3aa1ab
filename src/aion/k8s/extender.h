// The Kubernetes scheduler extender: kube-scheduler's HTTP JSON extender interface (filter and
// prioritize verbs), answered from aion's view of every node with a cluster placement policy
// (aion/cluster/policy.h, FGD by default): the same scoring `aion sim` replays.
//
// The view is a node state file (JSON, schema_version 1), written by whatever collects it
// (an agent per node, a controller, a test):
//   {"schema_version": 1,
//    "nodes": [{"name": "gpu-a", "gpus": 8, "model": "A100-SXM4-80GB",
//               "cpu_milli": 128000, "memory_mib": 1048576,            (optional)
//               "cpu_used_milli": 0, "memory_used_mib": 0,             (optional)
//               "gpu_used_milli": [1000, 500, 0, 0, 0, 0, 0, 0]}],     (optional)
//    "workload": [{"cpu_milli": 4000, "num_gpu": 1, "gpu_milli": 500, "weight": 0.6}, ...]}
// A node without cpu_milli/memory_mib is not limited by them (kube-scheduler checks those
// itself). "workload" is the target distribution FGD measures fragmentation against; without
// it, the pod being placed is the workload.
//
// The pod's demand: the sum over its containers (the larger of that and any init container)
// of resources.requests (limits when a request is missing) for cpu, memory and the GPU
// resource (default "nvidia.com/gpu"), plus two annotations of ours:
//   aion.io/gpu-share: "0.25"    a share of one GPU, 0 < share < 1 (the pod then asks for at
//                                most 1 of the GPU resource)
//   aion.io/gpu-model: "A100-SXM4-80GB|H100-SXM5-80GB"   GPU models it accepts
// Filter keeps the nodes where the pod fits now; nodes it can never fit (too few GPUs, other
// model, unknown to aion) are failedAndUnresolvable (preemption would not help), the others
// failedNodes. Prioritize scores the nodes with the policy and maps the scores linearly onto
// 0..10 (kube-scheduler's MaxExtenderPriority): the policy's best node gets 10, its worst
// fitting node 0, nodes where the pod does not fit 0; a higher policy score never gets a lower
// number. Immutable after create(); thread-safe: filter() and prioritize() may be called from
// any thread at once (each call has its own Rng and reads the cluster view only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/k8s/cluster_view.h"
#include "aion/k8s/pod_demand.h"

namespace aion::k8s {

struct ExtenderOptions {
  std::string policy = "fgd";
  std::string gpu_resource = "nvidia.com/gpu";
};

class Extender {
 public:
  // kInvalidArgument for an unknown policy, kInvalidArgument/kParse for a bad view.
  static Result<std::unique_ptr<Extender>> create(ExtenderOptions options, ClusterView view);
  ~Extender();

  // ExtenderArgs JSON in; ExtenderFilterResult / HostPriorityList JSON out. A malformed body
  // is kInvalidArgument (answered 400); a pod that cannot be understood is reported in the
  // result's "error" field (filter) as kube-scheduler expects.
  Result<std::string> filter(std::string_view extender_args) const;
  Result<std::string> prioritize(std::string_view extender_args) const;

  const ExtenderOptions& options() const { return options_; }

 private:
  struct State;
  Extender(ExtenderOptions options, std::unique_ptr<State> state);
  ExtenderOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace aion::k8s
