#include "aion/cluster/slurm_health.h"
#include "aion/core/cpu_list.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/stat.h>

namespace aion::cluster {
namespace {

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::string gpu_text(const hw::Accelerator& a) {
  return "GPU " + std::to_string(a.index) + " (" + a.pci.address +
         (a.model.empty() ? "" : ", " + a.model) + ")";
}

// The value of "Key=" at a word start in scontrol output, up to the end of the word, or of the
// line when to_eol.
std::optional<std::string> field(std::string_view text, std::string_view key, bool to_eol) {
  for (std::size_t pos = text.find(key); pos != std::string_view::npos;
       pos = text.find(key, pos + 1)) {
    if (pos > 0 && !std::isspace(static_cast<unsigned char>(text[pos - 1]))) continue;
    std::size_t start = pos + key.size();
    std::size_t end = start;
    while (end < text.size() && text[end] != '\n' && (to_eol || text[end] != ' ')) ++end;
    return std::string(text.substr(start, end - start));
  }
  return std::nullopt;
}

}  // namespace

std::vector<Fault> local_faults(const hw::Inventory& inventory,
                                const std::vector<GresDevice>& expected,
                                const std::vector<GresDevice>& discovered,
                                const std::filesystem::path& check_root) {
  std::vector<Fault> out;
  for (const auto& a : inventory.accelerators) {
    if (a.state != "ok") {
      out.push_back(
          {"local",
           gpu_text(a) + " is " + (a.state == "lost" ? "lost (fell off the bus)" : a.state),
           a.index});
    }
  }
  std::set<std::string> found;
  for (const auto& d : discovered) found.insert(base_name(d.file));
  int missing = 0;
  for (const auto& e : expected) {
    if (e.file.empty()) continue;
    if (!found.contains(base_name(e.file))) {
      ++missing;
      out.push_back({"local",
                     "GPU " + e.file + " from gres.conf line " + std::to_string(e.line) +
                         " was not found on the PCI bus",
                     -1});
      continue;
    }
    if (check_root.empty()) continue;
    struct stat st {};
    const auto path = check_root / std::filesystem::path(e.file).relative_path();
    if (::stat(path.c_str(), &st) != 0) {
      out.push_back({"local",
                     "device node " + path.string() + " of gres.conf line " +
                         std::to_string(e.line) + " is missing",
                     -1});
    }
  }
  if (missing > 0) {
    out.push_back({"local",
                   "found " + std::to_string(expected.size() - missing) + " of " +
                       std::to_string(expected.size()) + " GPUs listed in gres.conf",
                   -1});
  }
  return out;
}

Result<std::optional<Fault>> marker_fault(const std::filesystem::path& state_dir) {
  const auto path = state_dir / "health" / "unhealthy";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Fault>();
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kIo, "cannot read the unhealthy marker " + path.string());
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.empty()) line = "marked unhealthy (" + path.string() + ")";
  return std::optional<Fault>(Fault{"marker", line, -1});
}

std::vector<Fault> daemon_faults(const Json& events, std::int64_t since_ms) {
  std::vector<Fault> out;
  if (!events.is_object() || !events.contains("events") || !events["events"].is_array()) return out;
  std::set<std::string> seen;
  std::map<std::string, const Json*> latest_hw;  // device -> its newest hw_change event
  for (const auto& e : events["events"]) {
    if (!e.is_object()) continue;
    const std::string kind = e.value("kind", "");
    if (kind == "hw_change") {
      std::string device =
          e.contains("data") && e["data"].is_object() ? e["data"].value("device", "") : "";
      latest_hw[device.empty() ? e.value("message", "") : device] = &e;
      continue;
    }
    if (kind != "gpu" || e.value("severity", "") != "critical") continue;
    if (e.value("time_ms", std::int64_t{0}) < since_ms) continue;
    const std::string msg = e.value("message", "");
    if (!seen.insert(msg).second) continue;
    int gpu = -1;
    if (e.contains("data") && e["data"].is_object() && e["data"].contains("gpu") &&
        e["data"]["gpu"].is_number_integer()) {
      gpu = e["data"]["gpu"].get<int>();
    }
    out.push_back({"aiond", msg, gpu});
  }
  for (const auto& [device, e] : latest_hw) {
    if (e->value("severity", "") == "critical") {
      out.push_back({"aiond", e->value("message", device), -1});
    }
  }
  return out;
}

Result<std::int64_t> boot_time_ms(const HostFs& fs) {
  auto stat = fs.read("/proc/stat");
  if (!stat) return std::unexpected(stat.error());
  auto v = field(*stat, "btime ", false);
  if (!v) return fail(ErrorCode::kParse, "/proc/stat has no btime line");
  try {
    return static_cast<std::int64_t>(std::stoll(*v)) * 1000;
  } catch (const std::exception&) {
    return fail(ErrorCode::kParse, "/proc/stat: btime '" + *v + "' is not a number");
  }
}

bool NodeState::drained() const {
  return state.find("DRAIN") != std::string::npos;
}

Result<NodeState> parse_scontrol_node(std::string_view text, const std::string& node_name) {
  auto name = field(text, "NodeName=", false);
  if (!name || *name != node_name) {
    return fail(ErrorCode::kNotFound, "scontrol does not know node '" + node_name +
                                          "'; pass --node with its slurm.conf NodeName");
  }
  NodeState s;
  s.state = field(text, "State=", false).value_or("");
  s.reason = field(text, "Reason=", true).value_or("");
  // "aion: GPU 3 lost [root@2026-11-30T11:40:00]": drop who set it and when.
  if (auto at = s.reason.rfind(" ["); at != std::string::npos && s.reason.ends_with("]"))
    s.reason.resize(at);
  if (s.reason == "(null)" || s.reason == "None") s.reason.clear();
  return s;
}

HealthDecision decide_health(const std::vector<Fault>& faults, const NodeState& node) {
  HealthDecision d;
  if (!faults.empty()) {
    std::string reason = std::string(kDrainPrefix) + faults.front().message;
    if (faults.size() > 1) reason += " (+" + std::to_string(faults.size() - 1) + " more)";
    // Slurm keeps reasons short in sinfo; keep ours readable there.
    if (reason.size() > 200) reason = reason.substr(0, 197) + "...";
    d.reason = reason;
    if (node.drained() && !node.drained_by_aion()) {
      d.why = "fault present, but the node is already drained by someone else (reason '" +
              node.reason + "'): left alone";
    } else if (node.drained() && node.reason == reason) {
      d.why = "fault present and the node is already drained for it";
    } else {
      d.action = HealthAction::kDrain;
      d.why = "fault present: draining";
    }
    return d;
  }
  if (node.drained() && node.drained_by_aion()) {
    d.action = HealthAction::kResume;
    d.why = "no fault remains and aion drained the node ('" + node.reason + "'): resuming";
  } else if (node.drained()) {
    d.why = "no fault, but the node was drained by someone else: left alone";
  } else {
    d.why = "no fault";
  }
  return d;
}

Result<std::vector<int>> parse_job_gpus(std::string_view text) {
  std::vector<int> out;
  if (text.empty() || text == "NoDevFiles") return out;
  auto r = parse_int_ranges(text);
  if (!r) return fail(ErrorCode::kInvalidArgument, "job GPUs: " + r.error().message());
  return r;
}

}  // namespace aion::cluster
