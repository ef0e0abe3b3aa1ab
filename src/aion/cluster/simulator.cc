#include "aion/cluster/simulator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"

namespace aion::cluster {
namespace {

struct Event {
  int pod;      // index into the request list
  bool create;  // false: the pod leaves
};

// The arrival sequence of one seed under the shuffled protocol.
std::vector<Event> shuffled_events(const std::vector<PodRequest>& reqs, std::int64_t capacity,
                                   double inflate, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<int> order(reqs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::shuffle(order.begin(), order.end(), rng);
  std::int64_t total = 0;
  for (const auto& r : reqs) total += r.total_gpu_milli();
  const double target = inflate * static_cast<double>(capacity);
  if (static_cast<double>(total) > target) {
    while (static_cast<double>(total) > target && !order.empty()) {
      std::size_t k = rng() % order.size();
      total -= reqs[order[k]].total_gpu_milli();
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(k));
    }
  } else {
    // As the paper's simulator does: stop at the first copy whose per-GPU share would pass the
    // target (its check uses gpu_milli, not num_gpu x gpu_milli).
    while (true) {
      const int k = static_cast<int>(rng() % reqs.size());
      if (static_cast<double>(total + reqs[k].gpu_milli) > target) break;
      total += reqs[k].total_gpu_milli();
      order.push_back(k);
    }
  }
  std::vector<Event> events;
  events.reserve(order.size());
  for (int k : order) events.push_back({k, true});
  return events;
}

std::vector<Event> timed_events(const std::vector<PodSpec>& pods) {
  struct Timed {
    std::int64_t t;
    int order;  // departures (0) before arrivals (1) at equal times
    int pod;
  };
  std::vector<Timed> timed;
  for (std::size_t i = 0; i < pods.size(); ++i) {
    const int p = static_cast<int>(i);
    timed.push_back({pods[i].creation_time, 1, p});
    if (pods[i].deletion_time >= 0) timed.push_back({pods[i].deletion_time, 0, p});
  }
  std::stable_sort(timed.begin(), timed.end(), [](const Timed& a, const Timed& b) {
    return std::tie(a.t, a.order) < std::tie(b.t, b.order);
  });
  std::vector<Event> events;
  events.reserve(timed.size());
  for (const auto& e : timed) events.push_back({e.pod, e.order == 1});
  return events;
}

// Cached score of one (node, shape): valid while `version` == node version + 1.
struct CacheEntry {
  std::uint32_t version = 0;
  GpuMask gpus = 0;
  double score = 0;
};

// Replays `events` with one policy. Allocation-free per pod after setup.
Run replay(const Cluster& initial, const std::vector<PodRequest>& reqs, int shapes,
           const std::vector<Event>& events, const Policy& policy, const WorkloadDistribution& dist,
           std::uint64_t seed, int max_pct, TieBreak ties_mode) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  Cluster c = initial;
  const int n_nodes = c.size();
  Rng rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<double> node_frag(n_nodes);
  double frag_total = 0;
  for (int n = 0; n < n_nodes; ++n) frag_total += node_frag[n] = fragmentation(c, n, dist);
  const bool cache = policy.deterministic();
  std::vector<CacheEntry> entries(cache ? std::size_t(n_nodes) * shapes : 0);
  std::vector<int> placed_on(reqs.size(), -1);
  std::vector<GpuMask> placed_gpus(reqs.size(), 0);
  // Node order for ties (see SimOptions::ties): a fresh random order per run.
  std::vector<int> order(n_nodes);
  for (int n = 0; n < n_nodes; ++n) order[n] = n;
  std::shuffle(order.begin(), order.end(), rng);
  const bool first_wins = ties_mode == TieBreak::kFirstInRandomOrder;

  Run run;
  run.policy = std::string(policy.name());
  run.seed = seed;
  run.samples.reserve(max_pct + 1);
  const double capacity = static_cast<double>(c.gpu_capacity_milli());
  std::int64_t arrived = 0;
  int next_pct = 0;
  double decide_ns = 0;
  int decisions = 0;

  auto update_node = [&](int n) {
    frag_total -= node_frag[n];
    node_frag[n] = fragmentation(c, n, dist);
    frag_total += node_frag[n];
  };

  for (const Event& ev : events) {
    const PodRequest& pod = reqs[ev.pod];
    if (!ev.create) {
      const int n = placed_on[ev.pod];
      if (n >= 0) {
        c.release(n, pod, placed_gpus[ev.pod]);
        placed_on[ev.pod] = -1;
        update_node(n);
      }
      continue;
    }
    arrived += pod.total_gpu_milli();
    ++run.pods;
    ++run.arrived[static_cast<int>(pod.kind())];
    const auto t0 = Clock::now();
    int chosen = -1, ties = 0;
    GpuMask gpus = 0;
    double best = 0;
    for (const int n : order) {
      if (!c.fits(n, pod)) continue;
      Choice ch;
      if (cache) {
        CacheEntry& e = entries[std::size_t(n) * shapes + pod.shape];
        if (e.version != c.version(n) + 1) {
          ch = policy.score(c, n, pod, node_frag[n], rng);
          e = {c.version(n) + 1, ch.gpus, ch.score};
        } else {
          ch = {e.score, e.gpus};
        }
      } else {
        ch = policy.score(c, n, pod, node_frag[n], rng);
      }
      if (ties == 0 || ch.score > best) {
        best = ch.score;
        chosen = n;
        gpus = ch.gpus;
        ties = 1;
      } else if (ch.score == best && !first_wins && rng() % static_cast<unsigned>(++ties) == 0) {
        chosen = n;
        gpus = ch.gpus;
      }
    }
    if (chosen >= 0) {
      c.allocate(chosen, pod, gpus);
      placed_on[ev.pod] = chosen;
      placed_gpus[ev.pod] = gpus;
      update_node(chosen);
    } else {
      ++run.failed[static_cast<int>(pod.kind())];
    }
    decide_ns += std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    ++decisions;
    while (next_pct <= max_pct && static_cast<double>(arrived) * 100 >= next_pct * capacity) {
      Sample s;
      s.arrived_pct = next_pct++;
      s.allocated_pct = static_cast<double>(c.gpu_allocated_milli()) / capacity * 100;
      s.unallocated_pct = 100 - s.allocated_pct;
      s.frag_gpus = frag_total / kMilli;
      const double idle = capacity - static_cast<double>(c.gpu_allocated_milli());
      s.frag_rate_pct = idle > 0 ? frag_total / idle * 100 : 0;
      s.failed = run.failed;
      run.samples.push_back(s);
    }
  }
  run.decision_ns = decisions > 0 ? decide_ns / decisions : 0;
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

}  // namespace

const Sample* Run::at(int pct) const {
  if (pct < 0 || pct >= static_cast<int>(samples.size())) return nullptr;
  return &samples[pct];
}

Result<SimResult> simulate(const std::vector<NodeSpec>& nodes, const std::vector<PodSpec>& pods,
                           const SimOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.seeds.empty()) return fail(ErrorCode::kInvalidArgument, "no seeds to run");
  if (options.policies.empty()) return fail(ErrorCode::kInvalidArgument, "no policy to run");
  if (options.inflate <= 0) return fail(ErrorCode::kInvalidArgument, "--inflate must be > 0");
  auto cluster = Cluster::create(nodes);
  if (!cluster) return std::unexpected(cluster.error());
  if (cluster->gpu_capacity_milli() == 0) {
    return fail(ErrorCode::kInvalidArgument, "the node list has no GPUs");
  }

  // Requests with a shape index each, for the per-(node, shape) score cache.
  std::vector<PodRequest> reqs;
  reqs.reserve(pods.size());
  std::map<std::tuple<std::int64_t, int, int, ModelMask>, int> shape_ids;
  for (const auto& p : pods) {
    PodRequest r = cluster->request(p);
    auto key = std::make_tuple(r.cpu_milli, r.num_gpu, r.gpu_milli, r.models);
    auto it = shape_ids.emplace(key, static_cast<int>(shape_ids.size())).first;
    r.shape = it->second;
    reqs.push_back(r);
  }
  const int shapes = static_cast<int>(shape_ids.size());
  const WorkloadDistribution dist = WorkloadDistribution::from_requests(reqs, options.coverage);

  std::vector<std::unique_ptr<Policy>> policies;
  for (const auto& name : options.policies) {
    auto p = make_policy(name, &dist);
    if (!p) return std::unexpected(p.error());
    policies.push_back(std::move(*p));
  }

  std::vector<std::vector<Event>> sequences;
  if (options.time_ordered) {
    for (std::size_t i = 0; i < pods.size(); ++i) {
      if (pods[i].creation_time < 0) {
        return fail(
            ErrorCode::kInvalidArgument,
            "--time-ordered needs creation_time for every pod; pod " + pods[i].name + " has none");
      }
    }
    sequences.push_back(timed_events(pods));
  } else {
    for (auto seed : options.seeds) {
      sequences.push_back(
          shuffled_events(reqs, cluster->gpu_capacity_milli(), options.inflate, seed));
    }
  }
  const int max_pct = static_cast<int>(std::floor(std::max(options.inflate, 1.0) * 100 + 1e-9));

  const int n_runs = static_cast<int>(policies.size() * options.seeds.size());
  std::vector<Run> runs(n_runs);
  std::atomic<int> next{0};
  int done = 0;
  std::mutex progress_mu;
  auto worker = [&] {
    for (int i = next++; i < n_runs; i = next++) {
      const std::size_t p = i / options.seeds.size(), s = i % options.seeds.size();
      const auto& events = sequences[options.time_ordered ? 0 : s];
      runs[i] = replay(*cluster, reqs, shapes, events, *policies[p], dist, options.seeds[s],
                       max_pct, options.ties);
      if (options.progress) {
        std::lock_guard lock(progress_mu);
        options.progress(++done, n_runs);
      }
    }
  };
  const int threads = std::clamp(options.threads, 1, n_runs);
  std::vector<std::jthread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  pool.clear();

  SimResult result;
  result.nodes = cluster->size();
  result.gpus = static_cast<double>(cluster->gpu_capacity_milli()) / kMilli;
  result.trace_pods = static_cast<int>(pods.size());
  result.pod_types = static_cast<int>(dist.types().size()) + (dist.cpu_only_weight() > 0);
  result.runs = std::move(runs);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

std::vector<double> values_at(const SimResult& r, const std::string& policy, int pct,
                              double Sample::*field) {
  std::vector<double> v;
  for (const auto& run : r.runs) {
    if (run.policy != policy) continue;
    if (const Sample* s = run.at(pct)) v.push_back(s->*field);
  }
  return v;
}

}  // namespace

double mean_at(const SimResult& r, const std::string& policy, int pct, double Sample::*field) {
  auto v = values_at(r, policy, pct, field);
  if (v.empty()) return std::nan("");
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double stddev_at(const SimResult& r, const std::string& policy, int pct, double Sample::*field) {
  auto v = values_at(r, policy, pct, field);
  if (v.size() < 2) return v.empty() ? std::nan("") : 0.0;
  const double m = mean_at(r, policy, pct, field);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

}  // namespace aion::cluster
