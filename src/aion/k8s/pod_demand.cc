#include "aion/k8s/pod_demand.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <tuple>

#include "aion/cluster/cluster.h"
#include "aion/core/json.h"

namespace aion::k8s {
namespace {

constexpr const char* kShareAnnotation = "aion.io/gpu-share";
constexpr const char* kModelAnnotation = "aion.io/gpu-model";

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

}  // namespace aion::k8s
