// Placement: where on this node a job should run. A pure library: input = the node's
// topology (NodeModel, built from an hw::Inventory), what is allocated now (NodeState) and a
// request; output = a ranked list of candidate allocations with scores, or the reason none
// fits. No cgroups, no processes, no clock: the cluster simulator and the Kubernetes extender
// reuse it as is. Thread-safe: place() only reads the model and state it is given (no
// shared state), so calls on different NodeStates, or on one nobody changes, may run at once.
//
// What a GPU expert would choose:
//  - an N-GPU set with the best interconnect (NVLink/XGMI > same PCIe switch > several
//    switches > same host bridge > same NUMA node > across sockets), judged by its worst pair
//    first and then by the sum over its pairs;
//  - among equally connected sets, the one that leaves the free GPUs best connected (do not
//    break up an NVLink island when another choice exists; prefer the GPU set whose removal
//    keeps the largest fully linked free group intact);
//  - CPUs from the NUMA nodes local to those GPUs (then the nearest nodes by NUMA distance),
//    least loaded first, and memory bound to the nodes those CPUs are on;
//  - fractional jobs (a share of one GPU) go to the GPU that already has shares and still
//    fits them (best fit), so whole GPUs stay free for whole-GPU jobs; or, when the caller
//    names a placement policy of the cluster library (PlaceOptions), to the GPU that policy
//    picks with this node seen as a one-node cluster (fgd: the GPU whose choice grows the
//    node's fragmentation least against the node's own workload), best fit ordering the rest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/hw/inventory.h"
#include "aion/sched/node_model.h"

namespace aion::cluster {
class Policy;
struct PodRequest;
}  // namespace aion::cluster

namespace aion::sched {

struct Request {
  int gpus = 0;                        // whole GPUs (gang: all at once or nothing)
  double gpu_fraction = 0;             // a share of one GPU, in (0, 1); 0 = none
  std::uint64_t gpu_memory_bytes = 0;  // GPU memory of a share (0: fraction x GPU memory)
  std::string gpu_model;               // case-insensitive substring of the model; "" = any
  // The kind of accelerator ("gpu", "npu", "vector", ...); "" = the node's default kind
  // (GpuSlot::default_kind), which is what `--gpus` asks for.
  std::string accel_kind;
  int cpus = 1;                    // logical CPUs, >= 1
  std::uint64_t memory_bytes = 0;  // host memory limit; 0 = none reserved
};

struct Candidate {
  Allocation allocation;
  double score = 0;  // higher is better; comparable only within one result
  std::string why;  // "NV12 between all 4 GPUs; CPUs on NUMA 0,1; leaves a 4-GPU NVLink group free"
};

struct PlacementResult {
  std::vector<Candidate> candidates;  // best first; empty when nothing fits now
  std::string reason;                 // when empty: "needs 4 GPUs, 2 free"
};

// The cluster library's view of a request (cluster/cluster.h): CPU in milli, memory in MiB, a
// share as one GPU with gpu_milli < 1000, whole GPUs at 1000 each. Models are not mapped.
cluster::PodRequest pod_request(const Request& request);

struct PlaceOptions {
  // Picks the GPU of a share (see above); null: best fit. Only for nodes whose GPUs matching
  // the request are at most 8 (the cluster library's node size); larger ones use best fit.
  const cluster::Policy* share_policy = nullptr;
  std::uint64_t seed = 0;  // of the policy's random choices (the random policy, ties)
};

// Whether the request could ever fit this node (even with nothing else running). An error of
// kind kInvalidArgument with a message a user can act on: "asks for 9 GPUs, the node has 8",
// "no GPU matches model 'H100' (the node has: A100-SXM4-80GB x8)", "asks for 300 GiB of
// memory, the node has 250 GiB allocatable", "a GPU share needs 0 < fraction < 1", ...
// gpu_memory_bytes is only for a share: with whole GPUs it is an error, not ignored.
Status check_request(const NodeModel& model, const Request& request);

// The candidates for `request` given `state`, best first, at most `max_candidates` (>= 1),
// each with a distinct GPU set (CPU-only jobs: distinct CPU sets). A request check_request()
// rejects gives no candidate and its message as the reason. Whole-GPU sets are ranked by, in
// this order: worst pair link, sum of pair links (more NVLink links better), the largest
// fully linked group of free GPUs left and how many free GPUs lose their best partner, the
// NUMA distance between the GPUs, and how many requested CPUs their own nodes cannot give.
// Every set is scored while there are at most 5,000 of them, else sets grown greedily from
// each free GPU are. A GPU of unknown memory (0) does not limit shares. Only the first 64
// GPUs of a model are placed on. Microseconds for an 8-GPU node; allocates only per result.
PlacementResult place(const NodeModel& model, const NodeState& state, const Request& request,
                      int max_candidates = 4, const PlaceOptions& options = {});

}  // namespace aion::sched
