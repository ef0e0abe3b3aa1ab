// The search context of one place() call (placement.h): what it knows about the node,
// computed once so that scoring a GPU set reads flat arrays and allocates nothing, and the
// CPU choice every kind of placement shares. Internal to placement; a Search lives on the
// caller's stack for one call and is not thread-safe: it is not shared between threads.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "aion/sched/placement.h"

namespace aion::sched::detail {

using LinkLevel = hw::LinkLevel;
using Mask = std::uint64_t;  // a set of GPUs by index

constexpr double kEps = 1e-9;
// GPU sets are 64-bit masks; GPUs past the 64th are never placed on (no real node has that
// many: one OS image sees at most 16 today).
constexpr int kMaxGpus = 64;
// "No partner": worse than any LinkLevel.
constexpr int kNoPartner = static_cast<int>(LinkLevel::kSys) + 1;
// ACPI SLIT defaults when the firmware gives no distance.
constexpr int kLocalDistance = 10;
constexpr int kRemoteDistance = 20;

inline Mask bit(int i) {
  return Mask{1} << i;
}

// Whether GPU g is of the model the request names (case-insensitive substring; "" = any).
bool model_matches(const GpuSlot& g, const Request& r);

// What one place() call knows about the node, computed once so that scoring a GPU set reads
// flat arrays and allocates nothing.
class Search {
 public:
  Search(const NodeModel& m, const NodeState& s, const Request& r);

  int gpu_count() const { return n_; }
  Mask matching() const { return matching_; }
  Mask free() const { return free_; }
  int level(int i, int j) const { return level_[i * n_ + j]; }
  int links(int i, int j) const { return links_[i * n_ + j]; }
  int dist(int i, int j) const { return dist_[i * n_ + j]; }
  int max_links() const { return max_links_; }
  int max_dist() const { return max_dist_; }
  int free_cpus_total() const { return free_cpus_total_; }
  int free_cpus_on(int numa_index) const { return free_cpus_[numa_index]; }
  int numa_of_gpu(int g) const { return numa_of_gpu_[g]; }

  bool cpu_free(int c) const { return s_.cpu_load(c) < s_.cpu_overcommit(); }

  int numa_distance(int a, int b) const {
    if (a < 0 || b < 0) return kLocalDistance;  // unknown: no preference either way
    const auto& d = m_.numa[a].distances;
    if (static_cast<int>(d.size()) > b && d[b] > 0) return d[b];
    return a == b ? kLocalDistance : kRemoteDistance;
  }

  // The best link from g to another GPU of `among` (kNoPartner when there is none).
  int best_partner(int g, Mask among) const {
    int best = kNoPartner;
    for (Mask rest = among & ~bit(g); rest; rest &= rest - 1)
      best = std::min(best, level(g, std::countr_zero(rest)));
    return best;
  }

  // The largest group of GPUs in `cand` all pairwise linked at the island level (branch and
  // bound; instant for the <= 16 GPUs of a real node).
  int largest_island(Mask cand) const { return clique(cand, 0, 0); }

  // Free GPUs left in `rest` whose best free partner is now worse than before.
  int worsened(Mask rest) const {
    int n = 0;
    for (Mask r = rest; r; r &= r - 1) {
      int g = std::countr_zero(r);
      if (best_partner(g, rest) > best_before_[g]) ++n;
    }
    return n;
  }

  // "NVLink", "XGMI", or the PCIe level the islands are linked at.
  std::string island_name() const;

 private:
  int clique(Mask cand, int size, int best) const {
    if (!cand) return std::max(size, best);
    if (size + std::popcount(cand) <= best) return best;
    int v = std::countr_zero(cand);
    best = clique(cand & adj_[v], size + 1, best);
    return clique(cand & ~bit(v), size, best);
  }

  const NodeModel& m_;
  const NodeState& s_;
  int n_ = 0;
  std::vector<int> numa_of_gpu_;           // index into m_.numa, -1 unknown
  std::vector<int> level_, links_, dist_;  // n_ x n_
  int max_links_ = 0, max_dist_ = kLocalDistance;
  Mask matching_ = 0, free_ = 0;
  int island_level_ = kNoPartner;
  std::array<Mask, kMaxGpus> adj_{};
  std::array<int, kMaxGpus> best_before_{};
  std::vector<int> free_cpus_;
  int free_cpus_total_ = 0;
};

// request.cpus CPUs: first from the NUMA nodes in `first` (indices into model.numa), taken in
// turn so that every GPU's node gets its part; then from the other nodes, nearest first;
// always the least loaded CPUs first. Sets cpus and mems.
void allocate_cpus(const NodeModel& m, const NodeState& s, const Search& ctx,
                   const std::vector<int>& first, int want, Allocation& a);
// The node a CPU-only job (or a GPU job whose GPUs have no known node) starts on: most free
// CPUs, then fewest free GPUs attached (keep CPUs next to free GPUs for GPU jobs).
std::vector<int> cpu_only_start_order(const NodeModel& m, const Search& ctx);
// The CPUs of a GPU job: from its GPUs' nodes, the node with most of them first.
void allocate_cpus_for_gpus(const NodeModel& m, const NodeState& s, const Search& ctx,
                            const Request& r, Allocation& a);

}  // namespace aion::sched::detail
