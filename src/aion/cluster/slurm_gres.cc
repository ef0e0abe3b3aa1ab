#include "aion/cluster/slurm_gres.h"
#include "aion/core/cpu_list.h"
#include "aion/core/strings.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

namespace aion::cluster {
namespace {

// Splits at commas outside brackets.
std::vector<std::string> split_top(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// The File= of one accelerator, as named in dev_dir.
std::string device_file(const hw::Accelerator& a, const std::string& dev_dir) {
  std::string node;
  for (const auto& d : a.device_nodes) {
    if (d.find("/renderD") != std::string::npos) node = d;
  }
  if (node.empty() && !a.device_nodes.empty()) node = a.device_nodes.front();
  if (node.empty()) {
    if (a.vendor == "nvidia") node = "/dev/nvidia" + std::to_string(a.index);
    if (a.vendor == "huawei") node = "/dev/davinci" + std::to_string(a.index);
  }
  if (node.empty()) return "";
  std::string rel = node.rfind("/dev/", 0) == 0 ? node.substr(5) : node;
  std::string dir = dev_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return (dir == "/" ? "" : dir) + "/" + rel;
}

// Links between two accelerators, counted the way `aion hw topo` shows them.
int link_count(const hw::Accelerator& a, const hw::Accelerator& b) {
  int direct = 0, switch_a = 0, switch_b = 0;
  for (const auto& l : a.links) {
    if (l.peer == b.pci.address && !b.pci.address.empty()) direct += std::max(l.count, 1);
    if (l.kind == "nvlink" && l.peer == "nvswitch") switch_a += l.count;
  }
  for (const auto& l : b.links) {
    if (l.kind == "nvlink" && l.peer == "nvswitch") switch_b += l.count;
  }
  return std::max(direct, std::min(switch_a, switch_b));
}

}  // namespace

Result<CoreMap> read_core_map(const HostFs& fs) {
  const std::string base = "/sys/devices/system/cpu";
  auto online = fs.read_attr(base + "/online");
  std::vector<int> cpus;
  if (online) {
    auto r = parse_int_ranges(*online);
    if (!r) return std::unexpected(r.error().context(base + "/online"));
    cpus = *r;
  } else {
    auto names = fs.list(base);
    if (!names) return std::unexpected(names.error());
    for (const auto& n : *names) {
      if (n.size() > 3 && n.rfind("cpu", 0) == 0) {
        if (auto v = parse_int<int>(std::string_view(n).substr(3))) cpus.push_back(*v);
      }
    }
  }
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<int>> by_core;
  for (int cpu : cpus) {
    const std::string dir = base + "/cpu" + std::to_string(cpu) + "/topology/";
    auto package = fs.read_int(dir + "physical_package_id");
    if (!package) return std::unexpected(package.error());
    auto core = fs.read_int(dir + "core_id");
    if (!core) return std::unexpected(core.error());
    by_core[{*package, *core}].push_back(cpu);
  }
  CoreMap map;
  for (const auto& [key, threads] : by_core) {
    for (int cpu : threads) map.core_of_cpu[cpu] = map.cores;
    ++map.cores;
  }
  return map;
}

std::string gpu_type(std::string_view model) {
  std::string text(model);
  if (auto open = text.find('['); open != std::string::npos) {
    auto close = text.find(']', open);
    text = text.substr(open + 1, close == std::string::npos ? close : close - open - 1);
  }
  if (auto slash = text.find('/'); slash != std::string::npos) text = text.substr(0, slash);
  std::istringstream words(text);
  std::string out, w;
  static const std::set<std::string> kDropped = {"nvidia",   "amd",    "geforce", "tesla",
                                                 "instinct", "radeon", "intel",   "huawei"};
  while (words >> w) {
    if (kDropped.contains(lower(w))) continue;
    out += (out.empty() ? "" : "_") + lower(w);
  }
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  }
  return out;
}

Result<std::vector<GresDevice>> gres_devices(const hw::Inventory& inventory, const CoreMap& cores,
                                             const GresOptions& options) {
  std::vector<GresDevice> out;
  const auto& accs = inventory.accelerators;
  bool any_link = false;
  for (const auto& a : accs) {
    GresDevice d;
    // One GRES name per kind of accelerator: gpu, npu, vector, ... (jobs ask --gres=npu:2).
    d.name = a.kind.empty() ? "gpu" : a.kind;
    d.gpu = a.index;
    d.type = gpu_type(a.model);
    d.file = device_file(a, options.dev_dir);
    if (d.file.empty()) {
      return fail(ErrorCode::kNotFound, "GPU " + std::to_string(a.index) + " (" + a.pci.address +
                                            ", " + a.vendor + "): no device node is known for it");
    }
    if (options.check_devices) {
      const auto path = options.check_root / std::filesystem::path(d.file).relative_path();
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) {
        return fail(ErrorCode::kNotFound,
                    "GPU " + std::to_string(a.index) + " (" + a.pci.address + "): device node " +
                        path.string() +
                        (::stat(path.c_str(), &st) != 0 ? " does not exist"
                                                        : " is not a character device") +
                        "; load the GPU driver, or pass --dev-dir with the directory holding it");
      }
    }
    std::set<int> core_set;
    if (!a.pci.cpu_affinity.empty()) {
      auto cpus = parse_int_ranges(a.pci.cpu_affinity);
      if (!cpus) {
        return std::unexpected(
            cpus.error().context("GPU " + std::to_string(a.index) + " local_cpulist"));
      }
      for (int cpu : *cpus) {
        if (auto it = cores.core_of_cpu.find(cpu); it != cores.core_of_cpu.end())
          core_set.insert(it->second);
      }
    }
    // Every core is the same as none: leave Cores= out rather than pin to all of them.
    if (static_cast<int>(core_set.size()) < cores.cores)
      d.cores.assign(core_set.begin(), core_set.end());
    // Links= lists the devices of the same GRES name only, in file order.
    for (const auto& b : accs) {
      if (b.kind != a.kind) continue;
      const int n = &a == &b ? -1 : link_count(a, b);
      any_link = any_link || n > 0;
      d.links.push_back(n);
    }
    out.push_back(std::move(d));
  }
  if (!any_link) {
    for (auto& d : out) d.links.clear();
  }
  return out;
}

std::string format_gres_conf(const std::vector<GresDevice>& devices, const std::string& node_name) {
  std::string out =
      "# gres.conf written by `aion slurm gres` from the discovered topology.\n"
      "# Cores= are Slurm core indices (socket by socket, one per physical core);\n"
      "# Links= count NVLink/XGMI links to each device in this file's order (-1: itself).\n";
  if (devices.empty()) out += "# no GPU found on this node\n";
  for (const auto& d : devices) {
    std::string line;
    if (!node_name.empty()) line += "NodeName=" + node_name + " ";
    line += "Name=" + d.name;
    if (!d.type.empty()) line += " Type=" + d.type;
    if (!d.file.empty()) line += " File=" + d.file;
    if (!d.cores.empty()) line += " Cores=" + format_cpu_list(d.cores);
    if (!d.links.empty()) {
      line += " Links=";
      for (std::size_t i = 0; i < d.links.size(); ++i)
        line += (i ? "," : "") + std::to_string(d.links[i]);
    }
    out += line + "\n";
  }
  return out;
}

std::string format_node_line(const hw::Inventory& inventory, const std::vector<GresDevice>& devices,
                             const std::string& node_name) {
  const auto& c = inventory.cpu;
  const int sockets = std::max(c.sockets, 1);
  const int cores = std::max(c.cores, sockets);
  const int threads = std::max(c.threads, cores);
  std::string line = "NodeName=" + node_name + " CPUs=" + std::to_string(threads) +
                     " Boards=1 SocketsPerBoard=" + std::to_string(sockets) +
                     " CoresPerSocket=" + std::to_string(cores / sockets) +
                     " ThreadsPerCore=" + std::to_string(threads / cores) +
                     " RealMemory=" + std::to_string(inventory.memory.total_bytes >> 20);
  // Gres=gpu:TYPE:COUNT per type, in order of first appearance.
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& d : devices) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& p) { return p.first == d.name + ":" + d.type; });
    if (it == counts.end()) {
      counts.emplace_back(d.name + ":" + d.type, 1);
    } else {
      ++it->second;
    }
  }
  std::string gres;
  for (const auto& [key, n] : counts) {
    std::string k = key.back() == ':' ? key.substr(0, key.size() - 1) : key;
    gres += (gres.empty() ? "" : ",") + k + ":" + std::to_string(n);
  }
  if (!gres.empty()) line += " Gres=" + gres;
  return line + "\n";
}

Result<std::vector<std::string>> expand_hostlist(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& item : split_top(text)) {
    auto open = item.find('[');
    if (open == std::string::npos) {
      if (item.find(']') != std::string::npos)
        return fail(ErrorCode::kParse, "'" + item + "' has ']' without '['");
      out.push_back(item);
      continue;
    }
    auto close = item.find(']', open);
    if (close == std::string::npos)
      return fail(ErrorCode::kParse, "'" + item + "' has '[' without ']'");
    const std::string prefix = item.substr(0, open), suffix = item.substr(close + 1);
    for (const auto& range : split_top(item.substr(open + 1, close - open - 1))) {
      auto dash = range.find('-');
      const std::string first = range.substr(0, dash);
      auto nums = parse_int_ranges(range);
      if (!nums) return fail(ErrorCode::kParse, "'" + item + "': bad range '" + range + "'");
      for (int n : *nums) {
        std::string s = std::to_string(n);
        if (s.size() < first.size()) s.insert(0, first.size() - s.size(), '0');
        out.push_back(prefix + s + suffix);
      }
    }
  }
  return out;
}

namespace {

// One gres.conf line: its Key=Value fields by lower-case key, and each key as written.
struct GresLine {
  std::string where;  // "FILE:LINE: "
  std::map<std::string, std::string> fields;
  std::map<std::string, std::string> spelled;

  std::unexpected<Error> bad(std::string_view field, const std::string& what) const {
    return fail(ErrorCode::kParse, where + "field '" + std::string(field) + "': " + what);
  }
};

// The fields of a non-empty line: every word Key=Value with a known key, once, and a value.
Result<GresLine> read_gres_fields(const std::string& line, std::string where) {
  static const std::set<std::string> kKnown = {"nodename",   "name",         "type",  "file",
                                               "cores",      "count",        "links", "flags",
                                               "autodetect", "multiplefiles"};
  GresLine g{std::move(where), {}, {}};
  std::istringstream words(line);
  std::string w;
  while (words >> w) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(ErrorCode::kParse,
                  g.where + "field '" + w + "': expected Key=Value (e.g. File=/dev/nvidia0)");
    }
    std::string key = lower(w.substr(0, eq));
    if (!kKnown.contains(key)) {
      return g.bad(w.substr(0, eq),
                   "unknown field (gres.conf knows NodeName, Name, Type, File, Cores, Count, "
                   "Links, Flags, AutoDetect, MultipleFiles)");
    }
    if (g.fields.contains(key)) return g.bad(w.substr(0, eq), "given twice");
    g.fields[key] = w.substr(eq + 1);
    g.spelled[key] = w.substr(0, eq);
    if (g.fields[key].empty()) return g.bad(g.spelled[key], "empty value");
  }
  return g;
}

// The devices one Name=gpu (npu, vector, ...) line gives this node: one per File= entry, else
// Count= of them, each with the line's Type=, Cores= and Links=.
Status add_gres_devices(GresLine& g, int line_no, std::vector<GresDevice>& out) {
  auto& fields = g.fields;
  auto& spelled = g.spelled;
  GresDevice base;
  base.name = fields["name"];
  base.line = line_no;
  base.type = fields.contains("type") ? fields["type"] : "";
  if (fields.contains("cores")) {
    auto c = parse_int_ranges(fields["cores"]);
    if (!c) return g.bad(spelled["cores"], c.error().message());
    base.cores = *c;
  }
  if (fields.contains("links")) {
    for (const auto& part : split_top(fields["links"])) {
      auto n = parse_int<int>(part);
      if (!n || *n < -1) return g.bad(spelled["links"], "'" + part + "' is not a link count");
      base.links.push_back(*n);
    }
  }
  int count = 1;
  if (fields.contains("count")) {
    auto n = parse_int<int>(fields["count"]);
    if (!n || *n < 0) return g.bad(spelled["count"], "'" + fields["count"] + "' is not a count");
    count = *n;
  }
  if (fields.contains("file")) {
    if (fields["file"].front() != '/') return g.bad(spelled["file"], "must be an absolute path");
    auto files = expand_hostlist(fields["file"]);
    if (!files) return g.bad(spelled["file"], files.error().message());
    for (const auto& f : *files) {
      GresDevice d = base;
      d.file = f;
      out.push_back(std::move(d));
    }
  } else {
    for (int i = 0; i < count; ++i) out.push_back(base);
  }
  return {};
}

}  // namespace

Result<std::vector<GresDevice>> parse_gres_conf(std::string_view text, const std::string& file,
                                                const std::string& node_name) {
  std::vector<GresDevice> out;
  std::istringstream in{std::string(text)};
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto g = read_gres_fields(line, file + ":" + std::to_string(line_no) + ": ");
    if (!g) return std::unexpected(g.error());
    if (!g->fields.contains("name")) {
      if (g->fields.contains("autodetect")) continue;
      return fail(ErrorCode::kParse, g->where + "field 'Name': missing (e.g. Name=gpu)");
    }
    if (g->fields.contains("nodename")) {
      auto nodes = expand_hostlist(g->fields["nodename"]);
      if (!nodes) return g->bad(g->spelled["nodename"], nodes.error().message());
      if (std::find(nodes->begin(), nodes->end(), node_name) == nodes->end()) continue;
    }
    // Slurm's sharing GRES (MPS, shards) count slices of GPUs, not devices.
    if (g->fields["name"] == "mps" || g->fields["name"] == "shard") continue;
    if (auto st = add_gres_devices(*g, line_no, out); !st) return std::unexpected(st.error());
  }
  return out;
}

}  // namespace aion::cluster
