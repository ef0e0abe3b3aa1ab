#include "aion/cluster/cluster.h"

#include <algorithm>

namespace aion::cluster {

std::string_view to_string(PodKind kind) {
  switch (kind) {
    case PodKind::kCpu: return "cpu";
    case PodKind::kShare: return "share";
    case PodKind::kOne: return "1-gpu";
    case PodKind::kTwo: return "2-gpu";
    case PodKind::kFour: return "4-gpu";
    case PodKind::kEight: return "8-gpu";
    case PodKind::kOther: return "other";
  }
  return "other";
}

PodKind PodRequest::kind() const {
  if (num_gpu == 0) return PodKind::kCpu;
  if (is_share()) return PodKind::kShare;
  switch (num_gpu) {
    case 1: return PodKind::kOne;
    case 2: return PodKind::kTwo;
    case 4: return PodKind::kFour;
    case 8: return PodKind::kEight;
    default: return PodKind::kOther;
  }
}

Result<Cluster> Cluster::create(const std::vector<NodeSpec>& nodes) {
  Cluster c;
  const std::size_t n = nodes.size();
  c.names_.reserve(n);
  c.cpu_cap_.reserve(n);
  c.gpu_left_.assign(n * kMaxGpusPerNode, 0);
  c.version_.assign(n, 0);
  c.affinity_.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    const NodeSpec& s = nodes[i];
    int model = -1;
    if (s.gpus > 0) {
      auto it = std::find(c.models_.begin(), c.models_.end(), s.model);
      if (it == c.models_.end()) {
        if (c.models_.size() == 32) {
          return fail(ErrorCode::kInvalidArgument, "more than 32 GPU models in the node list");
        }
        c.models_.push_back(s.model);
        it = c.models_.end() - 1;
      }
      model = static_cast<int>(it - c.models_.begin());
    }
    c.names_.push_back(s.name);
    c.cpu_cap_.push_back(s.cpu_milli);
    c.cpu_left_.push_back(s.cpu_milli);
    c.mem_left_.push_back(s.memory_mib);
    c.gpu_count_.push_back(static_cast<std::int8_t>(s.gpus));
    c.model_.push_back(static_cast<std::int8_t>(model));
    for (int g = 0; g < s.gpus; ++g) c.gpu_left_[i * kMaxGpusPerNode + g] = kMilli;
    c.gpu_capacity_milli_ += std::int64_t{s.gpus} * kMilli;
  }
  return c;
}

PodRequest Cluster::request(const PodSpec& pod) const {
  PodRequest r;
  r.cpu_milli = pod.cpu_milli;
  r.memory_mib = pod.memory_mib;
  r.num_gpu = pod.num_gpu;
  r.gpu_milli = pod.gpu_milli;
  if (!pod.gpu_spec.empty()) {
    ModelMask mask = 0;
    bool named = false;
    std::string_view spec = pod.gpu_spec;
    while (!spec.empty()) {
      std::size_t bar = spec.find('|');
      std::string_view m = spec.substr(0, bar);
      spec = bar == std::string_view::npos ? std::string_view() : spec.substr(bar + 1);
      if (m.empty()) continue;
      named = true;
      for (std::size_t i = 0; i < models_.size(); ++i) {
        if (models_[i] == m) mask |= ModelMask{1} << i;
      }
    }
    r.models = named ? mask : kAnyModel;
  }
  return r;
}

int Cluster::gpu_left_total(int n) const {
  const std::int16_t* g = gpu_left(n);
  int sum = 0;
  for (int i = 0; i < gpu_count_[n]; ++i) sum += g[i];
  return sum;
}

int Cluster::free_gpus(int n) const {
  const std::int16_t* g = gpu_left(n);
  int free = 0;
  for (int i = 0; i < gpu_count_[n]; ++i) free += g[i] == kMilli;
  return free;
}

int Cluster::affinity_classes(int n) const {
  int k = 0;
  for (auto c : affinity_[n]) k += c > 0;
  return k;
}

bool Cluster::fits(int n, const PodRequest& pod) const {
  if (cpu_left_[n] < pod.cpu_milli || mem_left_[n] < pod.memory_mib) return false;
  if (pod.num_gpu == 0) return true;
  const int model = model_[n];
  if (model < 0 || (pod.models & (ModelMask{1} << model)) == 0) return false;
  const std::int16_t* g = gpu_left(n);
  int ok = 0;
  for (int i = 0; i < gpu_count_[n]; ++i) ok += g[i] >= pod.gpu_milli;
  return ok >= pod.num_gpu;
}

GpuMask Cluster::best_fit_gpus(int n, const PodRequest& pod) const {
  const std::int16_t* g = gpu_left(n);
  if (pod.num_gpu == 0) return 0;
  if (pod.is_share()) {
    int best = -1;
    for (int i = 0; i < gpu_count_[n]; ++i) {
      if (g[i] >= pod.gpu_milli && (best < 0 || g[i] < g[best])) best = i;
    }
    return best < 0 ? 0 : static_cast<GpuMask>(1u << best);
  }
  GpuMask mask = 0;
  int need = pod.num_gpu;
  for (int i = 0; i < gpu_count_[n] && need > 0; ++i) {
    if (g[i] == kMilli) {
      mask |= static_cast<GpuMask>(1u << i);
      --need;
    }
  }
  return need == 0 ? mask : 0;
}

void Cluster::allocate(int n, const PodRequest& pod, GpuMask gpus) {
  apply(n, pod, gpus, +1);
}
void Cluster::release(int n, const PodRequest& pod, GpuMask gpus) {
  apply(n, pod, gpus, -1);
}

void Cluster::apply(int n, const PodRequest& pod, GpuMask gpus, int sign) {
  cpu_left_[n] -= sign * pod.cpu_milli;
  mem_left_[n] -= sign * pod.memory_mib;
  std::int16_t* g = &gpu_left_[std::size_t(n) * kMaxGpusPerNode];
  for (int i = 0; i < kMaxGpusPerNode; ++i) {
    if (gpus & (1u << i)) {
      g[i] = static_cast<std::int16_t>(g[i] - sign * pod.gpu_milli);
      gpu_allocated_milli_ += sign * pod.gpu_milli;
    }
  }
  if (pod.num_gpu > 0) {
    int cls = pod.is_share() ? 0 : std::min(pod.num_gpu, 8);
    affinity_[n][cls] = static_cast<std::uint16_t>(affinity_[n][cls] + sign);
  }
  ++version_[n];
}

}  // namespace aion::cluster
