#include "aion/sched/share_placement.h"

#include <cmath>
#include <cstdio>
#include <tuple>

#include "aion/cluster/cluster.h"
#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"
#include "aion/core/strings.h"

namespace aion::sched::detail {

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

namespace {

std::uint64_t share_memory(const GpuSlot& g, const Request& r) {
  if (r.gpu_memory_bytes) return r.gpu_memory_bytes;
  return static_cast<std::uint64_t>(
      std::llround(r.gpu_fraction * static_cast<double>(g.memory_bytes)));
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

}  // namespace

// Whether a share fits on GPU g now. A GPU of unknown memory (0) is not limited by memory.
bool share_fits(const NodeModel& m, const NodeState& st, const Request& r, int g) {
  const GpuSlot& slot = m.gpus[g];
  bool whole = !st.gpu_whole_free(g) && st.gpu_fraction_used(g) <= kEps;
  if (whole) return false;
  if (st.gpu_fraction_used(g) + r.gpu_fraction > 1 + kEps) return false;
  return slot.memory_bytes == 0 ||
         st.gpu_memory_used(g) + share_memory(slot, r) <= slot.memory_bytes;
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
    if (!a.mems.empty()) c.why += "; CPUs on NUMA " + join(a.mems, ",");
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

}  // namespace aion::sched::detail
