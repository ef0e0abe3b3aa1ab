#include "aion/sched/placement.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <utility>

#include "aion/cluster/cluster.h"
#include "aion/core/strings.h"
#include "aion/sched/placement_search.h"
#include "aion/sched/set_scoring.h"
#include "aion/sched/share_placement.h"

namespace aion::sched {
namespace {

using detail::allocate_cpus;
using detail::cpu_only_start_order;
using detail::fraction_text;
using detail::gib;
using detail::Mask;
using detail::model_matches;
using detail::place_share;
using detail::place_whole;
using detail::Search;
using detail::share_fits;
using detail::share_shortage;
using detail::whole_gpu_shortage;

std::string plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

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
    c.why = "CPUs on NUMA " + join(o.a.mems, ",");
    if (o.load) c.why += " (sharing " + plural(o.load, "CPU slot", "CPU slots") + ")";
    c.allocation = std::move(o.a);
    out.candidates.push_back(std::move(c));
  }
}

// "A100 x4, Ascend 910 (npu) x2": the node's models and how many of each.
std::string model_counts(const std::vector<std::pair<std::string, int>>& models) {
  std::string have;
  for (const auto& [name, count] : models)
    have += (have.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  return have;
}

// Devices of one kind from two vendors need two runtimes: a job of several devices gets one
// vendor's, and is told how to ask for it.
Status one_vendor(const NodeModel& model, const Request& r, const std::string& asks) {
  std::vector<std::string> vendors;
  for (const auto& g : model.gpus)
    if (model_matches(g, r) && std::find(vendors.begin(), vendors.end(), g.vendor) == vendors.end())
      vendors.push_back(g.vendor);
  if (vendors.size() < 2) return {};
  std::string each;
  for (const auto& v : vendors)
    each += (each.empty() ? "" : " or ") + ("--accel " + v + ":" + std::to_string(r.gpus));
  return fail(ErrorCode::kInvalidArgument,
              asks + ", and the matching devices here come from " + std::to_string(vendors.size()) +
                  " vendors, whose runtimes differ; ask for one vendor's: " + each);
}

}  // namespace

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

  const std::string unit = r.accel_kind.empty() ? "GPU" : hw::device_label(r.accel_kind);
  std::string asks = share ? "asks for a " + fraction_text(r.gpu_fraction) + " " + unit + " share"
                           : "asks for " + plural(r.gpus, unit, unit + "s");
  if (model.gpus.empty())
    return invalid(asks + "; this node has no " + (r.accel_kind.empty() ? "GPU" : "accelerator"));
  int matching = 0, usable = 0;
  std::uint64_t largest = 0;
  bool unknown_memory = false;
  std::vector<std::pair<std::string, int>> models;  // in order of appearance
  for (const auto& g : model.gpus) {
    std::string name = (g.model.empty() ? "unknown model" : g.model) +
                       (g.kind == "gpu" ? "" : " (" + g.kind + ")");
    auto it = std::find_if(models.begin(), models.end(), [&](auto& p) { return p.first == name; });
    if (it == models.end())
      models.emplace_back(name, 1);
    else
      ++it->second;
    if (!model_matches(g, r)) continue;
    ++matching;
    if (!g.usable) continue;
    ++usable;
    largest = std::max(largest, g.memory_bytes);
    unknown_memory |= g.memory_bytes == 0;
  }
  if (matching > 0 && !share && r.gpus > 1) {
    if (auto st = one_vendor(model, r, asks); !st) return st;
  }
  if (matching == 0) {
    const std::string have = model_counts(models);
    if (r.gpu_model.empty())
      return invalid(asks + "; this node has none (it has: " + have +
                     "; ask for another kind with --accel KIND:N)");
    return invalid("no " + unit + " matches model '" + r.gpu_model + "' (the node has: " + have +
                   ")");
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
  // Chosen by the nodes of their CPUs; the job may also use the memory that goes with them.
  for (auto& c : out.candidates) {
    auto extra = extra_memory_nodes(model, c.allocation);
    c.allocation.mems.insert(c.allocation.mems.end(), extra.begin(), extra.end());
    std::sort(c.allocation.mems.begin(), c.allocation.mems.end());
  }
  return out;
}

}  // namespace aion::sched
