// Cluster traces: the node and pod lists a simulation replays, read from the CSV layout of the
// Alibaba cluster-trace-gpu-v2023 ("openb") and validated on load.
//
// Nodes: sn, cpu_milli, memory_mib, gpu, model. Pods: name, cpu_milli, memory_mib, num_gpu,
// gpu_milli and optionally gpu_spec (allowed models, "|"-separated), creation_time and
// deletion_time (seconds); other columns are ignored. Columns are found by header name, so
// their order does not matter. Errors name the file, line and column ("pods.csv:12:4
// (num_gpu): ..."). Plain functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::cluster {

inline constexpr int kMilli = 1000;        // one whole GPU in milli-GPU
inline constexpr int kMaxGpusPerNode = 8;  // the widest node the simulator models

struct NodeSpec {
  std::string name;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  int gpus = 0;       // 0..kMaxGpusPerNode
  std::string model;  // empty for a CPU-only node
};

struct PodSpec {
  std::string name;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_mib = 0;
  int num_gpu = 0;                  // GPUs; 1 with gpu_milli < 1000 is a share of one GPU
  int gpu_milli = 0;                // per GPU: 0 for CPU-only pods, 1000 when num_gpu > 1
  std::string gpu_spec;             // "V100M16|V100M32"; empty = any model
  std::int64_t creation_time = -1;  // seconds from trace start; -1 when the file has none
  std::int64_t deletion_time = -1;
};

// Parse CSV text; `source` names it in error messages (usually the file path).
Result<std::vector<NodeSpec>> parse_nodes(std::string_view text, std::string_view source);
Result<std::vector<PodSpec>> parse_pods(std::string_view text, std::string_view source);

// Read and parse a file (kNotFound when it cannot be read).
Result<std::vector<NodeSpec>> load_nodes(const std::string& path);
Result<std::vector<PodSpec>> load_pods(const std::string& path);

}  // namespace aion::cluster
