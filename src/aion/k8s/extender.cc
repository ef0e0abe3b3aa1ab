#include "aion/k8s/extender.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <tuple>

#include "aion/cluster/cluster.h"
#include "aion/cluster/policy.h"
#include "aion/core/json.h"

namespace aion::k8s {
namespace {

// A node the file gives no CPU or memory for: large enough never to limit a pod, small enough
// that policies doing arithmetic on it stay finite.
constexpr std::int64_t kUnlimited = std::int64_t{1} << 40;
constexpr int kMaxExtenderPriority = 10;
constexpr std::uint64_t kSeed = 42;  // the random policy's Rng, per request: reproducible answers
constexpr const char* kShareAnnotation = "aion.io/gpu-share";
constexpr const char* kModelAnnotation = "aion.io/gpu-model";

Error bad(std::string_view source, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, std::string(source) + ": " + what);
}

Result<std::int64_t> get_int(const Json& j, const char* key, std::int64_t def,
                             std::string_view where) {
  auto it = j.find(key);
  if (it == j.end()) return def;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0) {
    return std::unexpected(bad(where, std::string("'") + key + "' must be a non-negative integer"));
  }
  return it->get<std::int64_t>();
}

// Resource quantities of one container: requests, else limits (Kubernetes defaults a missing
// request of an extended resource to its limit).
std::string quantity_of(const Json& container, std::string_view resource) {
  const Json* res = container.contains("resources") ? &container["resources"] : nullptr;
  if (res == nullptr || !res->is_object()) return {};
  for (const char* part : {"requests", "limits"}) {
    auto p = res->find(part);
    if (p == res->end() || !p->is_object()) continue;
    auto q = p->find(std::string(resource));
    if (q == p->end()) continue;
    if (q->is_string()) return q->get<std::string>();
    if (q->is_number()) return q->dump();
  }
  return {};
}

struct Totals {
  std::int64_t cpu = 0, mem = 0, gpu = 0;
};

Result<Totals> container_totals(const Json& containers, std::string_view gpu_resource, bool max) {
  Totals t;
  if (!containers.is_array()) return t;
  for (const auto& c : containers) {
    Totals one;
    for (auto [res, scale, out] :
         {std::tuple{std::string_view("cpu"), 1000.0, &one.cpu},
          std::tuple{std::string_view("memory"), 1.0 / (1 << 20), &one.mem},
          std::tuple{gpu_resource, 1.0, &one.gpu}}) {
      const std::string q = quantity_of(c, res);
      if (q.empty()) continue;
      auto v = parse_quantity(q, scale);
      if (!v) {
        return fail(ErrorCode::kInvalidArgument, "container '" + c.value("name", std::string("?")) +
                                                     "': " + std::string(res) + ": " +
                                                     v.error().message());
      }
      *out = *v;
    }
    if (max) {
      t.cpu = std::max(t.cpu, one.cpu);
      t.mem = std::max(t.mem, one.mem);
      t.gpu = std::max(t.gpu, one.gpu);
    } else {
      t.cpu += one.cpu;
      t.mem += one.mem;
      t.gpu += one.gpu;
    }
  }
  return t;
}

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

Result<std::int64_t> parse_quantity(std::string_view text, double scale) {
  const std::string s(text);
  auto invalid = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "'" + s + "' is not a Kubernetes quantity (e.g. 500m, 2, 1.5, 4Gi, 512Mi, 1G)");
  };
  std::size_t end = 0;
  while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.' ||
                            (end == 0 && s[end] == '+'))) {
    ++end;
  }
  if (end == 0) return invalid();
  double value = 0;
  try {
    value = std::stod(s.substr(0, end));
  } catch (const std::exception&) {
    return invalid();
  }
  const std::string suffix = s.substr(end);
  double mult = 1;
  static const std::pair<const char*, double> kSuffixes[] = {{"Ki", 1024.0},
                                                             {"Mi", 1048576.0},
                                                             {"Gi", 1073741824.0},
                                                             {"Ti", 1099511627776.0},
                                                             {"Pi", 1125899906842624.0},
                                                             {"Ei", 1152921504606846976.0},
                                                             {"n", 1e-9},
                                                             {"u", 1e-6},
                                                             {"m", 1e-3},
                                                             {"k", 1e3},
                                                             {"M", 1e6},
                                                             {"G", 1e9},
                                                             {"T", 1e12},
                                                             {"P", 1e15},
                                                             {"E", 1e18},
                                                             {"", 1}};
  bool known = false;
  for (const auto& [name, m] : kSuffixes) {
    if (suffix == name) {
      mult = m;
      known = true;
      break;
    }
  }
  if (!known && (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E'))) {
    try {
      std::size_t used = 0;
      const int exp = std::stoi(suffix.substr(1), &used);
      if (used != suffix.size() - 1) return invalid();
      mult = std::pow(10.0, exp);
      known = true;
    } catch (const std::exception&) {
      return invalid();
    }
  }
  if (!known) return invalid();
  const double v = value * mult * scale;
  if (!std::isfinite(v) || v > 9e18) return invalid();
  return static_cast<std::int64_t>(std::ceil(v - 1e-9));
}

Result<PodDemand> pod_demand(std::string_view pod_json, std::string_view gpu_resource) {
  Json pod = Json::parse(pod_json, nullptr, false);
  if (pod.is_discarded() || !pod.is_object()) {
    return fail(ErrorCode::kInvalidArgument, "pod: not a JSON object");
  }
  PodDemand d;
  const Json meta = pod.value("metadata", Json::object());
  d.name =
      meta.value("namespace", std::string("default")) + "/" + meta.value("name", std::string());
  const Json spec = pod.value("spec", Json::object());
  auto sum = container_totals(spec.value("containers", Json::array()), gpu_resource, false);
  if (!sum)
    return fail(ErrorCode::kInvalidArgument, "pod " + d.name + ": " + sum.error().message());
  auto init = container_totals(spec.value("initContainers", Json::array()), gpu_resource, true);
  if (!init)
    return fail(ErrorCode::kInvalidArgument, "pod " + d.name + ": " + init.error().message());
  d.cpu_milli = std::max(sum->cpu, init->cpu);
  d.memory_mib = std::max(sum->mem, init->mem);
  const std::int64_t gpus = std::max(sum->gpu, init->gpu);
  if (gpus > cluster::kMaxGpusPerNode) {
    return fail(ErrorCode::kInvalidArgument, "pod " + d.name + " asks for " + std::to_string(gpus) +
                                                 " of " + std::string(gpu_resource) +
                                                 "; nodes have at most " +
                                                 std::to_string(cluster::kMaxGpusPerNode));
  }
  d.num_gpu = static_cast<int>(gpus);
  d.gpu_milli = d.num_gpu > 0 ? cluster::kMilli : 0;
  const Json ann = meta.value("annotations", Json::object());
  if (auto it = ann.find(kShareAnnotation); it != ann.end()) {
    const std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    double share = 0;
    std::size_t used = 0;
    try {
      share = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || !(share > 0 && share < 1)) {
      return fail(ErrorCode::kInvalidArgument, "pod " + d.name + ": annotation " +
                                                   kShareAnnotation + "='" + text +
                                                   "' must be a fraction between 0 and 1");
    }
    if (d.num_gpu > 1) {
      return fail(ErrorCode::kInvalidArgument,
                  "pod " + d.name + ": a GPU share (" + kShareAnnotation +
                      ") is of one GPU, but "
                      "the pod asks for " +
                      std::to_string(d.num_gpu) + " " + std::string(gpu_resource));
    }
    d.num_gpu = 1;
    d.gpu_milli = std::max(1, static_cast<int>(std::lround(share * cluster::kMilli)));
  }
  if (auto it = ann.find(kModelAnnotation); it != ann.end() && it->is_string()) {
    d.gpu_spec = it->get<std::string>();
  }
  return d;
}

Result<ClusterView> parse_cluster_view(std::string_view text, std::string_view source) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kParse, std::string(source) + ": not a JSON object");
  }
  if (j.value("schema_version", 0) != 1) {
    return std::unexpected(bad(source, "schema_version must be 1"));
  }
  ClusterView v;
  const Json nodes = j.value("nodes", Json::array());
  if (!nodes.is_array()) return std::unexpected(bad(source, "'nodes' must be a list"));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Json& n = nodes[i];
    const std::string where = std::string(source) + ": nodes[" + std::to_string(i) + "]";
    if (!n.is_object() || !n.contains("name") || !n["name"].is_string()) {
      return std::unexpected(bad(where, "needs a 'name'"));
    }
    NodeView nv;
    nv.spec.name = n["name"].get<std::string>();
    const std::string w = where + " (" + nv.spec.name + ")";
    auto gpus = get_int(n, "gpus", 0, w);
    auto cpu = get_int(n, "cpu_milli", kUnlimited, w);
    auto mem = get_int(n, "memory_mib", kUnlimited, w);
    auto cpu_used = get_int(n, "cpu_used_milli", 0, w);
    auto mem_used = get_int(n, "memory_used_mib", 0, w);
    for (const auto* r : {&gpus, &cpu, &mem, &cpu_used, &mem_used}) {
      if (!*r) return std::unexpected(r->error());
    }
    if (*gpus > cluster::kMaxGpusPerNode) {
      return std::unexpected(bad(w, "has " + std::to_string(*gpus) +
                                        " GPUs; placement models up to " +
                                        std::to_string(cluster::kMaxGpusPerNode) + " per node"));
    }
    nv.spec.gpus = static_cast<int>(*gpus);
    nv.spec.cpu_milli = *cpu;
    nv.spec.memory_mib = *mem;
    nv.spec.model = n.value("model", std::string());
    if (nv.spec.gpus > 0 && nv.spec.model.empty()) nv.spec.model = "unknown";
    nv.cpu_used_milli = *cpu_used;
    nv.memory_used_mib = *mem_used;
    nv.gpu_used_milli.assign(static_cast<std::size_t>(nv.spec.gpus), 0);
    if (auto u = n.find("gpu_used_milli"); u != n.end()) {
      if (!u->is_array() || u->size() != static_cast<std::size_t>(nv.spec.gpus)) {
        return std::unexpected(bad(w, "'gpu_used_milli' must list one value per GPU"));
      }
      for (std::size_t g = 0; g < u->size(); ++g) {
        const Json& x = (*u)[g];
        if (!x.is_number_integer() || x.get<int>() < 0 || x.get<int>() > cluster::kMilli) {
          return std::unexpected(bad(w, "'gpu_used_milli' values must be 0..1000"));
        }
        nv.gpu_used_milli[g] = x.get<int>();
      }
    }
    if (nv.cpu_used_milli > nv.spec.cpu_milli || nv.memory_used_mib > nv.spec.memory_mib) {
      return std::unexpected(bad(w, "uses more CPU or memory than it has"));
    }
    v.nodes.push_back(std::move(nv));
  }
  const Json workload = j.value("workload", Json::array());
  double total = 0;
  for (std::size_t i = 0; i < workload.size(); ++i) {
    const Json& t = workload[i];
    const std::string w = std::string(source) + ": workload[" + std::to_string(i) + "]";
    cluster::PodType pt;
    auto cpu = get_int(t, "cpu_milli", 0, w);
    auto num = get_int(t, "num_gpu", 0, w);
    auto milli = get_int(t, "gpu_milli", 0, w);
    if (!cpu || !num || !milli)
      return std::unexpected(!cpu ? cpu.error() : !num ? num.error() : milli.error());
    pt.cpu_milli = *cpu;
    pt.num_gpu = static_cast<int>(*num);
    pt.gpu_milli = static_cast<int>(*milli);
    if (pt.num_gpu == 0 && pt.gpu_milli == 0) {
      // CPU-only type
    } else if (pt.num_gpu < 1 || pt.num_gpu > cluster::kMaxGpusPerNode || pt.gpu_milli < 1 ||
               pt.gpu_milli > cluster::kMilli ||
               (pt.num_gpu > 1 && pt.gpu_milli != cluster::kMilli)) {
      return std::unexpected(
          bad(w, "needs num_gpu 1..8 with gpu_milli 1..1000 (1000 when num_gpu > 1)"));
    }
    pt.weight = t.value("weight", 0.0);
    if (!(pt.weight > 0)) return std::unexpected(bad(w, "'weight' must be > 0"));
    total += pt.weight;
    v.workload.push_back(pt);
  }
  for (auto& t : v.workload) t.weight /= total;
  return v;
}

Result<ClusterView> load_cluster_view(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, "cannot read node state file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_cluster_view(ss.str(), path);
}

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
