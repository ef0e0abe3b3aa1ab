#include "aion/sched/node_model.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace aion::sched {
namespace {

using hw::LinkLevel;

constexpr double kEps = 1e-9;
// ACPI SLIT default when the firmware gives no distance.
constexpr int kLocalDistance = 10;

// "0-15,64-79" -> {0..15, 64..79}. Malformed pieces are skipped: discovery already reported
// the file they came from.
std::vector<int> parse_cpulist(std::string_view s) {
  std::vector<int> cpus;
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view tok = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.front())))
      tok.remove_prefix(1);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back())))
      tok.remove_suffix(1);
    if (tok.empty()) continue;
    int lo = 0, hi = 0;
    std::size_t dash = tok.find('-');
    if (std::sscanf(std::string(tok.substr(0, dash)).c_str(), "%d", &lo) != 1) continue;
    hi = lo;
    if (dash != std::string_view::npos &&
        std::sscanf(std::string(tok.substr(dash + 1)).c_str(), "%d", &hi) != 1)
      continue;
    if (lo < 0 || hi < lo) continue;
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

// XGMI links from `a` to the accelerator at `peer`.
int xgmi_links(const hw::Accelerator& a, const std::string& peer) {
  int n = 0;
  for (const auto& l : a.links) {
    if (l.kind == "xgmi" && l.peer == peer) n += l.count;
  }
  return n;
}

}  // namespace

NodeModel make_node_model(const hw::Inventory& inv, const ModelOptions& options) {
  NodeModel m;
  for (const auto& a : inv.accelerators) {
    m.gpus.push_back({.pci_address = a.pci.address,
                      .vendor = a.vendor,
                      .kind = a.kind,
                      .model = a.model,
                      .vendor_index = a.index,
                      .module_id = a.module_id,
                      .uuid = a.uuid,
                      .memory_bytes = a.memory_bytes,
                      .numa_node = a.pci.numa_node,
                      .memory_node = a.memory_node,
                      .simulated = a.simulated,
                      .usable = a.state == "ok"});
  }
  bool has_gpu =
      std::any_of(m.gpus.begin(), m.gpus.end(), [](const GpuSlot& g) { return g.kind == "gpu"; });
  bool one_kind = std::all_of(m.gpus.begin(), m.gpus.end(),
                              [&](const GpuSlot& g) { return g.kind == m.gpus.front().kind; });
  for (auto& g : m.gpus) g.default_kind = has_gpu ? g.kind == "gpu" : one_kind;
  // The topology lists the accelerators first, in inventory order, then the NICs.
  std::size_t n = m.gpus.size();
  hw::Topology topo = hw::build_topology(inv);
  m.links.assign(n, std::vector<LinkLevel>(n, LinkLevel::kSys));
  m.link_count.assign(n, std::vector<int>(n, 0));
  for (std::size_t i = 0; i < n && i < topo.levels.size(); ++i) {
    for (std::size_t j = 0; j < n && j < topo.levels[i].size(); ++j) {
      LinkLevel l = i == j ? LinkLevel::kSelf : topo.levels[i][j];
      m.links[i][j] = l;
      if (l == LinkLevel::kNvlink) {
        m.link_count[i][j] = std::atoi(topo.matrix[i][j].c_str() + 2);  // "NV12"
      } else if (l == LinkLevel::kXgmi) {
        const auto& a = inv.accelerators[i];
        const auto& b = inv.accelerators[j];
        m.link_count[i][j] =
            std::max({1, xgmi_links(a, b.pci.address), xgmi_links(b, a.pci.address)});
      }
    }
  }
  for (const auto& nn : inv.numa_nodes) {
    m.numa.push_back({.id = nn.id,
                      .cpus = parse_cpulist(nn.cpus),
                      .memory_bytes = nn.memory_bytes,
                      .distances = nn.distances,
                      .near = nn.cpus.empty() && nn.device.empty() ? nn.near_node : -1});
  }
  if (m.numa.empty()) {
    NumaInfo only{.id = 0, .memory_bytes = inv.memory.total_bytes, .distances = {kLocalDistance}};
    for (int c = 0; c < inv.cpu.threads; ++c) only.cpus.push_back(c);
    m.numa.push_back(std::move(only));
  }
  for (const auto& nn : m.numa) {
    if (!nn.cpus.empty()) m.cpu_count = std::max(m.cpu_count, nn.cpus.back() + 1);
  }
  for (const auto& kind : inv.cpu.kinds) {
    for (int c : parse_cpulist(kind.cpus)) {
      if (c >= static_cast<int>(m.cpu_rank.size())) m.cpu_rank.resize(c + 1, 0);
      m.cpu_rank[static_cast<std::size_t>(c)] = kind.efficiency;
    }
  }
  std::uint64_t total = inv.memory.total_bytes;
  m.memory_bytes =
      total > options.reserved_memory_bytes ? total - options.reserved_memory_bytes : 0;
  return m;
}

std::vector<int> extra_memory_nodes(const NodeModel& m, const Allocation& a) {
  std::vector<int> out;
  auto held = [&](int id) { return std::find(a.mems.begin(), a.mems.end(), id) != a.mems.end(); };
  for (const auto& n : m.numa) {
    if (n.cpus.empty() && n.near >= 0 && held(n.near) && !held(n.id)) out.push_back(n.id);
  }
  for (int g : a.gpus) {
    if (g < 0 || g >= static_cast<int>(m.gpus.size())) continue;
    int node = m.gpus[static_cast<std::size_t>(g)].memory_node;
    if (node >= 0 && !held(node)) out.push_back(node);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

NodeState::NodeState(const NodeModel& model, int cpu_overcommit)
    : overcommit_(std::max(1, cpu_overcommit)),
      gpu_whole_(model.gpus.size(), false),
      gpu_frac_(model.gpus.size(), 0.0),
      gpu_mem_(model.gpus.size(), 0),
      cpu_load_(static_cast<std::size_t>(std::max(0, model.cpu_count)), 0) {}

void NodeState::add(const Allocation& a) {
  apply(a, +1);
}

void NodeState::remove(const Allocation& a) {
  apply(a, -1);
}

void NodeState::apply(const Allocation& a, int sign) {
  auto valid_gpu = [&](int g) { return g >= 0 && g < static_cast<int>(gpu_whole_.size()); };
  if (a.gpu_fraction > 0) {
    if (!a.gpus.empty() && valid_gpu(a.gpus[0])) {
      int g = a.gpus[0];
      gpu_frac_[g] += sign * a.gpu_fraction;
      if (gpu_frac_[g] < kEps) gpu_frac_[g] = 0;  // no float dust once the last share leaves
      gpu_mem_[g] = sign > 0 ? gpu_mem_[g] + a.gpu_memory_bytes
                             : gpu_mem_[g] - std::min(gpu_mem_[g], a.gpu_memory_bytes);
    }
  } else {
    for (int g : a.gpus) {
      if (valid_gpu(g)) gpu_whole_[g] = sign > 0;
    }
  }
  for (int c : a.cpus) {
    if (c >= 0 && c < static_cast<int>(cpu_load_.size()))
      cpu_load_[c] = std::max(0, cpu_load_[c] + sign);
  }
  memory_used_ = sign > 0 ? memory_used_ + a.memory_bytes
                          : memory_used_ - std::min(memory_used_, a.memory_bytes);
}

bool NodeState::gpu_whole_free(int gpu) const {
  return !gpu_whole_[gpu] && gpu_frac_[gpu] <= kEps && gpu_mem_[gpu] == 0;
}
double NodeState::gpu_fraction_used(int gpu) const {
  return gpu_frac_[gpu];
}
std::uint64_t NodeState::gpu_memory_used(int gpu) const {
  return gpu_mem_[gpu];
}
int NodeState::cpu_load(int cpu) const {
  return cpu >= 0 && cpu < static_cast<int>(cpu_load_.size()) ? cpu_load_[cpu] : 0;
}
std::uint64_t NodeState::memory_used() const {
  return memory_used_;
}

}  // namespace aion::sched
