#include "aion/sched/placement.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include "aion/cluster/cluster.h"
#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"

namespace aion::sched {
namespace {

using hw::LinkLevel;
using Mask = std::uint64_t;  // a set of GPUs by index

constexpr double kEps = 1e-9;
// GPU sets are 64-bit masks; GPUs past the 64th are never placed on (no real node has that
// many: one OS image sees at most 16 today).
constexpr int kMaxGpus = 64;
// Up to this many GPU sets are scored one by one; beyond it a greedy search from every seed.
constexpr std::uint64_t kExhaustiveLimit = 5000;
// "No partner": worse than any LinkLevel.
constexpr int kNoPartner = static_cast<int>(LinkLevel::kSys) + 1;
// ACPI SLIT defaults when the firmware gives no distance.
constexpr int kLocalDistance = 10;
constexpr int kRemoteDistance = 20;

Mask bit(int i) {
  return Mask{1} << i;
}

std::string gib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

std::string fraction_text(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", f);
  return buf;
}

std::string plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

// Case-insensitive substring test without allocating (called per GPU per place()).
bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

bool model_matches(const GpuSlot& g, const Request& r) {
  return contains_nocase(g.model, r.gpu_model);
}

// "0-15,64-79" -> {0..15, 64..79}. Malformed pieces are skipped: discovery already reported
// the file they came from.
std::vector<int> parse_cpulist(std::string_view s) {
  std::vector<int> cpus;
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view tok = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.front())))
      tok.remove_prefix(1);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back())))
      tok.remove_suffix(1);
    if (tok.empty()) continue;
    int lo = 0, hi = 0;
    std::size_t dash = tok.find('-');
    if (std::sscanf(std::string(tok.substr(0, dash)).c_str(), "%d", &lo) != 1) continue;
    hi = lo;
    if (dash != std::string_view::npos &&
        std::sscanf(std::string(tok.substr(dash + 1)).c_str(), "%d", &hi) != 1)
      continue;
    if (lo < 0 || hi < lo) continue;
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

// XGMI links from `a` to the accelerator at `peer`.
int xgmi_links(const hw::Accelerator& a, const std::string& peer) {
  int n = 0;
  for (const auto& l : a.links) {
    if (l.kind == "xgmi" && l.peer == peer) n += l.count;
  }
  return n;
}

// How GPU i and j connect as `nvidia-smi topo -m` writes it: "NV12", "XGMI", "PIX", ...
std::string link_label(const NodeModel& m, int i, int j) {
  LinkLevel l = m.links[i][j];
  if (l == LinkLevel::kNvlink) return "NV" + std::to_string(m.link_count[i][j]);
  return hw::to_string(l);
}

// What one place() call knows about the node, computed once so that scoring a GPU set reads
// flat arrays and allocates nothing.
class Search {
 public:
  Search(const NodeModel& m, const NodeState& s, const Request& r) : m_(m), s_(s) {
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
        if (static_cast<int>(m.link_count.size()) > i &&
            static_cast<int>(m.link_count[i].size()) > j)
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

  std::string island_name() const {
    if (island_level_ <= static_cast<int>(LinkLevel::kXgmi)) {
      for (int i = 0; i < n_; ++i)
        for (int j = 0; j < n_; ++j)
          if (level(i, j) == static_cast<int>(LinkLevel::kNvlink)) return "NVLink";
      return "XGMI";
    }
    return hw::to_string(static_cast<LinkLevel>(std::min(island_level_, kNoPartner - 1)));
  }

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

// --- CPUs -------------------------------------------------------------------------------

// request.cpus CPUs: first from the NUMA nodes in `first` (indices into model.numa), taken in
// turn so that every GPU's node gets its part; then from the other nodes, nearest first;
// always the least loaded CPUs first. Sets cpus and mems.
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
  // step: (load, position of the CPU within its node, node, cpu), which interleaves nodes.
  std::vector<std::tuple<int, int, int, int>> pool;
  std::vector<std::pair<int, int>> node_cpus;  // (load, cpu) of one node
  std::size_t i = 0;
  while (i < order.size() && static_cast<int>(a.cpus.size()) < want) {
    pool.clear();
    do {
      node_cpus.clear();
      for (int c : m.numa[order[i]].cpus) {
        if (ctx.cpu_free(c)) node_cpus.emplace_back(s.cpu_load(c), c);
      }
      std::sort(node_cpus.begin(), node_cpus.end());
      for (std::size_t p = 0; p < node_cpus.size(); ++p) {
        pool.emplace_back(node_cpus[p].first, static_cast<int>(p), static_cast<int>(i),
                          node_cpus[p].second);
      }
      ++i;
    } while (i < order.size() && first_pos(order[i - 1]) >= 0 && first_pos(order[i]) >= 0);
    std::sort(pool.begin(), pool.end());
    for (const auto& entry : pool) {
      if (static_cast<int>(a.cpus.size()) == want) break;
      a.cpus.push_back(std::get<3>(entry));
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

// The node a CPU-only job (or a GPU job whose GPUs have no known node) starts on: most free
// CPUs, then fewest free GPUs attached (keep CPUs next to free GPUs for GPU jobs).
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

// --- whole GPUs -------------------------------------------------------------------------

// How good a GPU set is, best first in this order: its worst link, its links summed (NVLink
// count as tie-break), what it leaves of the free GPUs, and how far apart its NUMA nodes are.
struct SetScore {
  int worst = 0;        // worst pair's LinkLevel (lower is better)
  int level_sum = 0;    // LinkLevel summed over pairs (lower is better)
  int link_sum = 0;     // NVLink/XGMI links summed over pairs (higher is better)
  int island = 0;       // largest linked group of free GPUs left (higher is better)
  int worsened = 0;     // free GPUs left whose best free partner got worse (lower is better)
  int numa_cost = 0;    // NUMA distance summed over pairs (lower is better)
  int remote_cpus = 0;  // requested CPUs the GPUs' own nodes cannot give (lower is better)
  Mask mask = 0;

  auto key() const {
    return std::tuple(worst, level_sum, -link_sum, -island, worsened, numa_cost, remote_cpus);
  }
};

bool better(const SetScore& a, const SetScore& b) {
  if (a.key() != b.key()) return a.key() < b.key();
  // Equal in every respect: the set with the lowest differing GPU index, for stable output.
  Mask diff = a.mask ^ b.mask;
  return (a.mask & diff & (~diff + 1)) != 0;
}

SetScore score_set(const Search& ctx, const Request& r, Mask set) {
  SetScore s;
  s.mask = set;
  std::array<int, kMaxGpus> idx;
  int k = 0;
  for (Mask m = set; m; m &= m - 1) idx[k++] = std::countr_zero(m);
  for (int a = 0; a < k; ++a) {
    for (int b = a + 1; b < k; ++b) {
      int l = ctx.level(idx[a], idx[b]);
      s.worst = std::max(s.worst, l);
      s.level_sum += l;
      s.link_sum += ctx.links(idx[a], idx[b]);
      s.numa_cost += ctx.dist(idx[a], idx[b]);
    }
  }
  Mask rest = ctx.free() & ~set;
  s.island = ctx.largest_island(rest);
  s.worsened = ctx.worsened(rest);
  int local = 0;
  for (int a = 0; a < k; ++a) {
    int node = ctx.numa_of_gpu(idx[a]);
    bool seen = node < 0;
    for (int b = 0; b < a && !seen; ++b) seen = ctx.numa_of_gpu(idx[b]) == node;
    if (!seen) local += ctx.free_cpus_on(node);
  }
  s.remote_cpus = std::max(0, r.cpus - local);
  return s;
}

// The best `limit` sets seen so far, best first, distinct.
class TopSets {
 public:
  explicit TopSets(int limit) : limit_(limit) { sets_.reserve(limit + 1); }

  void offer(const SetScore& s) {
    if (static_cast<int>(sets_.size()) == limit_ && !better(s, sets_.back())) return;
    for (const auto& t : sets_)
      if (t.mask == s.mask) return;
    auto at =
        std::find_if(sets_.begin(), sets_.end(), [&](const SetScore& t) { return better(s, t); });
    sets_.insert(at, s);
    if (static_cast<int>(sets_.size()) > limit_) sets_.pop_back();
  }
  const std::vector<SetScore>& sets() const { return sets_; }

 private:
  int limit_;
  std::vector<SetScore> sets_;
};

std::uint64_t choose(int n, int k) {
  std::uint64_t c = 1;
  for (int i = 1; i <= k; ++i) {
    c = c * static_cast<std::uint64_t>(n - k + i) / static_cast<std::uint64_t>(i);
    if (c > kExhaustiveLimit) return kExhaustiveLimit + 1;
  }
  return c;
}

// Every k-subset of `free` (in index order), no allocation.
void enumerate_sets(const Search& ctx, const Request& r, Mask free, int k, TopSets& top) {
  std::array<int, kMaxGpus> gpus;
  int n = 0;
  for (Mask m = free; m; m &= m - 1) gpus[n++] = std::countr_zero(m);
  std::array<int, kMaxGpus> c;
  for (int i = 0; i < k; ++i) c[i] = i;
  while (true) {
    Mask set = 0;
    for (int i = 0; i < k; ++i) set |= bit(gpus[c[i]]);
    top.offer(score_set(ctx, r, set));
    int i = k - 1;
    while (i >= 0 && c[i] == n - k + i) --i;
    if (i < 0) return;
    ++c[i];
    for (int j = i + 1; j < k; ++j) c[j] = c[j - 1] + 1;
  }
}

// Too many subsets to score them all: grow one set from every free GPU, each time adding the
// GPU best linked to the set so far; then score the grown sets in full.
void grow_sets(const Search& ctx, const Request& r, Mask free, int k, TopSets& top) {
  for (Mask seeds = free; seeds; seeds &= seeds - 1) {
    Mask set = bit(std::countr_zero(seeds));
    for (int size = 1; size < k; ++size) {
      int pick = -1;
      std::tuple<int, int, int, int> pick_key{};
      for (Mask c = free & ~set; c; c &= c - 1) {
        int g = std::countr_zero(c);
        int worst = 0, sum = 0, links = 0, dist = 0;
        for (Mask in = set; in; in &= in - 1) {
          int h = std::countr_zero(in);
          worst = std::max(worst, ctx.level(g, h));
          sum += ctx.level(g, h);
          links += ctx.links(g, h);
          dist += ctx.dist(g, h);
        }
        auto key = std::tuple(worst, sum, -links, dist);
        if (pick < 0 || key < pick_key) {
          pick = g;
          pick_key = key;
        }
      }
      set |= bit(pick);
    }
    top.offer(score_set(ctx, r, set));
  }
}

// Higher is better, in the same order as `better` (a mixed-radix number of the key).
double numeric_score(const Search& ctx, const Request& r, const SetScore& s, int k) {
  double pairs = k * (k - 1) / 2.0;
  double n = ctx.gpu_count();
  double v = kNoPartner - s.worst;
  v = v * (kNoPartner * pairs + 1) + (kNoPartner * pairs - s.level_sum);
  v = v * (ctx.max_links() * pairs + 1) + s.link_sum;
  v = v * (n + 1) + s.island;
  v = v * (n + 1) + (n - s.worsened);
  v = v * (ctx.max_dist() * pairs + 1) + (ctx.max_dist() * pairs - s.numa_cost);
  v = v * (r.cpus + 1) + (r.cpus - s.remote_cpus);
  return v;
}

std::string why_whole(const NodeModel& m, const Search& ctx, const SetScore& s,
                      const Allocation& a) {
  std::string why;
  const auto& g = a.gpus;
  int k = static_cast<int>(g.size());
  if (k == 1) {
    why = "GPU" + std::to_string(g[0]);
  } else {
    std::string worst, best;
    int worst_level = std::numeric_limits<int>::min();
    int best_level = std::numeric_limits<int>::max();
    for (int i = 0; i < k; ++i) {
      for (int j = i + 1; j < k; ++j) {
        // Order by level, then fewer links is worse.
        int w = ctx.level(g[i], g[j]) * 1000 - ctx.links(g[i], g[j]);
        if (w > worst_level) worst_level = w, worst = link_label(m, g[i], g[j]);
        if (w < best_level) best_level = w, best = link_label(m, g[i], g[j]);
      }
    }
    why = worst == best
              ? worst + " between " + (k == 2 ? "the 2 GPUs" : "all " + std::to_string(k) + " GPUs")
              : "worst pair " + worst + ", best " + best;
  }
  if (!a.mems.empty()) why += "; CPUs on NUMA " + join_ints(a.mems);
  if (s.island >= 2)
    why += "; leaves a " + std::to_string(s.island) + "-GPU " + ctx.island_name() + " group free";
  if (s.worsened > 0)
    why +=
        "; cuts " + plural(s.worsened, "free GPU off its", "free GPUs off their") + " best partner";
  return why;
}

std::string whole_gpu_shortage(const NodeModel& m, const Search& ctx, const Request& r) {
  int free = std::popcount(ctx.free());
  int in_use = std::popcount(ctx.matching()) - free;
  int broken = 0;
  for (int g = 0; g < ctx.gpu_count(); ++g)
    if (!m.gpus[g].usable && model_matches(m.gpus[g], r)) ++broken;
  std::string what = plural(r.gpus, "GPU", "GPUs");
  if (!r.gpu_model.empty()) what += " matching '" + r.gpu_model + "'";
  std::string s = "needs " + what + ", " + std::to_string(free) + " free (" +
                  std::to_string(in_use) + " in use";
  if (broken) s += ", " + std::to_string(broken) + " lost or in error";
  return s + ")";
}

void place_whole(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                 int max_candidates, PlacementResult& out) {
  Mask free = ctx.free();
  int n = std::popcount(free), k = r.gpus;
  TopSets top(max_candidates);
  if (choose(n, k) <= kExhaustiveLimit)
    enumerate_sets(ctx, r, free, k, top);
  else
    grow_sets(ctx, r, free, k, top);
  for (const SetScore& s : top.sets()) {
    Candidate c;
    for (Mask g = s.mask; g; g &= g - 1) c.allocation.gpus.push_back(std::countr_zero(g));
    c.allocation.memory_bytes = r.memory_bytes;
    allocate_cpus_for_gpus(m, st, ctx, r, c.allocation);
    c.score = numeric_score(ctx, r, s, k);
    c.why = why_whole(m, ctx, s, c.allocation);
    out.candidates.push_back(std::move(c));
  }
}

// --- GPU shares -------------------------------------------------------------------------

std::uint64_t share_memory(const GpuSlot& g, const Request& r) {
  if (r.gpu_memory_bytes) return r.gpu_memory_bytes;
  return static_cast<std::uint64_t>(
      std::llround(r.gpu_fraction * static_cast<double>(g.memory_bytes)));
}

// Whether a share fits on GPU g now. A GPU of unknown memory (0) is not limited by memory.
bool share_fits(const NodeModel& m, const NodeState& st, const Request& r, int g) {
  const GpuSlot& slot = m.gpus[g];
  bool whole = !st.gpu_whole_free(g) && st.gpu_fraction_used(g) <= kEps;
  if (whole) return false;
  if (st.gpu_fraction_used(g) + r.gpu_fraction > 1 + kEps) return false;
  return slot.memory_bytes == 0 ||
         st.gpu_memory_used(g) + share_memory(slot, r) <= slot.memory_bytes;
}

// The GPU `policy` picks for share `r`, with the node's matching GPUs seen as a one-node
// cluster in the cluster library's units (what is held whole or shared, the CPUs and memory
// in use); -1 when it has no pick (more than 8 matching GPUs, or none fits in its view).
int policy_share_gpu(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                     const PlaceOptions& o) {
  std::vector<int> slots;  // cluster GPU k -> node GPU
  for (Mask c = ctx.matching(); c; c &= c - 1) slots.push_back(std::countr_zero(c));
  if (slots.empty() || slots.size() > static_cast<std::size_t>(cluster::kMaxGpusPerNode)) return -1;
  cluster::NodeSpec spec{.name = "this node",
                         .cpu_milli = std::int64_t{m.cpu_count} * cluster::kMilli,
                         .memory_mib = static_cast<std::int64_t>(m.memory_bytes >> 20),
                         .gpus = static_cast<int>(slots.size()),
                         .model = "gpu"};
  auto made = cluster::Cluster::create({spec});
  if (!made) return -1;
  cluster::Cluster& c = *made;
  cluster::PodRequest busy;  // the CPUs and memory other jobs hold
  busy.cpu_milli = std::int64_t{std::max(0, m.cpu_count - ctx.free_cpus_total())} * cluster::kMilli;
  busy.memory_mib = static_cast<std::int64_t>(st.memory_used() >> 20);
  c.allocate(0, busy, 0);
  for (std::size_t k = 0; k < slots.size(); ++k) {
    const int g = slots[k];
    const double used = st.gpu_fraction_used(g);
    const bool whole = !st.gpu_whole_free(g) && used <= kEps;
    cluster::PodRequest held;
    held.num_gpu = 1;
    held.gpu_milli = whole ? cluster::kMilli
                           : std::clamp(static_cast<int>(std::lround(used * cluster::kMilli)), 0,
                                        cluster::kMilli);
    if (held.gpu_milli > 0) c.allocate(0, held, static_cast<cluster::GpuMask>(1u << k));
  }
  cluster::PodRequest pod = pod_request(r);
  if (!c.fits(0, pod)) return -1;
  // fgd measures against its own target workload; the others ignore the "before" value.
  const cluster::WorkloadDistribution* dist = o.share_policy->workload();
  const double before = dist ? cluster::fragmentation(c, 0, *dist) : 0.0;
  cluster::Rng rng(o.seed);
  const cluster::Choice choice = o.share_policy->score(c, 0, pod, before, rng);
  if (choice.gpus == 0) return -1;
  const int g = slots[static_cast<std::size_t>(std::countr_zero(choice.gpus))];
  return share_fits(m, st, r, g) ? g : -1;
}

void place_share(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                 int max_candidates, const PlaceOptions& po, PlacementResult& out) {
  // Best fit: GPUs that already carry shares first, the fullest first; a whole free GPU only
  // when no shared one fits, and then the one whose loss hurts the free GPUs least.
  struct Option {
    int gpu;
    std::tuple<bool, double, int, int, std::uint64_t, int> key;
  };
  std::vector<Option> options;
  for (Mask c = ctx.matching(); c; c &= c - 1) {
    int g = std::countr_zero(c);
    if (!share_fits(m, st, r, g)) continue;
    bool fresh = st.gpu_whole_free(g);
    double left = 1 - st.gpu_fraction_used(g) - r.gpu_fraction;
    int island = 0, worsened = 0;
    if (fresh) {
      Mask rest = ctx.free() & ~bit(g);
      island = ctx.largest_island(rest);
      worsened = ctx.worsened(rest);
    }
    std::uint64_t mem = m.gpus[g].memory_bytes;
    std::uint64_t used = st.gpu_memory_used(g) + share_memory(m.gpus[g], r);
    std::uint64_t mem_left = mem > used ? mem - used : 0;
    int node = ctx.numa_of_gpu(g);
    int remote = std::max(0, r.cpus - (node < 0 ? 0 : ctx.free_cpus_on(node)));
    options.push_back({g, {fresh, left, -island, worsened, mem_left, remote}});
  }
  std::sort(options.begin(), options.end(), [](const Option& a, const Option& b) {
    return std::pair(a.key, a.gpu) < std::pair(b.key, b.gpu);
  });
  int picked = -1;  // the policy's GPU, moved to the front
  if (po.share_policy != nullptr && !options.empty()) {
    picked = policy_share_gpu(m, st, ctx, r, po);
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const Option& o) { return o.gpu == picked; });
    if (it == options.end())
      picked = -1;
    else
      std::rotate(options.begin(), it, it + 1);
  }
  if (static_cast<int>(options.size()) > max_candidates) options.resize(max_candidates);
  double rank = static_cast<double>(options.size());
  for (const Option& o : options) {
    Candidate c;
    Allocation& a = c.allocation;
    a.gpus = {o.gpu};
    a.gpu_fraction = r.gpu_fraction;
    a.gpu_memory_bytes = share_memory(m.gpus[o.gpu], r);
    a.memory_bytes = r.memory_bytes;
    allocate_cpus_for_gpus(m, st, ctx, r, a);
    // Shares are ranked by the key above; the score only carries that order.
    c.score = rank--;
    double used = st.gpu_fraction_used(o.gpu);
    c.why = "GPU" + std::to_string(o.gpu) +
            (std::get<0>(o.key) ? " (free; no shared GPU fits)"
                                : " (already " + fraction_text(used) + " shared)") +
            ", " + fraction_text(std::max(0.0, std::get<1>(o.key))) + " left after";
    if (!a.mems.empty()) c.why += "; CPUs on NUMA " + join_ints(a.mems);
    if (o.gpu == picked) c.why = "policy " + std::string(po.share_policy->name()) + ": " + c.why;
    out.candidates.push_back(std::move(c));
  }
}

std::string share_shortage(const NodeState& st, const Search& ctx, const Request& r) {
  std::string s = "no GPU has " + fraction_text(r.gpu_fraction) + " of its capacity";
  if (r.gpu_memory_bytes) s += " and " + gib(r.gpu_memory_bytes);
  s += " free for a share";
  int whole = 0, shared = 0;
  for (Mask c = ctx.matching(); c; c &= c - 1) {
    int g = std::countr_zero(c);
    if (st.gpu_fraction_used(g) > kEps)
      ++shared;
    else if (!st.gpu_whole_free(g))
      ++whole;
  }
  return s + " (" + std::to_string(whole) + " held whole, " + std::to_string(shared) +
         " with shares)";
}

// --- CPU-only ----------------------------------------------------------------------------

void place_cpus_only(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                     int max_candidates, PlacementResult& out) {
  // One candidate per starting node, the node with most free CPUs first: a job that fits in
  // one node stays on it.
  struct Option {
    Allocation a;
    int load = 0;
  };
  std::vector<Option> options;
  for (int start : cpu_only_start_order(m, ctx)) {
    Option o;
    allocate_cpus(m, st, ctx, {start}, r.cpus, o.a);
    if (std::any_of(options.begin(), options.end(),
                    [&](const Option& p) { return p.a.cpus == o.a.cpus; }))
      continue;
    for (int c : o.a.cpus) o.load += st.cpu_load(c);
    o.a.memory_bytes = r.memory_bytes;
    options.push_back(std::move(o));
  }
  std::stable_sort(options.begin(), options.end(), [](const Option& x, const Option& y) {
    return std::pair(x.a.mems.size(), x.load) < std::pair(y.a.mems.size(), y.load);
  });
  if (static_cast<int>(options.size()) > max_candidates) options.resize(max_candidates);
  double nodes = static_cast<double>(m.numa.size());
  for (auto& o : options) {
    Candidate c;
    c.score =
        (nodes + 1 - static_cast<double>(o.a.mems.size())) * (r.cpus * st.cpu_overcommit() + 1) -
        o.load;
    c.why = "CPUs on NUMA " + join_ints(o.a.mems);
    if (o.load) c.why += " (sharing " + plural(o.load, "CPU slot", "CPU slots") + ")";
    c.allocation = std::move(o.a);
    out.candidates.push_back(std::move(c));
  }
}

}  // namespace

// --- model --------------------------------------------------------------------------------

NodeModel make_node_model(const hw::Inventory& inv, const ModelOptions& options) {
  NodeModel m;
  for (const auto& a : inv.accelerators) {
    m.gpus.push_back({.pci_address = a.pci.address,
                      .vendor = a.vendor,
                      .model = a.model,
                      .vendor_index = a.index,
                      .uuid = a.uuid,
                      .memory_bytes = a.memory_bytes,
                      .numa_node = a.pci.numa_node,
                      .simulated = a.simulated,
                      .usable = a.state == "ok"});
  }
  // The topology lists the accelerators first, in inventory order, then the NICs.
  std::size_t n = m.gpus.size();
  hw::Topology topo = hw::build_topology(inv);
  m.links.assign(n, std::vector<LinkLevel>(n, LinkLevel::kSys));
  m.link_count.assign(n, std::vector<int>(n, 0));
  for (std::size_t i = 0; i < n && i < topo.levels.size(); ++i) {
    for (std::size_t j = 0; j < n && j < topo.levels[i].size(); ++j) {
      LinkLevel l = i == j ? LinkLevel::kSelf : topo.levels[i][j];
      m.links[i][j] = l;
      if (l == LinkLevel::kNvlink) {
        m.link_count[i][j] = std::atoi(topo.matrix[i][j].c_str() + 2);  // "NV12"
      } else if (l == LinkLevel::kXgmi) {
        const auto& a = inv.accelerators[i];
        const auto& b = inv.accelerators[j];
        m.link_count[i][j] =
            std::max({1, xgmi_links(a, b.pci.address), xgmi_links(b, a.pci.address)});
      }
    }
  }
  for (const auto& nn : inv.numa_nodes) {
    m.numa.push_back({.id = nn.id,
                      .cpus = parse_cpulist(nn.cpus),
                      .memory_bytes = nn.memory_bytes,
                      .distances = nn.distances});
  }
  if (m.numa.empty()) {
    NumaInfo only{.id = 0, .memory_bytes = inv.memory.total_bytes, .distances = {kLocalDistance}};
    for (int c = 0; c < inv.cpu.threads; ++c) only.cpus.push_back(c);
    m.numa.push_back(std::move(only));
  }
  for (const auto& nn : m.numa) {
    if (!nn.cpus.empty()) m.cpu_count = std::max(m.cpu_count, nn.cpus.back() + 1);
  }
  std::uint64_t total = inv.memory.total_bytes;
  m.memory_bytes =
      total > options.reserved_memory_bytes ? total - options.reserved_memory_bytes : 0;
  return m;
}

// --- state --------------------------------------------------------------------------------

NodeState::NodeState(const NodeModel& model, int cpu_overcommit)
    : overcommit_(std::max(1, cpu_overcommit)),
      gpu_whole_(model.gpus.size(), false),
      gpu_frac_(model.gpus.size(), 0.0),
      gpu_mem_(model.gpus.size(), 0),
      cpu_load_(static_cast<std::size_t>(std::max(0, model.cpu_count)), 0) {}

void NodeState::add(const Allocation& a) {
  apply(a, +1);
}

void NodeState::remove(const Allocation& a) {
  apply(a, -1);
}

void NodeState::apply(const Allocation& a, int sign) {
  auto valid_gpu = [&](int g) { return g >= 0 && g < static_cast<int>(gpu_whole_.size()); };
  if (a.gpu_fraction > 0) {
    if (!a.gpus.empty() && valid_gpu(a.gpus[0])) {
      int g = a.gpus[0];
      gpu_frac_[g] += sign * a.gpu_fraction;
      if (gpu_frac_[g] < kEps) gpu_frac_[g] = 0;  // no float dust once the last share leaves
      gpu_mem_[g] = sign > 0 ? gpu_mem_[g] + a.gpu_memory_bytes
                             : gpu_mem_[g] - std::min(gpu_mem_[g], a.gpu_memory_bytes);
    }
  } else {
    for (int g : a.gpus) {
      if (valid_gpu(g)) gpu_whole_[g] = sign > 0;
    }
  }
  for (int c : a.cpus) {
    if (c >= 0 && c < static_cast<int>(cpu_load_.size()))
      cpu_load_[c] = std::max(0, cpu_load_[c] + sign);
  }
  memory_used_ = sign > 0 ? memory_used_ + a.memory_bytes
                          : memory_used_ - std::min(memory_used_, a.memory_bytes);
}

bool NodeState::gpu_whole_free(int gpu) const {
  return !gpu_whole_[gpu] && gpu_frac_[gpu] <= kEps && gpu_mem_[gpu] == 0;
}
double NodeState::gpu_fraction_used(int gpu) const {
  return gpu_frac_[gpu];
}
std::uint64_t NodeState::gpu_memory_used(int gpu) const {
  return gpu_mem_[gpu];
}
int NodeState::cpu_load(int cpu) const {
  return cpu >= 0 && cpu < static_cast<int>(cpu_load_.size()) ? cpu_load_[cpu] : 0;
}
std::uint64_t NodeState::memory_used() const {
  return memory_used_;
}

// --- requests -----------------------------------------------------------------------------

Status check_request(const NodeModel& model, const Request& r) {
  auto invalid = [](std::string message) {
    return fail(ErrorCode::kInvalidArgument, std::move(message));
  };
  bool share = r.gpu_fraction != 0;
  if (r.gpus < 0) return invalid("asks for " + std::to_string(r.gpus) + " GPUs; ask for 0 or more");
  if (share && !(r.gpu_fraction > 0 && r.gpu_fraction < 1))
    return invalid("a GPU share needs 0 < fraction < 1, got " + fraction_text(r.gpu_fraction) +
                   " (ask for whole GPUs with gpus instead)");
  if (!r.gpu_model.empty() && r.gpus == 0 && !share)
    return invalid("names GPU model '" + r.gpu_model +
                   "' but asks for no GPU; add gpus N (aion run --gpus N) or a share");
  if (share && r.gpus > 0)
    return invalid("asks for " + plural(r.gpus, "GPU", "GPUs") + " and a " +
                   fraction_text(r.gpu_fraction) +
                   " GPU share; ask for whole GPUs or one share, not both");
  if (!share && r.gpu_memory_bytes > 0)
    return invalid("GPU memory (" + gib(r.gpu_memory_bytes) +
                   ") is set for a GPU share only; set gpu_fraction too, or drop it "
                   "(whole GPUs come with all their memory)");
  if (r.cpus < 1)
    return invalid("asks for " + std::to_string(r.cpus) + " CPUs; a job needs at least 1");
  if (r.cpus > model.cpu_count)
    return invalid("asks for " + std::to_string(r.cpus) + " CPUs, the node has " +
                   std::to_string(model.cpu_count));
  if (r.memory_bytes > model.memory_bytes)
    return invalid("asks for " + gib(r.memory_bytes) + " of memory, the node has " +
                   gib(model.memory_bytes) + " allocatable");
  if (r.gpus == 0 && !share) return {};

  std::string asks = share ? "asks for a " + fraction_text(r.gpu_fraction) + " GPU share"
                           : "asks for " + plural(r.gpus, "GPU", "GPUs");
  if (model.gpus.empty()) return invalid(asks + "; this node has no GPU");
  int matching = 0, usable = 0;
  std::uint64_t largest = 0;
  bool unknown_memory = false;
  std::vector<std::pair<std::string, int>> models;  // in order of appearance
  for (const auto& g : model.gpus) {
    auto it =
        std::find_if(models.begin(), models.end(), [&](auto& p) { return p.first == g.model; });
    if (it == models.end())
      models.emplace_back(g.model, 1);
    else
      ++it->second;
    if (!model_matches(g, r)) continue;
    ++matching;
    if (!g.usable) continue;
    ++usable;
    largest = std::max(largest, g.memory_bytes);
    unknown_memory |= g.memory_bytes == 0;
  }
  if (matching == 0) {
    std::string have;
    for (const auto& [name, count] : models) {
      if (!have.empty()) have += ", ";
      have += (name.empty() ? "unknown model" : name) + " x" + std::to_string(count);
    }
    return invalid("no GPU matches model '" + r.gpu_model + "' (the node has: " + have + ")");
  }
  std::string which = r.gpu_model.empty() ? "" : " matching '" + r.gpu_model + "'";
  std::string broken = usable < matching
                           ? " usable (" + std::to_string(matching - usable) + " lost or in error)"
                           : "";
  if (r.gpus > usable)
    return invalid(asks + ", the node has " + std::to_string(usable) + which + broken);
  if (share && usable == 0)
    return invalid(asks + ", but every GPU" + which + " is lost or in error");
  if (share && !unknown_memory && r.gpu_memory_bytes > largest)
    return invalid(asks + " with " + gib(r.gpu_memory_bytes) + " of GPU memory; the largest GPU" +
                   which + " has " + gib(largest));
  return {};
}

// --- placement ----------------------------------------------------------------------------

cluster::PodRequest pod_request(const Request& r) {
  cluster::PodRequest p;
  p.cpu_milli = std::int64_t{std::max(0, r.cpus)} * cluster::kMilli;
  p.memory_mib = static_cast<std::int64_t>(r.memory_bytes >> 20);
  if (r.gpu_fraction > 0) {
    p.num_gpu = 1;
    p.gpu_milli = std::clamp(static_cast<int>(std::lround(r.gpu_fraction * cluster::kMilli)), 1,
                             cluster::kMilli - 1);
  } else if (r.gpus > 0) {
    p.num_gpu = r.gpus;
    p.gpu_milli = cluster::kMilli;
  }
  return p;
}

PlacementResult place(const NodeModel& model, const NodeState& state, const Request& request,
                      int max_candidates, const PlaceOptions& options) {
  PlacementResult out;
  if (auto ok = check_request(model, request); !ok) {
    out.reason = ok.error().message();
    return out;
  }
  max_candidates = std::max(1, max_candidates);
  Search ctx(model, state, request);
  bool share = request.gpu_fraction > 0;

  // What is short, in the user's words; all of it, so one answer tells the whole story.
  std::vector<std::string> short_of;
  if (request.gpus > 0 && std::popcount(ctx.free()) < request.gpus)
    short_of.push_back(whole_gpu_shortage(model, ctx, request));
  if (share) {
    bool any = false;
    for (Mask c = ctx.matching(); c && !any; c &= c - 1)
      any = share_fits(model, state, request, std::countr_zero(c));
    if (!any) short_of.push_back(share_shortage(state, ctx, request));
  }
  if (ctx.free_cpus_total() < request.cpus) {
    std::string s = "needs " + plural(request.cpus, "CPU", "CPUs") + ", " +
                    std::to_string(ctx.free_cpus_total()) + " free";
    if (state.cpu_overcommit() > 1)
      s += " (each CPU shared by up to " + std::to_string(state.cpu_overcommit()) + " jobs)";
    short_of.push_back(s);
  }
  std::uint64_t used = state.memory_used();
  std::uint64_t mem_free = model.memory_bytes > used ? model.memory_bytes - used : 0;
  if (request.memory_bytes > mem_free)
    short_of.push_back("needs " + gib(request.memory_bytes) + " of memory, " + gib(mem_free) +
                       " free");
  if (!short_of.empty()) {
    for (std::size_t i = 0; i < short_of.size(); ++i) out.reason += (i ? "; " : "") + short_of[i];
    return out;
  }

  if (request.gpus > 0)
    place_whole(model, state, ctx, request, max_candidates, out);
  else if (share)
    place_share(model, state, ctx, request, max_candidates, options, out);
  else
    place_cpus_only(model, state, ctx, request, max_candidates, out);
  return out;
}

}  // namespace aion::sched
