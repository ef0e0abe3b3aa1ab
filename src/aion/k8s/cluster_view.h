// ClusterView: aion's view of every node for the scheduler extender, read from a node state
// file (JSON, schema_version 1; the format is described in extender.h): each node's GPUs,
// model, CPU and memory with what is in use, and the target workload FGD measures against.
// Plain values; parsing is a pure function, loading a thin wrapper over the file; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aion/cluster/fragmentation.h"
#include "aion/cluster/trace.h"
#include "aion/core/error.h"

namespace aion::k8s {

struct NodeView {
  cluster::NodeSpec spec;  // cpu_milli / memory_mib are "unlimited" when the file omits them
  std::int64_t cpu_used_milli = 0;
  std::int64_t memory_used_mib = 0;
  std::vector<int> gpu_used_milli;  // per GPU, 0..1000
};

struct ClusterView {
  std::vector<NodeView> nodes;
  std::vector<cluster::PodType> workload;  // model masks are kAnyModel
};

// Parses a node state file's text; `source` names it in errors (kParse).
Result<ClusterView> parse_cluster_view(std::string_view json, std::string_view source);
Result<ClusterView> load_cluster_view(const std::string& path);

}  // namespace aion::k8s
