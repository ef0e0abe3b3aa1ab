#include "aion/cluster/policy.h"
#include "aion/core/strings.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace aion::cluster {
namespace {

constexpr double kMaxSpecCpu = 128000;  // the largest node's CPU, milli
constexpr double kMaxSpecGpu = 8000;    // the largest node's GPU, milli
constexpr int kMaxScore = 100;

int total_left(const Cluster& c, int n) {
  return c.gpu_left_total(n);
}

class RandomPolicy : public Policy {
 public:
  std::string_view name() const override { return "random"; }
  bool deterministic() const override { return false; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double, Rng& rng) const override {
    // A random score per node: the top one is a uniformly random fitting node whatever the
    // caller does with ties.
    const double s = static_cast<double>(rng() >> 11);
    if (!pod.is_share()) return {s, c.best_fit_gpus(n, pod)};
    const std::int16_t* g = c.gpu_left(n);
    int seen = 0;
    GpuMask pick = 0;
    for (int i = 0; i < c.gpu_count(n); ++i) {
      if (g[i] >= pod.gpu_milli && rng() % static_cast<unsigned>(++seen) == 0) {
        pick = static_cast<GpuMask>(1u << i);
      }
    }
    return {s, pick};
  }
};

class DotProdPolicy : public Policy {
 public:
  std::string_view name() const override { return "dotprod"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double, Rng&) const override {
    const double cpu = static_cast<double>(c.cpu_left(n)) / kMaxSpecCpu *
                       (static_cast<double>(pod.cpu_milli) / kMaxSpecCpu);
    const double gpu =
        total_left(c, n) / kMaxSpecGpu * (static_cast<double>(pod.total_gpu_milli()) / kMaxSpecGpu);
    const double s = 1 - (cpu + gpu) / 2;
    return {std::trunc(kMaxScore * s), c.best_fit_gpus(n, pod)};
  }
};

class ClusteringPolicy : public Policy {
 public:
  std::string_view name() const override { return "clustering"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double, Rng&) const override {
    if (pod.num_gpu == 0) return {0, 0};
    const int fullness = kMaxScore / 4 * (8000 - total_left(c, n)) / 8000;
    const int cls = pod.is_share() ? 0 : std::min(pod.num_gpu, 8);
    const int classes = c.affinity_classes(n);
    int band = 0;
    if (c.affinity(n)[cls] > 0) {
      band = classes == 1 ? 3 : 2;
    } else if (classes == 0) {
      band = 1;
    }
    return {static_cast<double>(fullness + band * kMaxScore / 4), c.best_fit_gpus(n, pod)};
  }
};

class PackingPolicy : public Policy {
 public:
  std::string_view name() const override { return "packing"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double, Rng&) const override {
    if (pod.num_gpu == 0) return {0, 0};
    const GpuMask gpus = c.best_fit_gpus(n, pod);
    const int gpu_count = c.gpu_count(n);
    const int free = c.free_gpus(n);
    if (free == gpu_count) return {static_cast<double>(std::max(kMaxScore / 3 - free, free)), gpus};
    // The GPUs the simulator's packing takes: least left first, stable on index.
    const std::int16_t* g = c.gpu_left(n);
    int order[kMaxGpusPerNode];
    for (int i = 0; i < gpu_count; ++i) order[i] = i;
    std::stable_sort(order, order + gpu_count, [g](int a, int b) { return g[a] < g[b]; });
    int need = pod.num_gpu, free_used = 0, ratio_sum = 0;
    for (int k = 0; k < gpu_count && need > 0; ++k) {
      const int left = g[order[k]];
      if (left >= pod.gpu_milli) {
        --need;
        free_used += left == kMilli;
        ratio_sum += left * 100 / kMilli;
      }
    }
    if (free_used > 0) {
      return {static_cast<double>(std::max(kMaxScore / 2 - free_used, kMaxScore / 3)), gpus};
    }
    return {static_cast<double>(std::max(kMaxScore - ratio_sum / 10, kMaxScore / 2)), gpus};
  }
};

class BestFitPolicy : public Policy {
 public:
  std::string_view name() const override { return "bestfit"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double, Rng&) const override {
    const double cpu = static_cast<double>(c.cpu_left(n) - pod.cpu_milli) / kMaxSpecCpu * 0.5;
    const double gpu =
        static_cast<double>(total_left(c, n) - pod.total_gpu_milli()) / kMaxSpecGpu * 0.5;
    // The simulator min-max normalises these scores over the feasible nodes, which keeps the
    // set of top-scoring nodes unchanged, so ranking on the raw integer score is the same.
    return {std::trunc((1.0 - (cpu + gpu)) * kMaxScore), c.best_fit_gpus(n, pod)};
  }
};

// Shared by fgd and fgd-pack: for each GPU choice, the node's fragmentation after placement.
class FragmentationPolicy : public Policy {
 public:
  explicit FragmentationPolicy(const WorkloadDistribution* dist) : dist_(dist) {}
  const WorkloadDistribution* workload() const override { return dist_; }

 protected:
  // Calls visit(gpus, new_frag) for every distinct GPU choice (shares: each GPU that fits,
  // skipping GPUs with the same amount left as an earlier one, which give the same result;
  // whole GPUs: the lowest-indexed free ones).
  template <class Visit>
  void for_each_choice(const Cluster& c, int n, const PodRequest& pod, Visit visit) const {
    std::int16_t left[kMaxGpusPerNode];
    const int gpus = c.gpu_count(n);
    std::copy(c.gpu_left(n), c.gpu_left(n) + gpus, left);
    const std::int64_t cpu_after = c.cpu_left(n) - pod.cpu_milli;
    if (pod.is_share()) {
      for (int i = 0; i < gpus; ++i) {
        if (left[i] < pod.gpu_milli) continue;
        bool seen = false;
        for (int j = 0; j < i; ++j) seen = seen || left[j] == left[i];
        if (seen) continue;
        left[i] = static_cast<std::int16_t>(left[i] - pod.gpu_milli);
        visit(static_cast<GpuMask>(1u << i),
              fragmentation(cpu_after, c.model(n), left, gpus, *dist_), left, gpus);
        left[i] = static_cast<std::int16_t>(left[i] + pod.gpu_milli);
      }
      return;
    }
    const GpuMask mask = c.best_fit_gpus(n, pod);
    for (int i = 0; i < gpus; ++i) {
      if (mask & (1u << i)) left[i] = static_cast<std::int16_t>(left[i] - pod.gpu_milli);
    }
    visit(mask, fragmentation(cpu_after, c.model(n), left, gpus, *dist_), left, gpus);
  }

  const WorkloadDistribution* dist_;
};

class FgdPolicy : public FragmentationPolicy {
 public:
  using FragmentationPolicy::FragmentationPolicy;
  std::string_view name() const override { return "fgd"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double node_frag,
               Rng&) const override {
    Choice best{-1, 0};
    for_each_choice(c, n, pod, [&](GpuMask gpus, double frag, const std::int16_t*, int) {
      const double x = (node_frag - frag) / 1000;
      const double s = std::trunc(1.0 / (1.0 + std::exp(-x)) * kMaxScore);
      if (best.score < 0 || s > best.score) best = {s, gpus};
    });
    return best;
  }
};

class FgdPackPolicy : public FragmentationPolicy {
 public:
  using FragmentationPolicy::FragmentationPolicy;
  std::string_view name() const override { return "fgd-pack"; }
  Choice score(const Cluster& c, int n, const PodRequest& pod, double node_frag,
               Rng&) const override {
    // FGD's band first (x10 keeps it the major key), then +1 for a node already in use, so an
    // empty node is opened only when no used node is as good.
    const bool used =
        c.gpu_left_total(n) < c.gpu_count(n) * kMilli || c.cpu_left(n) < c.cpu_capacity(n);
    Choice best{-1, 0};
    for_each_choice(c, n, pod, [&](GpuMask gpus, double frag, const std::int16_t*, int) {
      const double band =
          std::trunc(1.0 / (1.0 + std::exp(-(node_frag - frag) / 1000)) * kMaxScore);
      const double s = band * 10 + (used ? 1 : 0);
      if (best.score < 0 || s > best.score) best = {s, gpus};
    });
    return best;
  }
};

}  // namespace

const std::vector<std::string_view>& policy_names() {
  static const std::vector<std::string_view> names = {"random",  "dotprod", "clustering", "packing",
                                                      "bestfit", "fgd",     "fgd-pack"};
  return names;
}

Result<std::unique_ptr<Policy>> make_policy(std::string_view name,
                                            const WorkloadDistribution* dist) {
  const std::string n = lower(name);
  if (n == "random") return std::make_unique<RandomPolicy>();
  if (n == "dotprod") return std::make_unique<DotProdPolicy>();
  if (n == "clustering") return std::make_unique<ClusteringPolicy>();
  if (n == "packing") return std::make_unique<PackingPolicy>();
  if (n == "bestfit") return std::make_unique<BestFitPolicy>();
  if (n == "fgd" || n == "fgd-pack") {
    if (dist == nullptr) {
      return fail(ErrorCode::kInvalidArgument, "policy " + n + " needs a target workload");
    }
    if (n == "fgd") return std::make_unique<FgdPolicy>(dist);
    return std::make_unique<FgdPackPolicy>(dist);
  }
  std::string known;
  for (auto p : policy_names()) known += (known.empty() ? "" : ", ") + std::string(p);
  return fail(ErrorCode::kInvalidArgument,
              "unknown policy '" + std::string(name) + "' (known: " + known + ")");
}

Decision place(const Cluster& c, const Policy& policy, const PodRequest& pod,
               const std::vector<double>& node_frag, Rng& rng) {
  Decision d;
  int ties = 0;
  for (int n = 0; n < c.size(); ++n) {
    if (!c.fits(n, pod)) continue;
    const Choice ch = policy.score(c, n, pod, node_frag.empty() ? 0.0 : node_frag[n], rng);
    if (ties == 0 || ch.score > d.score) {
      d = {n, ch.gpus, ch.score};
      ties = 1;
    } else if (ch.score == d.score && rng() % static_cast<unsigned>(++ties) == 0) {
      d = {n, ch.gpus, ch.score};
    }
  }
  return d;
}

}  // namespace aion::cluster
