// Placement policies for a cluster of GPU nodes: one library for the simulator, the Kubernetes
// scheduler extender and any caller that ranks nodes for a pod.
//
// A policy scores a node that fits a pod (Cluster::fits) and names the GPUs the pod would take
// there. The caller scores every fitting node, keeps the highest score and breaks ties
// uniformly at random, as kube-scheduler's selectHost does. The paper's baselines reproduce the
// integer scores of its open simulator (0..100), so ties happen exactly where they happen
// there:
//   random      every node ties; a share goes to a random GPU that fits it
//   dotprod     Tetris-style alignment: 1 - <left, request>/2 with CPU and GPU normalised by
//               the largest node (128 cores, 8 GPUs); higher when the dot product is smaller
//   clustering  nodes already running pods of the same kind (share, k-GPU) first, then empty
//               nodes, then mixed ones; within a band, the fuller node
//   packing     shares onto partly used GPUs, then free GPUs of used nodes, then empty nodes
//   bestfit     least CPU + GPU left after placement (half weight each, normalised)
//   fgd         fragmentation gradient descent: the node and GPU whose fragmentation
//               (fragmentation.h) grows least; score sigmoid(-delta / 1000 milli-GPU) x 100
//   fgd-pack    ours: FGD's score, and among equal scores a node already in use before an
//               empty one, so empty nodes stay whole for multi-GPU pods longer whatever the
//               caller's tie rule (with uniform ties it strands about half what fgd does on
//               the Alibaba trace; see README, Cluster simulator)
// Policies are immutable after construction and thread-safe to share between threads; score()
// uses only the Rng it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "aion/cluster/cluster.h"
#include "aion/cluster/fragmentation.h"
#include "aion/core/error.h"

namespace aion::cluster {

using Rng = std::mt19937_64;

struct Choice {
  double score = 0;  // higher is better; ties are broken at random by the caller
  GpuMask gpus = 0;  // the GPUs to use (0 for a CPU-only pod)
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;

  // Scores placing `pod` on node `n`, which fits it. `node_frag` is fragmentation(c, n, dist)
  // for the policy's distribution, which callers keep up to date anyway; policies that do not
  // need it ignore it.
  virtual Choice score(const Cluster& c, int n, const PodRequest& pod, double node_frag,
                       Rng& rng) const = 0;

  // True when score() depends only on the node's state and the pod's shape (not on the Rng),
  // so a caller may cache it per (node version, shape).
  virtual bool deterministic() const { return true; }

  // The target workload the policy measures fragmentation against (fgd, fgd-pack); null for
  // the others. Callers pass fragmentation(c, n, *workload()) as score()'s node_frag.
  virtual const WorkloadDistribution* workload() const { return nullptr; }
};

// The policy names make_policy() knows, in the order reports list them.
const std::vector<std::string_view>& policy_names();

// A policy by name (case-insensitive). `dist` is the target workload for fgd and fgd-pack (it
// must outlive the policy); others ignore it. kInvalidArgument for an unknown name.
Result<std::unique_ptr<Policy>> make_policy(std::string_view name,
                                            const WorkloadDistribution* dist);

// Ranks all nodes for one pod: the chosen node (-1 when none fits) and its GPUs. `node_frag`
// holds fragmentation() of every node (may be empty for policies that ignore it).
struct Decision {
  int node = -1;
  GpuMask gpus = 0;
  double score = 0;
};
Decision place(const Cluster& c, const Policy& policy, const PodRequest& pod,
               const std::vector<double>& node_frag, Rng& rng);

}  // namespace aion::cluster
