#include "aion/k8s/gpu_devices.h"
#include "aion/core/strings.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "aion/sched/placement.h"

namespace aion::k8s {
namespace {

// Candidates asked of placement when some devices must be included: enough to cover every
// 4-of-8 set, the widest case a kubelet asks of one node in practice.
constexpr int kMaxCandidates = 256;

// The words of the marker (split on anything that cannot be in a PCI address or UUID).
std::set<std::string> marker_words(const std::string& text) {
  std::set<std::string> words;
  std::string cur;
  for (char c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '-') {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      while (!cur.empty() && (cur.back() == '.' || cur.back() == ':')) cur.pop_back();
      words.insert(cur);
      cur.clear();
    }
  }
  return words;
}

// A PCI address without its domain ("0000:85:00.0" and NVML's "00000000:85:00.0" both give
// "85:00.0"); other words are returned as they are.
std::string without_domain(const std::string& word) {
  const auto first = word.find(':');
  if (first == std::string::npos || word.find(':', first + 1) == std::string::npos) return word;
  return word.substr(first + 1);
}

}  // namespace

std::string vendor_for_resource(std::string_view resource) {
  const std::string_view domain = resource.substr(0, resource.find('/'));
  for (auto [d, v] : {std::pair{"nvidia.com", "nvidia"}, std::pair{"amd.com", "amd"},
                      std::pair{"intel.com", "intel"}, std::pair{"huawei.com", "huawei"}}) {
    if (domain == d) return v;
  }
  return {};
}

bool GpuDevices::update(const hw::Inventory& inv, const std::optional<std::string>& marker) {
  std::vector<PluginDevice> next;
  std::vector<int> accel_of;
  std::set<std::string> words;
  if (marker) {
    for (const auto& w : marker_words(*marker)) words.insert(without_domain(w));
  }
  auto named = [&](const hw::Accelerator& a) {
    return words.count(without_domain(lower(a.pci.address))) > 0 ||
           (!a.uuid.empty() && words.count(lower(a.uuid)) > 0) ||
           words.count("gpu" + std::to_string(a.index)) > 0;
  };
  bool marker_names_ours = false;
  for (const auto& a : inv.accelerators) {
    if ((vendor_.empty() || a.vendor == vendor_) && named(a)) marker_names_ours = true;
  }
  for (std::size_t i = 0; i < inv.accelerators.size(); ++i) {
    const hw::Accelerator& a = inv.accelerators[i];
    if (!vendor_.empty() && a.vendor != vendor_) continue;
    auto [it, fresh] =
        id_by_pci_.try_emplace(a.pci.address, a.uuid.empty() ? a.pci.address : a.uuid);
    PluginDevice d{.id = it->second, .numa_node = a.pci.numa_node, .pci_address = a.pci.address};
    if (a.state != "ok") {
      d.healthy = false;
      d.reason = "discovery reports the device " + a.state;
    } else if (marker && (!marker_names_ours || named(a))) {
      d.healthy = false;
      d.reason = marker_names_ours ? "named in aiond's health marker"
                                   : "aiond's health marker marks the node unhealthy";
    }
    next.push_back(std::move(d));
    accel_of.push_back(static_cast<int>(i));
  }
  auto same = [](const PluginDevice& x, const PluginDevice& y) {
    return x.id == y.id && x.healthy == y.healthy && x.numa_node == y.numa_node;
  };
  const bool changed = next.size() != devices_.size() ||
                       !std::equal(next.begin(), next.end(), devices_.begin(), same);
  devices_ = std::move(next);
  accel_of_ = std::move(accel_of);
  inv_ = inv;
  return changed;
}

const hw::Accelerator* GpuDevices::accelerator(const std::string& id) const {
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    if (devices_[i].id == id) return &inv_.accelerators[static_cast<std::size_t>(accel_of_[i])];
  }
  return nullptr;
}

Result<std::vector<std::string>> GpuDevices::preferred(const std::vector<std::string>& available,
                                                       const std::vector<std::string>& must_include,
                                                       int size) const {
  if (size <= 0) return std::vector<std::string>{};
  if (static_cast<std::size_t>(size) > available.size()) {
    return fail(ErrorCode::kInvalidArgument, "asked for " + std::to_string(size) +
                                                 " devices out of " +
                                                 std::to_string(available.size()) + " available");
  }
  if (static_cast<std::size_t>(size) < must_include.size()) {
    return fail(ErrorCode::kInvalidArgument, "allocation_size is smaller than must_include");
  }
  sched::NodeModel model = sched::make_node_model(inv_);
  // Only our vendor's devices take part; the ones not available count as in use.
  sched::Allocation busy;
  std::map<int, std::string> id_of_gpu;
  for (std::size_t i = 0; i < devices_.size(); ++i) id_of_gpu[accel_of_[i]] = devices_[i].id;
  for (int g = 0; g < static_cast<int>(model.gpus.size()); ++g) {
    auto it = id_of_gpu.find(g);
    if (it == id_of_gpu.end()) {
      model.gpus[static_cast<std::size_t>(g)].usable = false;
    } else if (std::find(available.begin(), available.end(), it->second) == available.end()) {
      busy.gpus.push_back(g);
    } else {
      model.gpus[static_cast<std::size_t>(g)].usable = true;  // the kubelet offers it: trust that
    }
  }
  for (const auto& id : available) {
    if (accelerator(id) == nullptr) {
      return fail(ErrorCode::kInvalidArgument, "unknown device ID '" + id + "'");
    }
  }
  sched::NodeState state(model);
  state.add(busy);
  sched::Request req{.gpus = size, .cpus = 1};
  const auto result = sched::place(model, state, req, must_include.empty() ? 1 : kMaxCandidates);
  for (const auto& cand : result.candidates) {
    std::vector<std::string> ids;
    for (int g : cand.allocation.gpus) ids.push_back(id_of_gpu[g]);
    const bool has_all = std::all_of(must_include.begin(), must_include.end(), [&](const auto& m) {
      return std::find(ids.begin(), ids.end(), m) != ids.end();
    });
    if (has_all) return ids;
  }
  // No ranked set holds them all (or placement found none): the must-haves, then the
  // available devices in the kubelet's order. The kubelet only takes this as a hint.
  std::vector<std::string> ids = must_include;
  for (const auto& id : available) {
    if (static_cast<int>(ids.size()) == size) break;
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

Result<ContainerDevices> GpuDevices::allocate(const std::vector<std::string>& ids,
                                              const HostFs& fs) const {
  ContainerDevices out;
  std::string visible, rocr, aion_ids;
  std::set<std::string> vendors;
  for (const auto& id : ids) {
    const hw::Accelerator* a = accelerator(id);
    if (a == nullptr) return fail(ErrorCode::kInvalidArgument, "unknown device ID '" + id + "'");
    vendors.insert(a->vendor);
    auto sep = [](std::string& s) { s += s.empty() ? "" : ","; };
    sep(aion_ids);
    aion_ids += id;
    if (a->vendor == "nvidia") {
      sep(visible);
      visible += a->uuid.empty() ? std::to_string(a->index) : a->uuid;
      std::vector<std::string> nodes = a->device_nodes;
      if (nodes.empty()) nodes.push_back("/dev/nvidia" + std::to_string(a->index));
      for (const auto& n : nodes) out.devices.push_back({n, n, "rw"});
    } else {
      if (a->vendor == "amd" && !a->uuid.empty()) {
        sep(rocr);
        rocr += "GPU-" + a->uuid;
      }
      for (const auto& n : a->device_nodes) out.devices.push_back({n, n, "rw"});
    }
  }
  if (vendors.count("nvidia")) {
    out.envs["NVIDIA_VISIBLE_DEVICES"] = visible;
    out.envs["CUDA_VISIBLE_DEVICES"] = visible;
    for (const char* n :
         {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"}) {
      if (fs.exists(n)) out.devices.push_back({n, n, "rw"});
    }
  }
  if (vendors.count("amd")) {
    if (!rocr.empty()) out.envs["ROCR_VISIBLE_DEVICES"] = rocr;
    if (fs.exists("/dev/kfd")) out.devices.push_back({"/dev/kfd", "/dev/kfd", "rw"});
  }
  out.envs["AION_VISIBLE_DEVICES"] = aion_ids;
  return out;
}

}  // namespace aion::k8s
