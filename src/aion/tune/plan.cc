#include "aion/tune/plan.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

#include "aion/core/cpu_list.h"
#include "aion/core/strings.h"
#include "aion/hw/memory.h"
#include "aion/hw/topology.h"

namespace aion::tune {

namespace {

constexpr std::string_view kThpDir = "/sys/kernel/mm/transparent_hugepage/";
constexpr std::string_view kCpuDir = "/sys/devices/system/cpu";
constexpr std::string_view kNodeDir = "/sys/devices/system/node";

// The words a choice attribute offers, brackets removed: "always [madvise] never".
std::vector<std::string> offered(std::string_view raw) {
  std::vector<std::string> out;
  for (auto w : split_words(raw)) {
    if (w.size() > 2 && w.front() == '[' && w.back() == ']') w = w.substr(1, w.size() - 2);
    out.push_back(w);
  }
  return out;
}

std::unexpected<Error> invalid(const ProfileSetting& s, const std::string& msg) {
  return fail(ErrorCode::kInvalidArgument, s.file + ": " + s.key + ": " + msg);
}

// Numbered entries of a directory with a prefix: "cpu0", "cpu1" -> {0, 1}, sorted.
std::vector<int> numbered(const HostFs& host, std::string_view dir, std::string_view prefix) {
  std::vector<int> out;
  auto names = host.list(dir);
  if (!names) return out;
  for (const auto& n : *names) {
    if (!n.starts_with(prefix)) continue;
    if (auto v = parse_int(std::string_view(n).substr(prefix.size()))) {
      out.push_back(static_cast<int>(*v));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Reads one attribute into a Target; nullopt when it is not there.
std::optional<Target> read_target(const HostFs& host, std::string path, ValueKind kind) {
  auto raw = host.read(path, 1 << 20);
  if (!raw) return std::nullopt;
  Target t;
  t.path = std::move(path);
  t.kind = kind;
  t.raw = *raw;
  t.current = normalize(kind, *raw);
  return t;
}

Status check_range(const ProfileSetting& s, std::string_view range_key, std::int64_t v,
                   const KernelRanges& ranges) {
  if (const auto* r = ranges.find(range_key)) {
    if (v < r->min || v > r->max) {
      return invalid(s, "value " + std::to_string(v) + " is outside the kernel's range " +
                            std::to_string(r->min) + ".." + std::to_string(r->max) + " (" +
                            r->source + ")");
    }
  }
  return {};
}

Result<std::int64_t> int_value(const ProfileSetting& s, const KernelRanges& ranges) {
  auto v = parse_int(trim(s.value));
  if (!v) return invalid(s, "'" + s.value + "' is not an integer");
  if (auto st = check_range(s, s.key, *v, ranges); !st) return std::unexpected(st.error());
  return *v;
}

std::vector<int> online_cpus(const HostFs& host) {
  if (auto text = host.read_attr(std::string(kCpuDir) + "/online")) {
    if (auto l = parse_cpu_list(*text)) return *l;
  }
  return numbered(host, kCpuDir, "cpu");
}

// ---- one function per family of settings ----

Status plan_sysctl(PlannedSetting& ps, const HostFs& host, const KernelRanges& ranges) {
  const ProfileSetting& s = ps.setting;
  std::string name = s.key.substr(std::string_view("sysctl.").size());
  if (name.empty() || name.find("..") != std::string::npos || name.find('/') != std::string::npos)
    return invalid(s, "not a sysctl name");
  std::string path = "/proc/sys/" + name;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  auto raw = host.read(path, 1 << 20);
  if (!raw) {
    ps.unsupported = "this kernel has no " + path;
    return {};
  }
  auto cur = split_words(*raw);
  bool numeric = !cur.empty() && std::all_of(cur.begin(), cur.end(), [](const std::string& w) {
    return parse_int(w).has_value();
  });
  Target t;
  t.path = path;
  t.raw = *raw;
  if (numeric && cur.size() == 1) {
    t.kind = ValueKind::kInt;
    // ">=N" raises a limit to N and leaves a larger value alone.
    bool at_least = trim(s.value).starts_with(">=");
    ProfileSetting plain = s;
    if (at_least) plain.value = trim(s.value).substr(2);
    auto v = int_value(plain, ranges);
    if (!v) return std::unexpected(v.error());
    std::int64_t now = parse_int(cur.front()).value_or(0);
    t.want = std::to_string(at_least ? std::max(*v, now) : *v);
  } else if (numeric) {
    t.kind = ValueKind::kInts;
    auto want = split_words(s.value);
    if (want.size() != cur.size()) {
      return invalid(s, "expects " + std::to_string(cur.size()) + " integers like '" +
                            join(cur, " ") + "', found '" + s.value + "'");
    }
    for (const auto& w : want) {
      if (!parse_int(w)) return invalid(s, "'" + w + "' is not an integer");
    }
    t.want = join(want, " ");
  } else {
    t.kind = ValueKind::kWord;
    t.want = trim(s.value);
    if (t.want.empty()) return invalid(s, "empty value");
  }
  t.current = normalize(t.kind, *raw);
  ps.targets.push_back(std::move(t));
  return {};
}

Status plan_choice(PlannedSetting& ps, const HostFs& host, const std::string& path,
                   const std::string& what) {
  auto t = read_target(host, path, ValueKind::kChoice);
  if (!t) {
    ps.unsupported = "no " + path + " (" + what + ")";
    return {};
  }
  t->want = trim(ps.setting.value);
  auto choices = offered(t->raw);
  // A recorded tree written by a previous apply holds the bare word; only a bracketed list
  // says what the kernel offers.
  bool has_list = t->raw.find('[') != std::string::npos;
  if (has_list && std::find(choices.begin(), choices.end(), t->want) == choices.end()) {
    return invalid(ps.setting, "'" + t->want + "' is not offered by " + path +
                                   " (offered: " + join(choices, ", ") + ")");
  }
  ps.targets.push_back(std::move(*t));
  return {};
}

Status plan_hugepages(PlannedSetting& ps, const HostFs& host, const KernelRanges& ranges) {
  const ProfileSetting& s = ps.setting;
  std::string size = s.key.substr(std::string_view("hugepages.").size());  // "2048kB"
  auto size_kb =
      parse_int(std::string_view(size).substr(0, size.size() >= 2 ? size.size() - 2 : 0));
  if (!size.ends_with("kB") || !size_kb || *size_kb <= 0)
    return invalid(s, "the page size must read like 2048kB or 1048576kB");
  std::string v = trim(s.value);
  bool percent = !v.empty() && v.back() == '%';
  auto n = parse_int(percent ? std::string_view(v).substr(0, v.size() - 1) : std::string_view(v));
  if (!n || *n < 0) return invalid(s, "'" + s.value + "' is neither a page count nor N%");
  if (percent) {
    if (auto st = check_range(s, "hugepages.percent", *n, ranges); !st) return st;
  }
  auto nodes = numbered(host, kNodeDir, "node");
  for (int node : nodes) {
    std::string dir = std::string(kNodeDir) + "/node" + std::to_string(node);
    std::string path = dir + "/hugepages/hugepages-" + size + "/nr_hugepages";
    auto t = read_target(host, path, ValueKind::kInt);
    if (!t) continue;
    std::int64_t pages = *n;
    if (percent) {
      auto meminfo = host.read(dir + "/meminfo", 1 << 20);
      if (!meminfo) return std::unexpected(meminfo.error());
      auto total_bytes = hw::parse_node_memtotal(*meminfo);
      if (!total_bytes)
        return fail(ErrorCode::kParse, host.resolve(dir + "/meminfo").string() + ": no MemTotal");
      const auto total_kb = static_cast<std::int64_t>(*total_bytes / 1024);
      pages = total_kb * *n / 100 / *size_kb;
    }
    t->want = std::to_string(pages);
    ps.targets.push_back(std::move(*t));
  }
  if (ps.targets.empty()) ps.unsupported = "no NUMA node offers " + size + " hugepages";
  return {};
}

Status plan_per_cpu(PlannedSetting& ps, const HostFs& host, std::string_view attr,
                    std::string_view offered_attr, const KernelRanges& ranges) {
  const ProfileSetting& s = ps.setting;
  std::string want = trim(s.value);
  if (s.key == "cpu.resume_latency_us" && want != "n/a") {
    auto v = int_value(s, ranges);
    if (!v) return std::unexpected(v.error());
    want = std::to_string(*v);
  }
  for (int cpu : numbered(host, kCpuDir, "cpu")) {
    std::string dir = std::string(kCpuDir) + "/cpu" + std::to_string(cpu) + "/";
    auto t = read_target(host, dir + std::string(attr), ValueKind::kWord);
    if (!t) continue;
    // "a|b|c": the first of these the CPU offers (governors differ between drivers).
    std::vector<std::string> alternatives;
    std::istringstream alt(want);
    for (std::string a; std::getline(alt, a, '|');) alternatives.push_back(trim(a));
    t->want = alternatives.front();
    if (!offered_attr.empty()) {
      auto list = host.read_attr(dir + std::string(offered_attr));
      if (list) {
        auto choices = split_words(*list);
        auto pick = std::find_first_of(alternatives.begin(), alternatives.end(), choices.begin(),
                                       choices.end());
        if (pick == alternatives.end()) {
          return invalid(s, "'" + want + "' is not in " + dir + std::string(offered_attr) + " (" +
                                join(choices, ", ") + ")");
        }
        t->want = *pick;
      }
    }
    ps.targets.push_back(std::move(*t));
  }
  if (ps.targets.empty()) {
    ps.unsupported = "no CPU has " + std::string(attr) +
                     (attr.starts_with("cpufreq") ? " (no cpufreq driver: a VM, or the "
                                                    "firmware controls frequency)"
                                                  : "");
  }
  return {};
}

// The interrupts of a PCI device (MSI/MSI-X vectors, else its legacy line).
std::vector<int> device_irqs(const HostFs& host, const std::string& pci) {
  std::string dev = "/sys/bus/pci/devices/" + pci;
  std::vector<int> irqs;
  if (auto names = host.list(dev + "/msi_irqs")) {
    for (const auto& n : *names) {
      if (auto v = parse_int(n)) irqs.push_back(static_cast<int>(*v));
    }
  }
  if (irqs.empty()) {
    if (auto v = host.read_int(dev + "/irq"); v && *v > 0) irqs.push_back(static_cast<int>(*v));
  }
  std::sort(irqs.begin(), irqs.end());
  return irqs;
}

std::string node_cpus(const HostFs& host, const hw::Inventory& inv, int node) {
  for (const auto& n : inv.numa_nodes) {
    if (n.id == node) return n.cpus;
  }
  if (node < 0) return {};
  auto l = host.read_attr(std::string(kNodeDir) + "/node" + std::to_string(node) + "/cpulist");
  return l ? *l : std::string();
}

void add_irq_target(PlannedSetting& ps, const HostFs& host, int irq, const std::string& cpus,
                    bool subset_ok) {
  std::string path = "/proc/irq/" + std::to_string(irq) + "/smp_affinity_list";
  auto t = read_target(host, path, ValueKind::kCpuList);
  if (!t) return;
  t->want = normalize(ValueKind::kCpuList, cpus);
  t->refusable = true;
  t->subset_ok = subset_ok;
  ps.targets.push_back(std::move(*t));
}

Status plan_nic_irqs(PlannedSetting& ps, const HostFs& host, const hw::Inventory& inv) {
  const ProfileSetting& s = ps.setting;
  std::string mode = trim(s.value);
  if (mode != "numa-local" && mode != "gpu-local")
    return invalid(s, "'" + s.value + "' must be numa-local or gpu-local");
  std::vector<std::string> notes;
  int nodes = static_cast<int>(inv.numa_nodes.size());
  for (const auto& nic : inv.nics) {
    if (nic.pci.address.empty()) continue;
    std::string cpus;
    if (mode == "gpu-local" && !inv.accelerators.empty()) {
      // The nearest accelerator on the PCIe tree: its NUMA node's CPUs.
      const hw::Accelerator* best = nullptr;
      hw::LinkLevel best_level = hw::LinkLevel::kSys;
      for (const auto& a : inv.accelerators) {
        if (a.simulated || a.pci.address.empty()) continue;
        auto level = hw::pcie_level(nic.pci, a.pci, nodes);
        if (!best || level < best_level) {
          best = &a;
          best_level = level;
        }
      }
      if (best) cpus = node_cpus(host, inv, best->pci.numa_node);
    }
    if (cpus.empty()) cpus = nic.pci.cpu_affinity;
    if (cpus.empty()) cpus = node_cpus(host, inv, nic.pci.numa_node);
    if (cpus.empty()) continue;
    for (int irq : device_irqs(host, nic.pci.address)) add_irq_target(ps, host, irq, cpus, false);
  }
  if (ps.targets.empty()) ps.unsupported = "no NIC with a PCI device and interrupts found";
  return {};
}

Status plan_isolate(PlannedSetting& ps, const HostFs& host, const hw::Inventory& inv) {
  const ProfileSetting& s = ps.setting;
  std::vector<int> online = online_cpus(host);
  std::string v = trim(s.value);
  std::vector<int> serving;
  if (v == "auto") {
    std::set<int> housekeeping;
    std::vector<std::string> node_lists;
    for (const auto& n : inv.numa_nodes) node_lists.push_back(n.cpus);
    if (node_lists.empty()) {
      for (int node : numbered(host, kNodeDir, "node"))
        node_lists.push_back(node_cpus(host, inv, node));
    }
    for (const auto& cpus : node_lists) {
      auto l = parse_cpu_list(cpus);
      if (l && !l->empty()) housekeeping.insert(l->front());
    }
    if (housekeeping.empty() && !online.empty()) housekeeping.insert(online.front());
    for (int c : online) {
      if (!housekeeping.count(c)) serving.push_back(c);
    }
  } else {
    auto l = parse_cpu_list(v);
    if (!l) return invalid(s, "'" + s.value + "' is neither auto nor a CPU list like 2-7");
    for (int c : *l) {
      if (std::find(online.begin(), online.end(), c) == online.end())
        return invalid(s, "CPU " + std::to_string(c) +
                              " is not online (online: " + format_cpu_list(online) + ")");
    }
    serving = *l;
  }
  std::vector<int> housekeeping;
  for (int c : online) {
    if (std::find(serving.begin(), serving.end(), c) == serving.end()) housekeeping.push_back(c);
  }
  if (housekeeping.empty())
    return invalid(s,
                   "no CPU would be left for interrupts (online: " + format_cpu_list(online) + ")");
  if (serving.empty()) {
    ps.unsupported = "one CPU per NUMA node only: no core to isolate";
    return {};
  }
  std::string hk = format_cpu_list(housekeeping);
  for (int irq : numbered(host, "/proc/irq", "")) add_irq_target(ps, host, irq, hk, true);
  if (ps.targets.empty()) ps.unsupported = "no /proc/irq/N/smp_affinity_list";
  return {};
}

bool is_data_disk(std::string_view name) {
  for (std::string_view p : {"loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"}) {
    if (name.starts_with(p)) return false;
  }
  return true;
}

Status plan_block(PlannedSetting& ps, const HostFs& host, const KernelRanges& ranges) {
  const ProfileSetting& s = ps.setting;
  bool sched = s.key == "block.scheduler";
  std::string want = trim(s.value);
  bool at_least = !sched && want.starts_with(">=");  // raise, never lower
  std::int64_t ra = 0;
  if (!sched) {
    ProfileSetting plain = s;
    if (at_least) plain.value = want.substr(2);
    auto v = int_value(plain, ranges);
    if (!v) return std::unexpected(v.error());
    ra = *v;
    want = std::to_string(*v);
  }
  auto names = host.list("/sys/block");
  for (const auto& dev : names ? *names : std::vector<std::string>{}) {
    if (!is_data_disk(dev)) continue;
    std::string path = "/sys/block/" + dev + "/queue/" + (sched ? "scheduler" : "read_ahead_kb");
    auto t = read_target(host, path, sched ? ValueKind::kChoice : ValueKind::kInt);
    if (!t) continue;
    if (sched && t->raw.find('[') != std::string::npos) {
      auto choices = offered(t->raw);
      if (std::find(choices.begin(), choices.end(), want) == choices.end()) {
        return invalid(s, "'" + want + "' is not offered by " + path +
                              " (offered: " + join(choices, ", ") + ")");
      }
    }
    t->want = at_least ? std::to_string(std::max(ra, parse_int(t->current).value_or(0))) : want;
    ps.targets.push_back(std::move(*t));
  }
  if (ps.targets.empty()) ps.unsupported = "no disk with a queue/" + s.key.substr(6);
  return {};
}

Status plan_net(PlannedSetting& ps, const HostFs& host, const KernelRanges& ranges) {
  const ProfileSetting& s = ps.setting;
  std::string attr = s.key.substr(4);
  auto v = int_value(s, ranges);
  if (!v) return std::unexpected(v.error());
  auto names = host.list("/sys/class/net");
  for (const auto& nic : names ? *names : std::vector<std::string>{}) {
    if (!host.exists("/sys/class/net/" + nic + "/device")) continue;
    auto t = read_target(host, "/sys/class/net/" + nic + "/" + attr, ValueKind::kInt);
    if (!t) continue;
    t->want = std::to_string(*v);
    ps.targets.push_back(std::move(*t));
  }
  if (ps.targets.empty()) ps.unsupported = "no NIC with a device and " + attr;
  return {};
}

}  // namespace

bool Target::needs_change() const {
  if (current == want) return false;
  if (subset_ok) {
    auto cur = parse_cpu_list(current);
    auto w = parse_cpu_list(want);
    if (cur && w && !cur->empty() && std::all_of(cur->begin(), cur->end(), [&](int c) {
          return std::find(w->begin(), w->end(), c) != w->end();
        })) {
      return false;
    }
  }
  return true;
}

bool PlannedSetting::needs_change() const {
  if (!unsupported.empty()) return false;
  return std::any_of(targets.begin(), targets.end(),
                     [](const Target& t) { return t.needs_change(); });
}

bool Plan::needs_change() const {
  return std::any_of(settings.begin(), settings.end(),
                     [](const PlannedSetting& s) { return s.needs_change(); });
}

bool known_setting_key(std::string_view key) {
  static const std::set<std::string, std::less<>> kExact = {
      "thp.enabled",           "thp.defrag",
      "cpu.governor",          "cpu.energy_perf_preference",
      "cpu.resume_latency_us", "irq.nic_affinity",
      "irq.isolate",           "block.scheduler",
      "block.read_ahead_kb",   "net.tx_queue_len",
      "net.gro_flush_timeout", "net.napi_defer_hard_irqs"};
  if (kExact.count(key)) return true;
  if (key.starts_with("sysctl.") && key.size() > 7) return true;
  if (key.starts_with("hugepages.") && key.ends_with("kB")) return true;
  return false;
}

std::string known_setting_keys_help() {
  return "sysctl.<name>, thp.enabled, thp.defrag, hugepages.<size>kB, cpu.governor, "
         "cpu.energy_perf_preference, cpu.resume_latency_us, irq.nic_affinity, irq.isolate, "
         "block.scheduler, block.read_ahead_kb, net.tx_queue_len, net.gro_flush_timeout, "
         "net.napi_defer_hard_irqs";
}

Result<Plan> make_plan(const ResolvedProfile& profile, const HostFs& host,
                       const hw::Inventory& inventory, const KernelRanges& ranges) {
  Plan plan;
  plan.profile = profile.name;
  for (const auto& s : profile.settings) {
    PlannedSetting ps;
    ps.setting = s;
    const std::string& k = s.key;
    Status st;
    if (k.starts_with("sysctl.")) {
      st = plan_sysctl(ps, host, ranges);
    } else if (k == "thp.enabled" || k == "thp.defrag") {
      st = plan_choice(ps, host, std::string(kThpDir) + k.substr(4),
                       "kernel without transparent hugepages");
    } else if (k.starts_with("hugepages.")) {
      st = plan_hugepages(ps, host, ranges);
    } else if (k == "cpu.governor") {
      st = plan_per_cpu(ps, host, "cpufreq/scaling_governor", "cpufreq/scaling_available_governors",
                        ranges);
    } else if (k == "cpu.energy_perf_preference") {
      st = plan_per_cpu(ps, host, "cpufreq/energy_performance_preference",
                        "cpufreq/energy_performance_available_preferences", ranges);
    } else if (k == "cpu.resume_latency_us") {
      st = plan_per_cpu(ps, host, "power/pm_qos_resume_latency_us", "", ranges);
    } else if (k == "irq.nic_affinity") {
      st = plan_nic_irqs(ps, host, inventory);
    } else if (k == "irq.isolate") {
      st = plan_isolate(ps, host, inventory);
    } else if (k.starts_with("block.")) {
      st = plan_block(ps, host, ranges);
    } else if (k.starts_with("net.")) {
      st = plan_net(ps, host, ranges);
    } else {
      st = invalid(s, "unknown setting key (known: " + known_setting_keys_help() + ")");
    }
    if (!st) return std::unexpected(st.error());
    plan.settings.push_back(std::move(ps));
  }
  return plan;
}

}  // namespace aion::tune
