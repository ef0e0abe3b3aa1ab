#include "aion/sched/set_scoring.h"

#include "aion/core/strings.h"

#include <limits>
#include <string_view>
#include <tuple>

namespace aion::sched::detail {
namespace {

// Up to this many GPU sets are scored one by one; beyond it a greedy search from every seed.
constexpr std::uint64_t kExhaustiveLimit = 5000;

std::string plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// How GPU i and j connect as `nvidia-smi topo -m` writes it: "NV12", "XGMI", "PIX", ...
std::string link_label(const NodeModel& m, int i, int j) {
  LinkLevel l = m.links[i][j];
  if (l == LinkLevel::kNvlink) return "NV" + std::to_string(m.link_count[i][j]);
  return hw::to_string(l);
}

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
  if (!a.mems.empty()) why += "; CPUs on NUMA " + join(a.mems, ",");
  if (s.island >= 2)
    why += "; leaves a " + std::to_string(s.island) + "-GPU " + ctx.island_name() + " group free";
  if (s.worsened > 0)
    why +=
        "; cuts " + plural(s.worsened, "free GPU off its", "free GPUs off their") + " best partner";
  return why;
}

}  // namespace

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

}  // namespace aion::sched::detail
