// The node as placement sees it: NodeModel (its GPUs, how they link, its NUMA nodes, CPUs
// and allocatable memory, built once from an hw::Inventory) and NodeState (what jobs hold
// now), with Allocation, what one job holds. Plain values: a NodeModel is immutable once
// built; a NodeState is not thread-safe (its owner serialises add/remove), copies are
// independent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/hw/inventory.h"
#include "aion/hw/topology.h"

namespace aion::sched {

// One accelerator as placement sees it.
struct GpuSlot {
  std::string pci_address;
  std::string vendor;        // the vendor key of data/hw/accelerators.toml, or "generic"
  std::string kind = "gpu";  // "gpu", "npu", "vector", ...
  // True for the kind a request without one gets: "gpu" when the node has GPUs, else the
  // node's only kind (an Ascend node's NPUs); on a node of several kinds without GPUs, none.
  bool default_kind = true;
  std::string model;
  int vendor_index = 0;  // index within its vendor: what CUDA_VISIBLE_DEVICES etc. take
  int module_id = -1;    // the vendor's module id when it numbers cards so (Gaudi)
  std::string uuid;
  std::uint64_t memory_bytes = 0;
  int numa_node = -1;    // the node with CPUs it is local to
  int memory_node = -1;  // its own memory as a NUMA node (GPU memory over NVLink); -1: none
  bool simulated = false;
  bool usable = true;  // false when the GPU is lost or in error: never placed on
};

struct NumaInfo {
  int id = 0;
  std::vector<int> cpus;  // logical CPU ids
  std::uint64_t memory_bytes = 0;
  std::vector<int> distances;  // to every node, in `numa` order (SLIT; 10 = self)
  // A node without CPUs (a memory tier, HBM, CXL): the node with CPUs it belongs with; -1
  // for a node with CPUs, and for a device's own memory (that goes with the device).
  int near = -1;
};

struct NodeModel {
  std::vector<GpuSlot> gpus;
  // links[i][j]: how GPU i and GPU j connect (kSelf on the diagonal).
  std::vector<std::vector<hw::LinkLevel>> links;
  // nvlink[i][j]: NVLink/XGMI link count between them (0 when not linked directly).
  std::vector<std::vector<int>> link_count;
  std::vector<NumaInfo> numa;  // at least one node (a machine without NUMA gets node 0)
  int cpu_count = 0;           // logical CPUs (the highest id + 1 over all nodes)
  // Per CPU id: the kind of core it is on a hybrid CPU, higher is faster (hw CpuKind
  // efficiency rank); empty when all cores are alike.
  std::vector<int> cpu_rank;
  std::uint64_t memory_bytes = 0;  // allocatable memory (see `reserved_memory_bytes`)
};

struct ModelOptions {
  std::uint64_t reserved_memory_bytes = 0;  // kept back for the OS and aiond
};

// Builds the model from an inventory (uses hw::build_topology for the GPU links).
NodeModel make_node_model(const hw::Inventory& inv, const ModelOptions& options = {});

// What one job holds.
struct Allocation {
  std::vector<int> gpus;               // indices into NodeModel::gpus
  double gpu_fraction = 0;             // > 0: a share of gpus[0]
  std::uint64_t gpu_memory_bytes = 0;  // the share's GPU memory
  std::vector<int> cpus;               // logical CPU ids, ascending
  std::vector<int> mems;               // NUMA node ids, ascending
  std::uint64_t memory_bytes = 0;
};

// The memory nodes a job holding `a` may use beyond those of its CPUs (a.mems): the
// CPU-less nodes that belong with those (memory tiers, HBM, CXL), and the memory of its
// accelerators when that is a NUMA node. Ascending, none of a.mems among them.
std::vector<int> extra_memory_nodes(const NodeModel& m, const Allocation& a);

// What is in use now. Cheap to copy for a few hundred GPUs/CPUs. add()/remove() take
// allocations made for the same model (indices out of range are ignored); remove() must get
// what add() got. Not thread-safe; copies are independent.
class NodeState {
 public:
  // cpu_overcommit: how many jobs may share one CPU (1 = every job has its CPUs to itself).
  explicit NodeState(const NodeModel& model, int cpu_overcommit = 1);

  void add(const Allocation& a);
  void remove(const Allocation& a);

  bool gpu_whole_free(int gpu) const;  // no whole-GPU job and no share on it
  double gpu_fraction_used(int gpu) const;
  std::uint64_t gpu_memory_used(int gpu) const;  // by shares
  int cpu_load(int cpu) const;                   // jobs on that CPU
  std::uint64_t memory_used() const;
  int cpu_overcommit() const { return overcommit_; }

 private:
  void apply(const Allocation& a, int sign);  // sign +1: add, -1: remove

  int overcommit_ = 1;
  std::vector<bool> gpu_whole_;
  std::vector<double> gpu_frac_;
  std::vector<std::uint64_t> gpu_mem_;
  std::vector<int> cpu_load_;
  std::uint64_t memory_used_ = 0;
};

}  // namespace aion::sched
