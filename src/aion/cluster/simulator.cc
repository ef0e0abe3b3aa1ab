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

// Replays events with one policy over a copy of the cluster. Allocation-free per pod after
// setup.
class Replay {
 public:
  using Clock = std::chrono::steady_clock;

  Replay(const Cluster& initial, const std::vector<PodRequest>& reqs, int shapes,
         const Policy& policy, const WorkloadDistribution& dist, std::uint64_t seed, int max_pct,
         TieBreak ties_mode)
      : start_(Clock::now()),
        c_(initial),
        reqs_(reqs),
        shapes_(shapes),
        policy_(policy),
        dist_(dist),
        rng_(seed ^ 0x9e3779b97f4a7c15ULL),
        max_pct_(max_pct),
        n_nodes_(c_.size()),
        node_frag_(n_nodes_),
        cache_(policy.deterministic()),
        entries_(cache_ ? std::size_t(n_nodes_) * shapes : 0),
        placed_on_(reqs.size(), -1),
        placed_gpus_(reqs.size(), 0),
        order_(n_nodes_),
        first_wins_(ties_mode == TieBreak::kFirstInRandomOrder),
        capacity_(static_cast<double>(c_.gpu_capacity_milli())) {
    for (int n = 0; n < n_nodes_; ++n) frag_total_ += node_frag_[n] = fragmentation(c_, n, dist_);
    // Node order for ties (see SimOptions::ties): a fresh random order per run.
    for (int n = 0; n < n_nodes_; ++n) order_[n] = n;
    std::shuffle(order_.begin(), order_.end(), rng_);
    run_.policy = std::string(policy.name());
    run_.seed = seed;
    run_.samples.reserve(max_pct + 1);
  }

  Run run(const std::vector<Event>& events) {
    for (const Event& ev : events) {
      if (ev.create) {
        arrive(ev.pod);
      } else {
        depart(ev.pod);
      }
    }
    run_.decision_ns = decisions_ > 0 ? decide_ns_ / decisions_ : 0;
    run_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return std::move(run_);
  }

 private:
  void update_node(int n) {
    frag_total_ -= node_frag_[n];
    node_frag_[n] = fragmentation(c_, n, dist_);
    frag_total_ += node_frag_[n];
  }

  void depart(int p) {
    const int n = placed_on_[p];
    if (n < 0) return;
    c_.release(n, reqs_[p], placed_gpus_[p]);
    placed_on_[p] = -1;
    update_node(n);
  }

  void arrive(int p) {
    const PodRequest& pod = reqs_[p];
    arrived_ += pod.total_gpu_milli();
    ++run_.pods;
    ++run_.arrived[static_cast<int>(pod.kind())];
    const auto t0 = Clock::now();
    GpuMask gpus = 0;
    const int chosen = choose(pod, gpus);
    if (chosen >= 0) {
      c_.allocate(chosen, pod, gpus);
      placed_on_[p] = chosen;
      placed_gpus_[p] = gpus;
      update_node(chosen);
    } else {
      ++run_.failed[static_cast<int>(pod.kind())];
    }
    decide_ns_ += std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    ++decisions_;
    take_samples();
  }

  // The policy's score of placing `pod` on node n, from the cache while the node is unchanged.
  Choice score(int n, const PodRequest& pod) {
    if (!cache_) return policy_.score(c_, n, pod, node_frag_[n], rng_);
    CacheEntry& e = entries_[std::size_t(n) * shapes_ + pod.shape];
    if (e.version == c_.version(n) + 1) return {e.score, e.gpus};
    Choice ch = policy_.score(c_, n, pod, node_frag_[n], rng_);
    e = {c_.version(n) + 1, ch.gpus, ch.score};
    return ch;
  }

  // The best-scoring node that fits `pod` (ties broken as SimOptions::ties says) and its
  // GPUs; -1 when none fits.
  int choose(const PodRequest& pod, GpuMask& gpus) {
    int chosen = -1, ties = 0;
    double best = 0;
    for (const int n : order_) {
      if (!c_.fits(n, pod)) continue;
      const Choice ch = score(n, pod);
      if (ties == 0 || ch.score > best) {
        best = ch.score;
        chosen = n;
        gpus = ch.gpus;
        ties = 1;
      } else if (ch.score == best && !first_wins_ && rng_() % static_cast<unsigned>(++ties) == 0) {
        chosen = n;
        gpus = ch.gpus;
      }
    }
    return chosen;
  }

  // One sample per whole percent of the capacity that has arrived.
  void take_samples() {
    while (next_pct_ <= max_pct_ && static_cast<double>(arrived_) * 100 >= next_pct_ * capacity_) {
      Sample s;
      s.arrived_pct = next_pct_++;
      s.allocated_pct = static_cast<double>(c_.gpu_allocated_milli()) / capacity_ * 100;
      s.unallocated_pct = 100 - s.allocated_pct;
      s.frag_gpus = frag_total_ / kMilli;
      const double idle = capacity_ - static_cast<double>(c_.gpu_allocated_milli());
      s.frag_rate_pct = idle > 0 ? frag_total_ / idle * 100 : 0;
      s.failed = run_.failed;
      run_.samples.push_back(s);
    }
  }

  const Clock::time_point start_;
  Cluster c_;
  const std::vector<PodRequest>& reqs_;
  const int shapes_;
  const Policy& policy_;
  const WorkloadDistribution& dist_;
  Rng rng_;
  const int max_pct_;
  const int n_nodes_;
  std::vector<double> node_frag_;
  double frag_total_ = 0;
  const bool cache_;
  std::vector<CacheEntry> entries_;
  std::vector<int> placed_on_;
  std::vector<GpuMask> placed_gpus_;
  std::vector<int> order_;
  const bool first_wins_;
  const double capacity_;
  Run run_;
  std::int64_t arrived_ = 0;
  int next_pct_ = 0;
  double decide_ns_ = 0;
  int decisions_ = 0;
};

Run replay(const Cluster& initial, const std::vector<PodRequest>& reqs, int shapes,
           const std::vector<Event>& events, const Policy& policy, const WorkloadDistribution& dist,
           std::uint64_t seed, int max_pct, TieBreak ties_mode) {
  return Replay(initial, reqs, shapes, policy, dist, seed, max_pct, ties_mode).run(events);
}

// The pods' requests, each with a shape index for the per-(node, shape) score cache; returns
// the number of shapes.
int shaped_requests(const Cluster& cluster, const std::vector<PodSpec>& pods,
                    std::vector<PodRequest>& reqs) {
  reqs.reserve(pods.size());
  std::map<std::tuple<std::int64_t, int, int, ModelMask>, int> shape_ids;
  for (const auto& p : pods) {
    PodRequest r = cluster.request(p);
    auto key = std::make_tuple(r.cpu_milli, r.num_gpu, r.gpu_milli, r.models);
    auto it = shape_ids.emplace(key, static_cast<int>(shape_ids.size())).first;
    r.shape = it->second;
    reqs.push_back(r);
  }
  return static_cast<int>(shape_ids.size());
}

// The arrival sequences to replay: the trace's own timing (one for all seeds), or one
// shuffled sequence per seed.
Result<std::vector<std::vector<Event>>> event_sequences(const std::vector<PodSpec>& pods,
                                                        const std::vector<PodRequest>& reqs,
                                                        std::int64_t capacity,
                                                        const SimOptions& options) {
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
      sequences.push_back(shuffled_events(reqs, capacity, options.inflate, seed));
    }
  }
  return sequences;
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

  std::vector<PodRequest> reqs;
  const int shapes = shaped_requests(*cluster, pods, reqs);
  const WorkloadDistribution dist = WorkloadDistribution::from_requests(reqs, options.coverage);

  std::vector<std::unique_ptr<Policy>> policies;
  for (const auto& name : options.policies) {
    auto p = make_policy(name, &dist);
    if (!p) return std::unexpected(p.error());
    policies.push_back(std::move(*p));
  }

  auto sequences = event_sequences(pods, reqs, cluster->gpu_capacity_milli(), options);
  if (!sequences) return std::unexpected(sequences.error());
  const int max_pct = static_cast<int>(std::floor(std::max(options.inflate, 1.0) * 100 + 1e-9));

  const int n_runs = static_cast<int>(policies.size() * options.seeds.size());
  std::vector<Run> runs(n_runs);
  std::atomic<int> next{0};
  int done = 0;
  std::mutex progress_mu;
  auto worker = [&] {
    for (int i = next++; i < n_runs; i = next++) {
      const std::size_t p = i / options.seeds.size(), s = i % options.seeds.size();
      const auto& events = (*sequences)[options.time_ordered ? 0 : s];
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
