// Cluster state for placement: what every node has left, in flat arrays, and the requests
// placed on it. The node scheduler's single-node view lives in sched/placement.h; this is the
// many-node view the simulator and a Kubernetes extender score against.
//
// A node has CPU (milli), memory (MiB) and up to kMaxGpusPerNode GPUs of one model, each with
// kMilli milli-GPU. A pod (PodRequest) takes CPU, memory and either whole GPUs or a share of
// one GPU (num_gpu == 1, gpu_milli < 1000). Every change bumps the node's version, so callers
// can cache per-node results. Not thread-safe to change; its const members only read, so a
// Cluster nobody changes may be read from several threads (the extender does); copies are
// independent.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/cluster/trace.h"
#include "aion/core/error.h"

namespace aion::cluster {

// Which models a pod accepts: a bit per model of the cluster (ModelIndex). kAnyModel = all.
using ModelMask = std::uint32_t;
inline constexpr ModelMask kAnyModel = ~ModelMask{0};

// Pod kinds used when counting failures: CPU-only, GPU share, 1, 2, 4, 8 GPUs, other.
enum class PodKind : std::uint8_t { kCpu, kShare, kOne, kTwo, kFour, kEight, kOther };
inline constexpr int kPodKinds = 7;
std::string_view to_string(PodKind kind);

struct PodRequest {
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  int num_gpu = 0;
  int gpu_milli = 0;  // per GPU
  ModelMask models = kAnyModel;
  // Index of its (cpu, num_gpu, gpu_milli, models) shape among the requests being replayed;
  // the simulator caches policy scores by it.
  int shape = 0;

  bool is_share() const { return num_gpu == 1 && gpu_milli < kMilli; }
  std::int64_t total_gpu_milli() const { return std::int64_t{num_gpu} * gpu_milli; }
  PodKind kind() const;
};

// A set of GPUs on one node, bit i = GPU i.
using GpuMask = std::uint8_t;

class Cluster {
 public:
  // Fails (kInvalidArgument) on more than 32 GPU models.
  static Result<Cluster> create(const std::vector<NodeSpec>& nodes);

  int size() const { return static_cast<int>(cpu_left_.size()); }
  const std::string& name(int n) const { return names_[n]; }
  const std::vector<std::string>& models() const { return models_; }

  // The request for `pod`, with its model mask resolved against this cluster's models (a
  // gpu_spec naming no model of the cluster gives mask 0: it never fits).
  PodRequest request(const PodSpec& pod) const;

  std::int64_t cpu_capacity(int n) const { return cpu_cap_[n]; }
  std::int64_t cpu_left(int n) const { return cpu_left_[n]; }
  std::int64_t memory_left(int n) const { return mem_left_[n]; }
  int gpu_count(int n) const { return gpu_count_[n]; }
  int model(int n) const { return model_[n]; }  // -1 for a CPU-only node
  const std::int16_t* gpu_left(int n) const { return &gpu_left_[std::size_t(n) * kMaxGpusPerNode]; }
  int gpu_left_total(int n) const;
  int free_gpus(int n) const;  // GPUs with nothing on them
  std::uint32_t version(int n) const { return version_[n]; }
  // Pods on the node by affinity class: [0] shares, [k] k-GPU pods (k = 1..8).
  const std::array<std::uint16_t, 9>& affinity(int n) const { return affinity_[n]; }
  int affinity_classes(int n) const;  // how many classes have pods

  std::int64_t gpu_capacity_milli() const { return gpu_capacity_milli_; }
  std::int64_t gpu_allocated_milli() const { return gpu_allocated_milli_; }

  // Whether the pod fits the node now: CPU, memory, model, and a GPU with the share left or
  // enough free GPUs.
  bool fits(int n, const PodRequest& pod) const;

  // The GPUs a pod takes when the policy has no opinion: for a share, the GPU with the least
  // left that still fits it (lowest index on ties); whole GPUs: the lowest-indexed free ones.
  // 0 when nothing fits (CPU-only pods also get 0).
  GpuMask best_fit_gpus(int n, const PodRequest& pod) const;

  // Place or remove a pod on the GPUs of `gpus` (each takes gpu_milli). The caller checked
  // fits(); remove() must get what allocate() got.
  void allocate(int n, const PodRequest& pod, GpuMask gpus);
  void release(int n, const PodRequest& pod, GpuMask gpus);

 private:
  void apply(int n, const PodRequest& pod, GpuMask gpus, int sign);

  std::vector<std::string> names_;
  std::vector<std::string> models_;
  std::vector<std::int64_t> cpu_cap_, cpu_left_, mem_left_;
  std::vector<std::int8_t> gpu_count_;
  std::vector<std::int8_t> model_;
  std::vector<std::int16_t> gpu_left_;  // kMaxGpusPerNode per node
  std::vector<std::uint32_t> version_;
  std::vector<std::array<std::uint16_t, 9>> affinity_;
  std::int64_t gpu_capacity_milli_ = 0;
  std::int64_t gpu_allocated_milli_ = 0;
};

}  // namespace aion::cluster
