// Trace-driven cluster simulator: replays a pod list against a node list with placement
// policies and records how much GPU gets allocated as the workload arrives.
//
// Default protocol (Weng et al., ATC '23, and their open simulator): per seed, the trace's pods
// are shuffled, then random copies of trace pods are appended until the GPU requests reach
// `inflate` x the cluster's GPU capacity (the first copy that would pass it stops the loop; a
// trace already above it loses random pods instead). Pods arrive one at a time and never leave;
// a pod that fits no node fails. With `time_ordered`, pods instead arrive at creation_time and
// leave at deletion_time (departures first at equal times), with no shuffling or copies.
//
// At every whole percent of arrived GPU requests (requested milli-GPU of all arrived pods,
// placed or not, over capacity) the simulator records the state after the pod that reached it:
// GPU allocation ratio, unallocated GPU (100 - allocation), the fragmentation of all nodes
// against the trace's workload distribution and its share of the unallocated GPU, and failed
// pods by kind. Runs (policy x seed) are independent and go to `threads` worker threads; a run's
// result depends only on its policy and seed. simulate() is thread-safe; `progress` is called
// from worker threads, one call at a time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aion/cluster/cluster.h"
#include "aion/cluster/trace.h"
#include "aion/core/error.h"

namespace aion::cluster {

// How a node is chosen among equal top scores. kFirstInRandomOrder: the first in an order of
// the nodes shuffled once per run, which is how the paper's simulator behaves (its nodes get
// random name prefixes per run and it keeps the first top-scoring node); kUniform: uniformly
// at random per pod, as stock kube-scheduler does.
enum class TieBreak { kFirstInRandomOrder, kUniform };

struct SimOptions {
  std::vector<std::string> policies = {"fgd"};
  std::vector<std::uint64_t> seeds = {42};
  double inflate = 1.3;       // target GPU requests / capacity (shuffled protocol)
  bool time_ordered = false;  // replay creation/deletion times instead
  double coverage = 0.95;     // share of pods the target workload's popular types cover
  int threads = 2;
  TieBreak ties = TieBreak::kFirstInRandomOrder;
  std::function<void(int done, int total)> progress;  // after each run; may be empty
};

struct Sample {
  int arrived_pct = 0;         // this point: arrived GPU requests reached this % of capacity
  double allocated_pct = 0;    // allocated milli-GPU / capacity x 100
  double unallocated_pct = 0;  // 100 - allocated_pct
  double frag_gpus = 0;        // fragmented GPU (GPUs)
  double frag_rate_pct = 0;    // fragmented / unallocated GPU x 100
  std::array<int, kPodKinds> failed{};  // pods failed so far, by PodKind
};

struct Run {
  std::string policy;
  std::uint64_t seed = 0;
  std::vector<Sample> samples;  // by arrived_pct, 0, 1, 2, ... as far as arrivals reached
  int pods = 0;                 // pods that arrived
  std::array<int, kPodKinds> arrived{};
  std::array<int, kPodKinds> failed{};
  double seconds = 0;
  double decision_ns = 0;  // mean time to place one pod (all nodes scored)

  // The sample at `pct` % arrived; nullptr when arrivals never reached it.
  const Sample* at(int pct) const;
};

struct SimResult {
  int nodes = 0;
  double gpus = 0;        // capacity in GPUs
  int trace_pods = 0;     // pods in the pod list
  int pod_types = 0;      // types in the target workload distribution
  std::vector<Run> runs;  // policy-major, in the order of the options
  double seconds = 0;     // wall time of simulate()
};

// Runs every policy with every seed. kInvalidArgument for an unknown policy, an empty seed list
// or time_ordered on a pod list without creation times.
Result<SimResult> simulate(const std::vector<NodeSpec>& nodes, const std::vector<PodSpec>& pods,
                           const SimOptions& options);

// Mean over the runs of `policy` of a sample field at `pct` % arrived (only runs that reached
// it); NaN when none did.
double mean_at(const SimResult& r, const std::string& policy, int pct, double Sample::*field);
double stddev_at(const SimResult& r, const std::string& policy, int pct, double Sample::*field);

}  // namespace aion::cluster
