// GPU fragmentation against a target workload (Weng et al., "Beware of Fragmentation:
// Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC '23).
//
// The target workload is a distribution over pod types: the distinct (CPU, GPU count, GPU
// share, models) requests of a trace, weighted by how often they occur, keeping the most
// popular types until they cover `coverage` of the pods (the paper's simulator uses 95%, CPU-
// only pods included) and renormalised.
//
// A node's fragmentation is the expected amount of its unallocated GPU (milli-GPU) that a pod
// drawn from that distribution cannot use: for a type that fits the node (CPU, model and
// enough GPUs with its share left) only the GPUs with less than its share left count; for a
// type that does not fit, or a CPU-only type, all unallocated GPU counts. FGD places a pod
// where this measure grows least. Plain functions and values; thread-safe for reading.
#pragma once

#include <cstdint>
#include <vector>

#include "aion/cluster/cluster.h"

namespace aion::cluster {

struct PodType {
  std::int64_t cpu_milli = 0;
  int num_gpu = 0;
  int gpu_milli = 0;
  ModelMask models = kAnyModel;
  double weight = 0;  // probability; the weights of a distribution sum to 1
};

class WorkloadDistribution {
 public:
  WorkloadDistribution() = default;
  explicit WorkloadDistribution(std::vector<PodType> types);

  // The popular types of `pods`, most popular first, covering at least `coverage` (0, 1] of
  // them. Ties in popularity are ordered by larger CPU, share, GPU count, then model mask.
  static WorkloadDistribution from_requests(const std::vector<PodRequest>& pods,
                                            double coverage = 0.95);

  const std::vector<PodType>& types() const { return types_; }
  // Total weight of CPU-only types: their term is weight x all unallocated GPU.
  double cpu_only_weight() const { return cpu_only_weight_; }

 private:
  std::vector<PodType> types_;  // GPU types only
  double cpu_only_weight_ = 0;
};

// Fragmentation of a node state (milli-GPU): `gpu_left` holds `gpus` values, `model` is the
// node's model index (-1: none).
double fragmentation(std::int64_t cpu_left, int model, const std::int16_t* gpu_left, int gpus,
                     const WorkloadDistribution& dist);

// Of node `n` of the cluster as it is now.
double fragmentation(const Cluster& c, int n, const WorkloadDistribution& dist);

}  // namespace aion::cluster
