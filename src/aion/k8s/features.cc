#include "aion/k8s/features.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <map>

#include "aion/hw/topology.h"

namespace aion::k8s {
namespace {

constexpr const char* kPrefix = "aion.io/";
constexpr int kExactCliqueLimit = 20;

bool linked(hw::LinkLevel level) {
  return level == hw::LinkLevel::kNvlink || level == hw::LinkLevel::kXgmi;
}

// The value most accelerators have for `field` ("" ignored); ties go to the first seen.
template <typename F>
std::string most_common(const std::vector<hw::Accelerator>& accs, F field) {
  std::map<std::string, int> counts;
  std::string best;
  int best_count = 0;
  for (const auto& a : accs) {
    const std::string v = field(a);
    if (v.empty()) continue;
    if (++counts[v] > best_count) {
      best = v;
      best_count = counts[v];
    }
  }
  return best;
}

}  // namespace

std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    const char ch = ok ? c : '-';
    if (ch == '-' && !out.empty() && out.back() == '-') continue;
    out += ch;
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!out.empty() && !alnum(out.back())) out.pop_back();
  std::size_t start = 0;
  while (start < out.size() && !alnum(out[start])) ++start;
  out = out.substr(start, 63);
  while (!out.empty() && !alnum(out.back())) out.pop_back();
  return out;
}

int nvlink_island_size(const hw::Inventory& inv) {
  const hw::Topology topo = hw::build_topology(inv);
  const int n = static_cast<int>(inv.accelerators.size());
  // Accelerators come first in the topology's device list (GPU0..).
  std::vector<std::uint32_t> adj(static_cast<std::size_t>(n), 0);
  bool any = false;
  for (int i = 0; i < n && i < kExactCliqueLimit; ++i) {
    for (int j = 0; j < n && j < kExactCliqueLimit; ++j) {
      if (i != j && linked(topo.levels[i][j])) {
        adj[i] |= 1u << j;
        any = true;
      }
    }
  }
  if (!any && n <= kExactCliqueLimit) return 0;
  if (n <= kExactCliqueLimit) {
    // Bron-Kerbosch without pivoting is plenty for at most 20 vertices.
    int best = 0;
    auto grow = [&](auto&& self, std::uint32_t r, std::uint32_t p, std::uint32_t x) -> void {
      if (p == 0 && x == 0) {
        best = std::max(best, std::popcount(r));
        return;
      }
      while (p != 0) {
        const int v = std::countr_zero(p);
        self(self, r | (1u << v), p & adj[v], x & adj[v]);
        p &= ~(1u << v);
        x |= 1u << v;
      }
    };
    grow(grow, 0, n >= 32 ? ~0u : (1u << n) - 1, 0);
    return best >= 2 ? best : 0;
  }
  // Greedy from every accelerator: add each one linked to all taken so far.
  int best = 0;
  for (int s = 0; s < n; ++s) {
    std::vector<int> clique{s};
    for (int v = 0; v < n; ++v) {
      if (v == s) continue;
      const bool all = std::all_of(clique.begin(), clique.end(),
                                   [&](int u) { return linked(topo.levels[u][v]); });
      if (all) clique.push_back(v);
    }
    best = std::max(best, static_cast<int>(clique.size()));
  }
  return best >= 2 ? best : 0;
}

std::vector<Feature> node_features(const hw::Inventory& inv) {
  std::vector<Feature> out;
  auto add = [&](const std::string& name, const std::string& value) {
    const std::string v = label_value(value);
    if (!v.empty()) out.push_back({kPrefix + name, v});
  };
  const auto& accs = inv.accelerators;
  out.push_back({std::string(kPrefix) + "gpu.count", std::to_string(accs.size())});
  if (accs.empty()) return out;

  add("gpu.vendor", most_common(accs, [](const hw::Accelerator& a) { return a.vendor; }));
  const std::string model = most_common(accs, [](const hw::Accelerator& a) { return a.model; });
  add("gpu.model", model);
  const bool mixed = std::any_of(accs.begin(), accs.end(),
                                 [&](const hw::Accelerator& a) { return a.model != model; });
  if (mixed) add("gpu.mixed", "true");
  // Memory, architecture and driver of the accelerators of the labelled model.
  const hw::Accelerator* rep = nullptr;
  for (const auto& a : accs) {
    if (a.model == model) {
      rep = &a;
      break;
    }
  }
  if (rep->memory_bytes > 0) {
    add("gpu.memory-gib", std::to_string((rep->memory_bytes + (1ull << 29)) >> 30));
  }
  add("gpu.compute-capability", rep->compute_capability);
  add("gpu.gfx-target", rep->gfx_target);
  add("gpu.driver", !rep->driver_version.empty() ? rep->driver_version : rep->pci.driver);
  out.push_back(
      {std::string(kPrefix) + "gpu.nvlink-island-size", std::to_string(nvlink_island_size(inv))});
  // Every kind of accelerator on its own (accel.npu.count=8, accel.vector.model=...), so a
  // pod can select nodes by the kind it runs on, whatever else the node has.
  std::map<std::string, std::vector<hw::Accelerator>> by_kind;
  for (const auto& a : accs) by_kind[a.kind.empty() ? "gpu" : a.kind].push_back(a);
  for (const auto& [kind, list] : by_kind) {
    out.push_back({std::string(kPrefix) + "accel." + kind + ".count", std::to_string(list.size())});
    add("accel." + kind + ".vendor",
        most_common(list, [](const hw::Accelerator& a) { return a.vendor; }));
    add("accel." + kind + ".model",
        most_common(list, [](const hw::Accelerator& a) { return a.model; }));
    // A kind two vendors make (Iluvatar and MetaX GPUs): how many of each, so that a pod can
    // select the vendor whose runtime it carries.
    std::map<std::string, int> vendors;
    for (const auto& a : list) ++vendors[a.vendor.empty() ? "generic" : a.vendor];
    if (vendors.size() < 2) continue;
    add("accel." + kind + ".mixed", "true");
    for (const auto& [vendor, n] : vendors)
      add("accel." + kind + "." + vendor + ".count", std::to_string(n));
  }
  return out;
}

std::string features_file(const std::vector<Feature>& features) {
  std::string out;
  for (const auto& f : features) out += f.name + "=" + f.value + "\n";
  return out;
}

}  // namespace aion::k8s
