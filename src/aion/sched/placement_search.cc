#include "aion/sched/placement_search.h"

#include <cctype>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

namespace aion::sched::detail {
namespace {

// Case-insensitive substring test without allocating (called per GPU per place()).
bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// NUMA indices of the GPUs in `gpus` (unknown ones left out), distinct, the node with the
// most of them first.
std::vector<int> gpu_nodes(const Search& ctx, const std::vector<int>& gpus) {
  std::vector<std::pair<int, int>> count;  // (-GPUs on it, node)
  for (int g : gpus) {
    int k = ctx.numa_of_gpu(g);
    if (k < 0) continue;
    auto it = std::find_if(count.begin(), count.end(), [&](auto& e) { return e.second == k; });
    if (it == count.end())
      count.emplace_back(-1, k);
    else
      --it->first;
  }
  std::sort(count.begin(), count.end());
  std::vector<int> nodes;
  for (const auto& e : count) nodes.push_back(e.second);
  return nodes;
}

}  // namespace

bool model_matches(const GpuSlot& g, const Request& r) {
  // --accel takes a kind ("gpu", "npu") or, where two vendors make one kind, a vendor.
  bool kind =
      r.accel_kind.empty() ? g.default_kind : g.kind == r.accel_kind || g.vendor == r.accel_kind;
  return kind && contains_nocase(g.model, r.gpu_model);
}

Search::Search(const NodeModel& m, const NodeState& s, const Request& r) : m_(m), s_(s) {
  n_ = static_cast<int>(std::min<std::size_t>(m.gpus.size(), kMaxGpus));
  numa_of_gpu_.assign(n_, -1);
  for (int g = 0; g < n_; ++g) {
    for (std::size_t k = 0; k < m.numa.size(); ++k) {
      if (m.numa[k].id == m.gpus[g].numa_node) numa_of_gpu_[g] = static_cast<int>(k);
    }
  }
  level_.assign(n_ * n_, kNoPartner);
  links_.assign(n_ * n_, 0);
  dist_.assign(n_ * n_, kLocalDistance);
  for (int i = 0; i < n_; ++i) {
    for (int j = 0; j < n_; ++j) {
      int k = i * n_ + j;
      bool have = static_cast<int>(m.links.size()) > i && static_cast<int>(m.links[i].size()) > j;
      level_[k] = i == j ? 0 : have ? static_cast<int>(m.links[i][j]) : kNoPartner - 1;
      if (static_cast<int>(m.link_count.size()) > i && static_cast<int>(m.link_count[i].size()) > j)
        links_[k] = m.link_count[i][j];
      dist_[k] = numa_distance(numa_of_gpu_[i], numa_of_gpu_[j]);
      max_links_ = std::max(max_links_, links_[k]);
      max_dist_ = std::max(max_dist_, dist_[k]);
    }
  }
  // Which GPUs count here: usable, of the asked model, and for whole jobs also free.
  for (int g = 0; g < n_; ++g) {
    if (!m.gpus[g].usable || !model_matches(m.gpus[g], r)) continue;
    matching_ |= bit(g);
    if (s.gpu_whole_free(g)) free_ |= bit(g);
  }
  // Islands are groups linked at the best class of link this node has: NVLink/XGMI when
  // there is any, else the best PCIe level (PIX on a switch-based board, PHB, ...).
  int best = kNoPartner;
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j < n_; ++j)
      if (i != j && (matching_ & bit(i)) && (matching_ & bit(j)))
        best = std::min(best, level(i, j));
  island_level_ =
      best <= static_cast<int>(LinkLevel::kXgmi) ? static_cast<int>(LinkLevel::kXgmi) : best;
  adj_.fill(0);
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j < n_; ++j)
      if (i != j && level(i, j) <= island_level_) adj_[i] |= bit(j);
  for (int g = 0; g < n_; ++g) best_before_[g] = best_partner(g, free_);
  // CPUs a new job may use: load below the overcommit limit.
  free_cpus_.assign(m.numa.size(), 0);
  for (std::size_t k = 0; k < m.numa.size(); ++k) {
    for (int c : m.numa[k].cpus) {
      if (cpu_free(c)) ++free_cpus_[k];
    }
    free_cpus_total_ += free_cpus_[k];
  }
}

std::string Search::island_name() const {
  if (island_level_ <= static_cast<int>(LinkLevel::kXgmi)) {
    for (int i = 0; i < n_; ++i)
      for (int j = 0; j < n_; ++j)
        if (level(i, j) == static_cast<int>(LinkLevel::kNvlink)) return "NVLink";
    return "XGMI";
  }
  return hw::to_string(static_cast<LinkLevel>(std::min(island_level_, kNoPartner - 1)));
}

void allocate_cpus(const NodeModel& m, const NodeState& s, const Search& ctx,
                   const std::vector<int>& first, int want, Allocation& a) {
  std::vector<int> order(m.numa.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int>(k);
  auto first_pos = [&](int k) {
    auto it = std::find(first.begin(), first.end(), k);
    return it == first.end() ? -1 : static_cast<int>(it - first.begin());
  };
  auto distance = [&](int k) {
    int d = std::numeric_limits<int>::max();
    for (int f : first) d = std::min(d, ctx.numa_distance(f, k));
    return d;
  };
  auto rank = [&](int k) {
    int p = first_pos(k);
    return std::tuple(p < 0, p, distance(k), -ctx.free_cpus_on(k));
  };
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return rank(x) < rank(y); });
  // One step is all the first nodes together, then every other node on its own. Within a
  // step: (load, kind of core, position of the CPU within its node, node, cpu), which
  // interleaves nodes and takes performance cores of a hybrid CPU before efficiency ones.
  auto slower = [&](int c) {
    return c < static_cast<int>(m.cpu_rank.size()) ? -m.cpu_rank[static_cast<std::size_t>(c)] : 0;
  };
  std::vector<std::tuple<int, int, int, int, int>> pool;
  std::vector<std::tuple<int, int, int>> node_cpus;  // (load, kind, cpu) of one node
  std::size_t i = 0;
  while (i < order.size() && static_cast<int>(a.cpus.size()) < want) {
    pool.clear();
    do {
      node_cpus.clear();
      for (int c : m.numa[order[i]].cpus) {
        if (ctx.cpu_free(c)) node_cpus.emplace_back(s.cpu_load(c), slower(c), c);
      }
      std::sort(node_cpus.begin(), node_cpus.end());
      for (std::size_t p = 0; p < node_cpus.size(); ++p) {
        const auto& [load, kind, cpu] = node_cpus[p];
        pool.emplace_back(load, kind, static_cast<int>(p), static_cast<int>(i), cpu);
      }
      ++i;
    } while (i < order.size() && first_pos(order[i - 1]) >= 0 && first_pos(order[i]) >= 0);
    std::sort(pool.begin(), pool.end());
    for (const auto& entry : pool) {
      if (static_cast<int>(a.cpus.size()) == want) break;
      a.cpus.push_back(std::get<4>(entry));
    }
  }
  std::sort(a.cpus.begin(), a.cpus.end());
  a.mems.clear();
  for (std::size_t k = 0; k < m.numa.size(); ++k) {
    for (int c : m.numa[k].cpus) {
      if (std::binary_search(a.cpus.begin(), a.cpus.end(), c)) {
        a.mems.push_back(m.numa[k].id);
        break;
      }
    }
  }
  std::sort(a.mems.begin(), a.mems.end());
}

std::vector<int> cpu_only_start_order(const NodeModel& m, const Search& ctx) {
  std::vector<int> free_gpus(m.numa.size(), 0);
  for (Mask f = ctx.free(); f; f &= f - 1) {
    int k = ctx.numa_of_gpu(std::countr_zero(f));
    if (k >= 0) ++free_gpus[k];
  }
  std::vector<int> order(m.numa.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int>(k);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return std::pair(-ctx.free_cpus_on(x), free_gpus[x]) <
           std::pair(-ctx.free_cpus_on(y), free_gpus[y]);
  });
  return order;
}

void allocate_cpus_for_gpus(const NodeModel& m, const NodeState& s, const Search& ctx,
                            const Request& r, Allocation& a) {
  std::vector<int> first = gpu_nodes(ctx, a.gpus);
  if (first.empty() && !m.numa.empty()) first = {cpu_only_start_order(m, ctx).front()};
  allocate_cpus(m, s, ctx, first, r.cpus, a);
}

}  // namespace aion::sched::detail
