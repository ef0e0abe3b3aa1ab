#include "aion/k8s/extender.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "aion/cluster/cluster.h"
#include "aion/cluster/policy.h"
#include "aion/core/json.h"

namespace aion::k8s {
namespace {

constexpr int kMaxExtenderPriority = 10;
constexpr std::uint64_t kSeed = 42;  // the random policy's Rng, per request: reproducible answers

// Node names of the ExtenderArgs, whichever form kube-scheduler sent.
struct Args {
  Json pod;
  std::vector<std::string> names;
  bool node_cache_capable = false;  // "nodenames" was sent
  Json nodes;                       // the NodeList when it was sent
};

Result<Args> parse_args(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kInvalidArgument, "ExtenderArgs: the body is not a JSON object");
  }
  Args a;
  if (!j.contains("pod") || !j["pod"].is_object()) {
    return fail(ErrorCode::kInvalidArgument, "ExtenderArgs: 'pod' is missing");
  }
  a.pod = j["pod"];
  if (auto it = j.find("nodenames"); it != j.end() && it->is_array()) {
    a.node_cache_capable = true;
    for (const auto& n : *it) {
      if (n.is_string()) a.names.push_back(n.get<std::string>());
    }
  } else if (auto nl = j.find("nodes"); nl != j.end() && nl->is_object()) {
    a.nodes = *nl;
    for (const auto& n : nl->value("items", Json::array())) {
      a.names.push_back(n.value("metadata", Json::object()).value("name", std::string()));
    }
  } else {
    return fail(ErrorCode::kInvalidArgument, "ExtenderArgs: neither 'nodenames' nor 'nodes' given");
  }
  return a;
}

}  // namespace

struct Extender::State {
  ClusterView view;
  cluster::Cluster cluster;
  std::unique_ptr<cluster::WorkloadDistribution> dist;  // from the file; null: the pod's own
  std::unique_ptr<cluster::Policy> policy;              // with `dist`, when it is set
  std::vector<std::int64_t> memory_cap;

  int index(const std::string& name) const {
    for (int n = 0; n < cluster.size(); ++n) {
      if (cluster.name(n) == name) return n;
    }
    return -1;
  }
};

Extender::Extender(ExtenderOptions options, std::unique_ptr<State> state)
    : options_(std::move(options)), state_(std::move(state)) {}
Extender::~Extender() = default;

Result<std::unique_ptr<Extender>> Extender::create(ExtenderOptions options, ClusterView view) {
  auto st = std::make_unique<State>();
  std::vector<cluster::NodeSpec> specs;
  for (const auto& n : view.nodes) specs.push_back(n.spec);
  auto c = cluster::Cluster::create(specs);
  if (!c) return std::unexpected(c.error());
  st->cluster = std::move(*c);
  for (int n = 0; n < st->cluster.size(); ++n) {
    const NodeView& nv = view.nodes[static_cast<std::size_t>(n)];
    st->memory_cap.push_back(nv.spec.memory_mib);
    cluster::PodRequest used;
    used.cpu_milli = nv.cpu_used_milli;
    used.memory_mib = nv.memory_used_mib;
    if (used.cpu_milli > 0 || used.memory_mib > 0) st->cluster.allocate(n, used, 0);
    for (int g = 0; g < nv.spec.gpus; ++g) {
      if (nv.gpu_used_milli[static_cast<std::size_t>(g)] == 0) continue;
      cluster::PodRequest share;
      share.num_gpu = 1;
      share.gpu_milli = nv.gpu_used_milli[static_cast<std::size_t>(g)];
      st->cluster.allocate(n, share, static_cast<cluster::GpuMask>(1u << g));
    }
  }
  if (!view.workload.empty()) {
    st->dist = std::make_unique<cluster::WorkloadDistribution>(view.workload);
  }
  // Validates the name now, so a typo fails at start and not on the first pod.
  const cluster::WorkloadDistribution probe;
  auto policy = cluster::make_policy(options.policy, st->dist ? st->dist.get() : &probe);
  if (!policy) return std::unexpected(policy.error());
  if (st->dist) st->policy = std::move(*policy);
  st->view = std::move(view);
  return std::unique_ptr<Extender>(new Extender(std::move(options), std::move(st)));
}

namespace {

// Why the pod does not fit node `n` now, and whether it never could (unresolvable).
std::pair<std::string, bool> why_not(const cluster::Cluster& c, int n, const PodDemand& d,
                                     const cluster::PodRequest& r, std::int64_t memory_cap) {
  if (r.num_gpu > 0) {
    if (c.gpu_count(n) == 0) return {"aion: the node has no GPU", true};
    if ((r.models & (cluster::ModelMask{1} << c.model(n))) == 0) {
      return {"aion: GPU model " + c.models()[static_cast<std::size_t>(c.model(n))] +
                  " is not one the pod accepts (" + d.gpu_spec + ")",
              true};
    }
    if (r.num_gpu > c.gpu_count(n)) {
      return {"aion: asks for " + std::to_string(r.num_gpu) + " GPUs, the node has " +
                  std::to_string(c.gpu_count(n)),
              true};
    }
  }
  if (r.cpu_milli > c.cpu_capacity(n)) {
    return {"aion: asks for " + std::to_string(r.cpu_milli) + "m CPU, the node has " +
                std::to_string(c.cpu_capacity(n)) + "m",
            true};
  }
  if (r.memory_mib > memory_cap) {
    return {"aion: asks for " + std::to_string(r.memory_mib) + " MiB of memory, the node has " +
                std::to_string(memory_cap) + " MiB",
            true};
  }
  if (r.cpu_milli > c.cpu_left(n)) {
    return {"aion: asks for " + std::to_string(r.cpu_milli) + "m CPU, " +
                std::to_string(c.cpu_left(n)) + "m left",
            false};
  }
  if (r.memory_mib > c.memory_left(n)) {
    return {"aion: asks for " + std::to_string(r.memory_mib) + " MiB of memory, " +
                std::to_string(c.memory_left(n)) + " MiB left",
            false};
  }
  if (r.is_share()) {
    int most = 0;
    for (int g = 0; g < c.gpu_count(n); ++g) most = std::max<int>(most, c.gpu_left(n)[g]);
    return {"aion: needs a GPU with " + std::to_string(r.gpu_milli) +
                " milli-GPU left, the most any GPU has is " + std::to_string(most),
            false};
  }
  return {"aion: needs " + std::to_string(r.num_gpu) + " free GPUs, " +
              std::to_string(c.free_gpus(n)) + " free",
          false};
}

cluster::PodRequest request_for(const cluster::Cluster& c, const PodDemand& d) {
  cluster::PodSpec spec;
  spec.name = d.name;
  spec.cpu_milli = d.cpu_milli;
  spec.memory_mib = d.memory_mib;
  spec.num_gpu = d.num_gpu;
  spec.gpu_milli = d.gpu_milli;
  spec.gpu_spec = d.gpu_spec;
  return c.request(spec);
}

}  // namespace

Result<std::string> Extender::filter(std::string_view body) const {
  auto args = parse_args(body);
  if (!args) return std::unexpected(args.error());
  Json out = Json::object();
  Json failed = Json::object(), unresolvable = Json::object();
  auto demand = pod_demand(args->pod.dump(), options_.gpu_resource);
  if (!demand) {
    out["error"] = demand.error().message();
    return out.dump();
  }
  const cluster::Cluster& c = state_->cluster;
  const cluster::PodRequest r = request_for(c, *demand);
  std::vector<std::string> kept;
  for (const auto& name : args->names) {
    const int n = state_->index(name);
    if (n < 0) {
      unresolvable[name] = "aion: no state for this node in the node state file";
      continue;
    }
    if (c.fits(n, r)) {
      kept.push_back(name);
      continue;
    }
    auto [why, never] = why_not(c, n, *demand, r, state_->memory_cap[static_cast<std::size_t>(n)]);
    (never ? unresolvable : failed)[name] = why;
  }
  if (args->node_cache_capable) {
    out["nodenames"] = kept;
  } else {
    Json list = args->nodes;
    Json items = Json::array();
    for (const auto& item : args->nodes.value("items", Json::array())) {
      const std::string name = item.value("metadata", Json::object()).value("name", std::string());
      if (std::find(kept.begin(), kept.end(), name) != kept.end()) items.push_back(item);
    }
    list["items"] = std::move(items);
    out["nodes"] = std::move(list);
  }
  out["failedNodes"] = std::move(failed);
  out["failedAndUnresolvableNodes"] = std::move(unresolvable);
  out["error"] = "";
  return out.dump();
}

Result<std::string> Extender::prioritize(std::string_view body) const {
  auto args = parse_args(body);
  if (!args) return std::unexpected(args.error());
  Json out = Json::array();
  auto demand = pod_demand(args->pod.dump(), options_.gpu_resource);
  if (!demand) {
    // The prioritize verb has no error field: every node scores 0 and the log says why.
    for (const auto& name : args->names) out.push_back({{"host", name}, {"score", 0}});
    return out.dump();
  }
  const cluster::Cluster& c = state_->cluster;
  const cluster::PodRequest r = request_for(c, *demand);

  // Without a workload in the file, the pod being placed is the workload.
  const cluster::WorkloadDistribution* dist = state_->dist.get();
  std::unique_ptr<cluster::WorkloadDistribution> own;
  std::unique_ptr<cluster::Policy> own_policy;
  const cluster::Policy* policy = state_->policy.get();
  if (dist == nullptr) {
    cluster::PodType t{r.cpu_milli, r.num_gpu, r.gpu_milli, cluster::kAnyModel, 1.0};
    own = std::make_unique<cluster::WorkloadDistribution>(std::vector<cluster::PodType>{t});
    dist = own.get();
    auto p = cluster::make_policy(options_.policy, dist);
    if (!p) return std::unexpected(p.error());
    own_policy = std::move(*p);
    policy = own_policy.get();
  }
  cluster::Rng rng(kSeed);
  std::vector<std::optional<double>> raw(args->names.size());
  double lo = 0, hi = 0;
  bool any = false;
  for (std::size_t i = 0; i < args->names.size(); ++i) {
    const int n = state_->index(args->names[i]);
    if (n < 0 || !c.fits(n, r)) continue;
    const double frag = cluster::fragmentation(c, n, *dist);
    const double s = policy->score(c, n, r, frag, rng).score;
    raw[i] = s;
    lo = any ? std::min(lo, s) : s;
    hi = any ? std::max(hi, s) : s;
    any = true;
  }
  for (std::size_t i = 0; i < args->names.size(); ++i) {
    std::int64_t score = 0;
    if (raw[i]) {
      score = hi > lo ? std::llround(kMaxExtenderPriority * (*raw[i] - lo) / (hi - lo))
                      : kMaxExtenderPriority;
    }
    out.push_back({{"host", args->names[i]}, {"score", score}});
  }
  return out.dump();
}

}  // namespace aion::k8s
