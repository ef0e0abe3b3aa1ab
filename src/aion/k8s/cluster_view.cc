#include "aion/k8s/cluster_view.h"

#include <fstream>
#include <sstream>

#include "aion/cluster/cluster.h"
#include "aion/core/json.h"

namespace aion::k8s {
namespace {

// A node the file gives no CPU or memory for: large enough never to limit a pod, small enough
// that policies doing arithmetic on it stay finite.
constexpr std::int64_t kUnlimited = std::int64_t{1} << 40;

// A node state file another program wrote: what is wrong with it is in the file, not in how
// aion was called (kParse, like a file that is no JSON at all).
Error bad(std::string_view source, const std::string& what) {
  return Error(ErrorCode::kParse, std::string(source) + ": " + what);
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

Result<NodeView> parse_node(const Json& n, const std::string& where) {
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
  return nv;
}

// One pod type of the target workload, its weight not yet normalised.
Result<cluster::PodType> parse_pod_type(const Json& t, const std::string& w) {
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
  return pt;
}

}  // namespace

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
    auto nv = parse_node(nodes[i], std::string(source) + ": nodes[" + std::to_string(i) + "]");
    if (!nv) return std::unexpected(nv.error());
    v.nodes.push_back(std::move(*nv));
  }
  const Json workload = j.value("workload", Json::array());
  double total = 0;
  for (std::size_t i = 0; i < workload.size(); ++i) {
    auto pt =
        parse_pod_type(workload[i], std::string(source) + ": workload[" + std::to_string(i) + "]");
    if (!pt) return std::unexpected(pt.error());
    total += pt->weight;
    v.workload.push_back(*pt);
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

}  // namespace aion::k8s
