#include "aion/cluster/fragmentation.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace aion::cluster {

WorkloadDistribution::WorkloadDistribution(std::vector<PodType> types) {
  for (auto& t : types) {
    if (t.gpu_milli == 0) {
      cpu_only_weight_ += t.weight;
    } else {
      types_.push_back(t);
    }
  }
}

WorkloadDistribution WorkloadDistribution::from_requests(const std::vector<PodRequest>& pods,
                                                         double coverage) {
  using Key = std::tuple<std::int64_t, int, int, ModelMask>;  // cpu, milli, num, models
  std::map<Key, int> counts;
  for (const auto& p : pods) ++counts[Key{p.cpu_milli, p.gpu_milli, p.num_gpu, p.models}];
  std::vector<std::pair<Key, int>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first > b.first;
  });
  const double total = static_cast<double>(pods.size());
  double covered = 0;
  std::size_t keep = 0;
  while (keep < sorted.size() && covered < coverage * total) covered += sorted[keep++].second;
  std::vector<PodType> types;
  for (std::size_t i = 0; i < keep; ++i) {
    const auto& [key, count] = sorted[i];
    PodType t;
    t.cpu_milli = std::get<0>(key);
    t.gpu_milli = std::get<1>(key);
    t.num_gpu = std::get<2>(key);
    t.models = std::get<3>(key);
    t.weight = count / covered;
    types.push_back(t);
  }
  return WorkloadDistribution(std::move(types));
}

double fragmentation(std::int64_t cpu_left, int model, const std::int16_t* gpu_left, int gpus,
                     const WorkloadDistribution& dist) {
  int total = 0;
  for (int i = 0; i < gpus; ++i) total += gpu_left[i];
  if (total == 0) return 0;
  double frag = dist.cpu_only_weight() * total;
  const ModelMask bit = model < 0 ? 0 : ModelMask{1} << model;
  for (const PodType& t : dist.types()) {
    if ((t.models & bit) == 0 || cpu_left < t.cpu_milli) {
      frag += t.weight * total;
      continue;
    }
    int usable = 0, stranded = 0;
    for (int i = 0; i < gpus; ++i) {
      if (gpu_left[i] >= t.gpu_milli) {
        ++usable;
      } else {
        stranded += gpu_left[i];
      }
    }
    frag += t.weight * (usable >= t.num_gpu ? stranded : total);
  }
  return frag;
}

double fragmentation(const Cluster& c, int n, const WorkloadDistribution& dist) {
  return fragmentation(c.cpu_left(n), c.model(n), c.gpu_left(n), c.gpu_count(n), dist);
}

}  // namespace aion::cluster
