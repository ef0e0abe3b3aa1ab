#include "aion/sched/cgroup.h"
#include "aion/core/strings.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "aion/sched/device_bpf.h"

namespace aion::sched {
namespace {

// remove(): how long to wait for exiting tasks to leave the cgroup (kRmdirAttempts * pause).
constexpr int kRmdirAttempts = 50;
constexpr auto kRmdirPause = std::chrono::milliseconds(20);
// kill_all(): rounds of "read cgroup.procs, signal the newcomers".
constexpr int kKillRounds = 5;
constexpr auto kKillPause = std::chrono::milliseconds(10);

// Devices every job may use whatever its allow-list says (what container runtimes allow).
const std::vector<DeviceRule>& safe_devices() {
  static const std::vector<DeviceRule> kSafe = {
      {'c', 1, 3, "rwm"},     // null
      {'c', 1, 5, "rwm"},     // zero
      {'c', 1, 7, "rwm"},     // full
      {'c', 1, 8, "rwm"},     // random
      {'c', 1, 9, "rwm"},     // urandom
      {'c', 5, 0, "rwm"},     // tty
      {'c', 5, 1, "rwm"},     // console
      {'c', 5, 2, "rwm"},     // ptmx
      {'c', 136, -1, "rwm"},  // pts/*
  };
  return kSafe;
}

std::vector<DeviceRule> with_safe_devices(const std::vector<DeviceRule>& rules) {
  std::vector<DeviceRule> all = rules;
  all.insert(all.end(), safe_devices().begin(), safe_devices().end());
  return all;
}

// Mount points in mountinfo and /proc/mounts escape space, tab, newline and backslash as
// "\ooo".
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Mount {
  std::string point;
  std::string fstype;
  std::vector<std::string> options;  // super options (mountinfo) or all options (mounts)
};

// "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
std::vector<Mount> parse_mountinfo(std::string_view text) {
  std::vector<Mount> mounts;
  for (const std::string& line : split(text, '\n', {.skip_empty = true})) {
    std::vector<std::string> f = split_words(line);
    auto dash = std::find(f.begin() + std::min<std::size_t>(f.size(), 6), f.end(), "-");
    if (dash == f.end() || f.end() - dash < 3) continue;
    Mount m{unescape(f[4]), *(dash + 1), {}};
    if (f.end() - dash >= 4) m.options = split(*(dash + 3), ',', {.skip_empty = true});
    mounts.push_back(std::move(m));
  }
  return mounts;
}

// "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0"
std::vector<Mount> parse_proc_mounts(std::string_view text) {
  std::vector<Mount> mounts;
  for (const std::string& line : split(text, '\n', {.skip_empty = true})) {
    std::vector<std::string> f = split_words(line);
    if (f.size() < 4) continue;
    mounts.push_back(Mount{unescape(f[1]), f[2], split(f[3], ',', {.skip_empty = true})});
  }
  return mounts;
}

std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (b.empty()) return out;
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(b);
  return out;
}

std::string cgroup_path(const std::string& root, const std::string& parent,
                        const std::string& name) {
  std::string path = root;
  for (const std::string& level : split(parent, '/', {.skip_empty = true}))
    path = join_path(path, level);
  return join_path(path, name);
}

void decide_bpf(const HostFs& fs, CgroupCaps& caps) {
  caps.device_isolation = kNoDeviceIsolation;
  if (!fs.is_live()) {
    caps.notes.push_back("bpf(2) not probed: host root is " + fs.root().string() +
                         ", not the live machine; device isolation off");
    return;
  }
  if (auto st = probe_device_filter(); !st) {
    caps.notes.push_back("cannot load a BPF cgroup device program (" + st.error().message() +
                         "); jobs can open every device node, only CUDA_VISIBLE_DEVICES and "
                         "its kin steer them");
    return;
  }
  caps.device_isolation = kBpfCgroupDevice;
}

void detect_v2_controllers(const HostFs& fs, CgroupCaps& caps) {
  std::string file = join_path(caps.unified_root, "cgroup.controllers");
  auto text = fs.read_attr(file);
  if (!text) caps.notes.push_back("cannot read " + text.error().message());
  std::vector<std::string> listed = text ? split_words(*text) : std::vector<std::string>{};
  auto has = [&](std::string_view c) {
    return std::find(listed.begin(), listed.end(), c) != listed.end();
  };
  auto take = [&](std::string_view c, bool& flag, std::string& root) {
    flag = has(c);
    if (flag) {
      root = caps.unified_root;
    } else {
      caps.notes.push_back("cgroup v2: no " + std::string(c) + " controller in " + file);
    }
  };
  take("cpuset", caps.cpuset, caps.cpuset_root);
  take("memory", caps.memory, caps.memory_root);
  take("pids", caps.pids, caps.pids_root);
  take("io", caps.io, caps.blkio_root);
  caps.cpu_accounting = true;  // cpu.stat is a core file on v2
  caps.cpuacct_root = caps.unified_root;
}

// Cgroup knobs are written with one write(2) per value (the kernel parses each write on its
// own, devices.allow takes one rule per write) and the errno is kept for the message.
int write_raw(const HostFs& fs, const std::string& path, std::string_view value) {
  int fd = ::open(fs.resolve(path).c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC);
  if (fd < 0) return errno;
  int err = 0;
  while (true) {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n >= 0 || errno != EINTR) {
      if (n < 0) err = errno;
      break;
    }
  }
  ::close(fd);
  return err;
}

Error knob_error(int err, const HostFs& fs, const std::string& path, std::string_view value) {
  Error e = errno_error(err, "cannot write " + fs.resolve(path).string());
  std::string shown(value);
  while (!shown.empty() && shown.back() == '\n') shown.pop_back();
  return Error(e.code(), e.message() + " (value \"" + shown + "\")");
}

Status write_knob(const HostFs& fs, const std::string& path, std::string_view value) {
  if (int err = write_raw(fs, path, value); err != 0) {
    return std::unexpected(knob_error(err, fs, path, value));
  }
  return {};
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> read_u64(const HostFs& fs, const std::string& path) {
  auto text = fs.read_attr(path);
  if (!text) return std::nullopt;
  return parse_u64(*text);
}

// The value of "key value" in a flat-keyed file (memory.events, cpu.stat, memory.oom_control);
// 0 when the file or the key is missing.
std::uint64_t read_keyed(const HostFs& fs, const std::string& path, std::string_view key) {
  auto text = fs.read(path, 1 << 16);
  if (!text) return 0;
  for (const std::string& line : split(*text, '\n', {.skip_empty = true})) {
    std::vector<std::string> f = split_words(line);
    if (f.size() == 2 && f[0] == key) return parse_u64(f[1]).value_or(0);
  }
  return 0;
}

Status validate_names(const std::string& parent, const std::string& name) {
  auto bad = [](const std::string& s) { return s.empty() || s == "." || s == ".."; };
  if (bad(name) || name.find('/') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                "invalid cgroup name '" + name + "': must be one non-empty path component");
  }
  for (const std::string& level : split(parent, '/', {.skip_empty = true})) {
    if (bad(level)) {
      return fail(ErrorCode::kInvalidArgument,
                  "invalid cgroup parent '" + parent + "': '.' and '..' are not allowed");
    }
  }
  return {};
}

Status validate_rule(const DeviceRule& rule) {
  bool ok = (rule.type == 'c' || rule.type == 'b') && rule.major >= -1 && rule.minor >= -1 &&
            !rule.access.empty() && rule.access.size() <= 3 &&
            rule.access.find_first_not_of("rwm") == std::string::npos;
  if (ok) return {};
  return fail(ErrorCode::kInvalidArgument,
              "invalid device rule '" + std::string(1, rule.type) + " " +
                  std::to_string(rule.major) + ":" + std::to_string(rule.minor) + " " +
                  rule.access + "': type must be 'c' or 'b', access letters from \"rwm\"");
}

// "c 195:0 rwm", "c 195:* rwm" as devices.allow/deny take them (the kernel strips the
// newline; it keeps the rules apart where a test tree records the writes).
std::string v1_rule(const DeviceRule& rule) {
  auto num = [](int n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, rule.type) + " " + num(rule.major) + ":" + num(rule.minor) + " " +
         rule.access + "\n";
}

Status make_dir(const HostFs& fs, const std::string& path, bool* created) {
  if (::mkdir(fs.resolve(path).c_str(), 0755) == 0) {
    if (created != nullptr) *created = true;
    return {};
  }
  if (errno == EEXIST && fs.is_dir(path)) return {};
  return std::unexpected(errno_error(errno, "cannot create cgroup " + fs.resolve(path).string()));
}

// A new v1 cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks until they are
// set, so each level of the parent takes its parent's values.
Status inherit_cpuset(const HostFs& fs, const std::string& up, const std::string& path) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    auto mine = fs.read_attr(join_path(path, file));
    if (!mine) return std::unexpected(mine.error());
    if (!mine->empty()) continue;
    auto theirs = fs.read_attr(join_path(up, file));
    if (!theirs) return std::unexpected(theirs.error());
    if (theirs->empty()) continue;
    if (auto st = write_knob(fs, join_path(path, file), *theirs); !st) return st;
  }
  return {};
}

// Enables cpuset/memory/pids (those caps has and the cgroup offers) for the children of a v2
// cgroup; writes only what is missing, so a delegated subtree's root is left alone when it
// already has them.
Status enable_controllers(const HostFs& fs, const CgroupCaps& caps, const std::string& path) {
  auto offered = fs.read_attr(join_path(path, "cgroup.controllers"));
  if (!offered) return std::unexpected(offered.error());
  auto enabled = fs.read_attr(join_path(path, "cgroup.subtree_control"));
  if (!enabled) return std::unexpected(enabled.error());
  std::vector<std::string> have = split_words(*offered), on = split_words(*enabled);
  std::string request;
  for (auto [name, wanted] : {std::pair<const char*, bool>{"cpuset", caps.cpuset},
                              {"memory", caps.memory},
                              {"pids", caps.pids},
                              {"io", caps.io}}) {
    if (!wanted || std::find(have.begin(), have.end(), name) == have.end() ||
        std::find(on.begin(), on.end(), name) != on.end()) {
      continue;
    }
    request += (request.empty() ? "+" : " +") + std::string(name);
  }
  if (request.empty()) return {};
  return write_knob(fs, join_path(path, "cgroup.subtree_control"), request);
}

}  // namespace

Result<CgroupCaps> detect_cgroups(const HostFs& fs) {
  std::vector<Mount> mounts;
  if (auto info = fs.read("/proc/self/mountinfo")) {
    mounts = parse_mountinfo(*info);
  } else if (auto plain = fs.read("/proc/mounts")) {
    mounts = parse_proc_mounts(*plain);
  } else {
    return fail(ErrorCode::kNotFound, "cannot find the cgroup mounts: " + info.error().message() +
                                          "; " + plain.error().message());
  }

  CgroupCaps caps;
  for (const Mount& m : mounts) {
    if (m.fstype == "cgroup2") {
      if (caps.unified_root.empty() || m.point == "/sys/fs/cgroup") caps.unified_root = m.point;
      continue;
    }
    if (m.fstype != "cgroup") continue;
    for (const std::string& opt : m.options) {
      std::string* root = opt == "cpuset"    ? &caps.cpuset_root
                          : opt == "memory"  ? &caps.memory_root
                          : opt == "devices" ? &caps.devices_root
                          : opt == "cpuacct" ? &caps.cpuacct_root
                          : opt == "pids"    ? &caps.pids_root
                          : opt == "blkio"   ? &caps.blkio_root
                                             : nullptr;
      if (root != nullptr && root->empty()) *root = m.point;  // the first mount wins
    }
  }

  bool any_v1 = !caps.cpuset_root.empty() || !caps.memory_root.empty() ||
                !caps.devices_root.empty() || !caps.cpuacct_root.empty() || !caps.pids_root.empty();
  if (any_v1) {
    caps.version = CgroupVersion::kV1;
    caps.cpuset = !caps.cpuset_root.empty();
    caps.memory = !caps.memory_root.empty();
    caps.cpu_accounting = !caps.cpuacct_root.empty();
    caps.pids = !caps.pids_root.empty();
    caps.io = !caps.blkio_root.empty();
    for (auto [name, present] : {std::pair<const char*, bool>{"cpuset", caps.cpuset},
                                 {"memory", caps.memory},
                                 {"cpuacct", caps.cpu_accounting},
                                 {"pids", caps.pids},
                                 {"devices", !caps.devices_root.empty()}}) {
      if (!present)
        caps.notes.push_back(std::string("cgroup v1: no ") + name + " controller mounted");
    }
    if (!caps.devices_root.empty()) {
      caps.device_isolation = kDevicesCgroupV1;
    } else if (!caps.unified_root.empty()) {
      decide_bpf(fs, caps);
    } else {
      caps.device_isolation = kNoDeviceIsolation;
      caps.notes.push_back("no devices controller and no cgroup2 mount: device isolation off");
    }
  } else if (!caps.unified_root.empty()) {
    caps.version = CgroupVersion::kV2;
    detect_v2_controllers(fs, caps);
    decide_bpf(fs, caps);
  } else {
    caps.device_isolation = kNoDeviceIsolation;
    caps.notes.push_back("no cgroup hierarchy mounted: jobs run without limits or isolation");
  }
  return caps;
}

JobCgroup::JobCgroup(const HostFs& fs, const CgroupCaps& caps, std::string parent, std::string name)
    : fs_(fs), caps_(caps), parent_(std::move(parent)), name_(std::move(name)) {
  auto add = [&](const std::string& root) {
    if (!root.empty() && std::find(roots_.begin(), roots_.end(), root) == roots_.end()) {
      roots_.push_back(root);
    }
  };
  if (caps_.version == CgroupVersion::kV2) {
    add(caps_.unified_root);
    procs_root_ = caps_.unified_root;
  } else if (caps_.version == CgroupVersion::kV1) {
    if (caps_.memory) add(caps_.memory_root);
    if (caps_.cpuset) add(caps_.cpuset_root);
    add(caps_.devices_root);
    if (caps_.cpu_accounting) add(caps_.cpuacct_root);
    if (caps_.pids) add(caps_.pids_root);
    if (caps_.io) add(caps_.blkio_root);
    if (bpf_devices() || caps_.join_unified) add(caps_.unified_root);
    if (!roots_.empty()) procs_root_ = roots_.front();
  }
}

std::string JobCgroup::unified_dir() const {
  if (caps_.unified_root.empty() ||
      std::find(roots_.begin(), roots_.end(), caps_.unified_root) == roots_.end())
    return "";
  return fs_.resolve(dir(caps_.unified_root)).string();
}

std::string JobCgroup::dir(const std::string& root) const {
  return cgroup_path(root, parent_, name_);
}

bool JobCgroup::bpf_devices() const {
  return caps_.device_isolation == kBpfCgroupDevice && !caps_.unified_root.empty();
}

Status JobCgroup::create_dirs(bool& adopted, std::vector<std::string>& created) const {
  adopted = fs_.is_dir(dir(procs_root_));
  for (const std::string& root : roots_) {
    const bool v2 = caps_.version == CgroupVersion::kV2;
    const bool cpuset_v1 = !v2 && caps_.cpuset && root == caps_.cpuset_root;
    std::string path = root;
    if (v2) {
      if (auto st = enable_controllers(fs_, caps_, path); !st) return st;
    }
    for (const std::string& level : split(parent_, '/', {.skip_empty = true})) {
      std::string up = path;
      path = join_path(path, level);
      if (auto st = make_dir(fs_, path, nullptr); !st) return st;
      if (cpuset_v1) {
        if (auto st = inherit_cpuset(fs_, up, path); !st) return st;
      }
      if (v2) {
        if (auto st = enable_controllers(fs_, caps_, path); !st) return st;
      }
    }
    bool made = false;
    std::string job = join_path(path, name_);
    if (auto st = make_dir(fs_, job, &made); !st) return st;
    if (made) created.push_back(job);
  }
  return {};
}

Status JobCgroup::apply_v1(const CgroupLimits& limits, bool adopted) const {
  if (caps_.cpuset && !caps_.cpuset_root.empty()) {
    std::string job = dir(caps_.cpuset_root);
    std::string up = cgroup_path(caps_.cpuset_root, parent_, "");
    for (auto [file, wanted] :
         {std::pair<const char*, const std::string&>{"cpuset.cpus", limits.cpus},
          {"cpuset.mems", limits.mems}}) {
      std::string value = wanted;
      if (value.empty()) {  // "inherit": v1 has no such value, so copy the parent's
        auto theirs = fs_.read_attr(join_path(up, file));
        if (!theirs) return std::unexpected(theirs.error());
        value = *theirs;
      }
      if (auto st = write_knob(fs_, join_path(job, file), value); !st) return st;
    }
  }
  if (caps_.memory && !caps_.memory_root.empty()) {
    std::string job = dir(caps_.memory_root);
    std::string limit_file = join_path(job, "memory.limit_in_bytes");
    std::string memsw_file = join_path(job, "memory.memsw.limit_in_bytes");
    std::string limit = limits.memory_bytes > 0 ? std::to_string(limits.memory_bytes) : "-1";
    if (fs_.exists(memsw_file)) {
      // The kernel keeps memory.limit <= memsw.limit after every write: when the new memsw
      // limit is at least the current memory limit it goes first, otherwise last.
      bool bounded = limits.memory_bytes > 0 && !limits.swap;
      std::uint64_t new_memsw =
          bounded ? limits.memory_bytes : std::numeric_limits<std::uint64_t>::max();
      std::string memsw = bounded ? limit : "-1";
      bool memsw_first = new_memsw >= read_u64(fs_, limit_file).value_or(0);
      std::vector<std::pair<std::string, std::string>> writes = {{limit_file, limit},
                                                                 {memsw_file, memsw}};
      if (memsw_first) std::swap(writes[0], writes[1]);
      for (const auto& [file, value] : writes) {
        if (auto st = write_knob(fs_, file, value); !st) return st;
      }
    } else if (auto st = write_knob(fs_, limit_file, limit); !st) {
      return st;
    }
  }
  if (!caps_.devices_root.empty()) {
    std::string job = dir(caps_.devices_root);
    std::string allow_file = join_path(job, "devices.allow"),
                deny_file = join_path(job, "devices.deny");
    if (limits.devices) {
      if (auto st = write_knob(fs_, deny_file, "a\n"); !st) return st;
      for (const DeviceRule& rule : with_safe_devices(*limits.devices)) {
        if (auto st = write_knob(fs_, allow_file, v1_rule(rule)); !st) return st;
      }
    } else if (adopted) {
      if (auto st = write_knob(fs_, allow_file, "a\n"); !st) return st;
    }
    for (const DeviceRule& rule : limits.deny_devices) {
      if (auto st = write_knob(fs_, deny_file, v1_rule(rule)); !st) return st;
    }
  }
  if (caps_.pids && !caps_.pids_root.empty()) {
    std::string value = limits.pids_max > 0 ? std::to_string(limits.pids_max) : "max";
    if (auto st = write_knob(fs_, join_path(dir(caps_.pids_root), "pids.max"), value); !st)
      return st;
  }
  return apply_devices_bpf(limits, adopted);
}

Status JobCgroup::apply_v2(const CgroupLimits& limits, bool adopted) const {
  std::string job = dir(caps_.unified_root);
  if (caps_.cpuset) {
    for (auto [file, wanted] :
         {std::pair<const char*, const std::string&>{"cpuset.cpus", limits.cpus},
          {"cpuset.mems", limits.mems}}) {
      // Empty means "as the parent" on v2; only an adopted cgroup needs it written back.
      if (wanted.empty() && !adopted) continue;
      if (auto st = write_knob(fs_, join_path(job, file), wanted.empty() ? "\n" : wanted); !st) {
        return st;
      }
    }
  }
  if (caps_.memory) {
    std::string max = limits.memory_bytes > 0 ? std::to_string(limits.memory_bytes) : "max";
    if (auto st = write_knob(fs_, join_path(job, "memory.max"), max); !st) return st;
    std::string swap_file = join_path(job, "memory.swap.max");
    if (fs_.exists(swap_file)) {
      bool bounded = limits.memory_bytes > 0 && !limits.swap;
      if (auto st = write_knob(fs_, swap_file, bounded ? "0" : "max"); !st) return st;
    }
  }
  if (caps_.pids) {
    std::string value = limits.pids_max > 0 ? std::to_string(limits.pids_max) : "max";
    if (auto st = write_knob(fs_, join_path(job, "pids.max"), value); !st) return st;
  }
  return apply_devices_bpf(limits, adopted);
}

Status JobCgroup::apply_devices_bpf(const CgroupLimits& limits, bool adopted) const {
  if (!bpf_devices()) return {};
  std::string real = fs_.resolve(dir(caps_.unified_root)).string();
  if (limits.devices || !limits.deny_devices.empty()) {
    std::optional<std::vector<DeviceRule>> allow;
    if (limits.devices) allow = with_safe_devices(*limits.devices);
    return install_device_filter(real, allow, limits.deny_devices);
  }
  if (adopted) return remove_device_filter(real);
  return {};
}

Result<JobCgroup> JobCgroup::create(const HostFs& fs, const CgroupCaps& caps,
                                    const std::string& parent, const std::string& name,
                                    const CgroupLimits& limits) {
  if (auto st = validate_names(parent, name); !st) return std::unexpected(st.error());
  std::vector<DeviceRule> rules = limits.deny_devices;
  if (limits.devices) rules.insert(rules.end(), limits.devices->begin(), limits.devices->end());
  for (const DeviceRule& rule : rules) {
    if (auto st = validate_rule(rule); !st) return std::unexpected(st.error());
  }
  JobCgroup cg(fs, caps, parent, name);
  if (cg.roots_.empty()) {
    return fail(ErrorCode::kUnsupported,
                "cannot create cgroup " + name + ": no usable cgroup hierarchy is mounted");
  }
  bool adopted = false;
  std::vector<std::string> created;
  Status st = cg.create_dirs(adopted, created);
  if (st)
    st = caps.version == CgroupVersion::kV2 ? cg.apply_v2(limits, adopted)
                                            : cg.apply_v1(limits, adopted);
  if (!st) {
    // A half-configured new cgroup must not stay behind; an adopted one is the caller's.
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      ::rmdir(fs.resolve(*it).c_str());
    }
    Error error = st.error();
    return std::unexpected(error.context("creating cgroup " + name));
  }
  return cg;
}

Result<JobCgroup> JobCgroup::open(const HostFs& fs, const CgroupCaps& caps,
                                  const std::string& parent, const std::string& name) {
  if (auto st = validate_names(parent, name); !st) return std::unexpected(st.error());
  JobCgroup cg(fs, caps, parent, name);
  if (cg.roots_.empty()) {
    return fail(ErrorCode::kNotFound,
                "cgroup " + name + " cannot exist: no usable cgroup hierarchy is mounted");
  }
  std::string path = cg.dir(cg.procs_root_);
  if (!fs.is_dir(path)) {
    return fail(ErrorCode::kNotFound, "cgroup " + fs.resolve(path).string() + " does not exist");
  }
  return cg;
}

Status JobCgroup::attach(pid_t pid) const {
  for (const std::string& root : roots_) {
    if (auto st = write_knob(fs_, join_path(dir(root), "cgroup.procs"), std::to_string(pid)); !st) {
      Error error = st.error();
      return std::unexpected(
          error.context("moving pid " + std::to_string(pid) + " into cgroup " + name_));
    }
  }
  return {};
}

std::vector<std::string> JobCgroup::procs_files() const {
  std::vector<std::string> files;
  for (const std::string& root : roots_) {
    files.push_back(fs_.resolve(join_path(dir(root), "cgroup.procs")).string());
  }
  return files;
}

Result<std::vector<pid_t>> JobCgroup::pids() const {
  auto text = fs_.read(join_path(dir(procs_root_), "cgroup.procs"));
  if (!text) return std::unexpected(text.error());
  std::vector<pid_t> out;
  for (const std::string& word : split_words(*text)) {
    if (auto v = parse_u64(word)) out.push_back(static_cast<pid_t>(*v));
  }
  return out;
}

Status JobCgroup::kill_all(int signal) const {
  if (signal == SIGKILL && caps_.version == CgroupVersion::kV2) {
    std::string kill_file = join_path(dir(caps_.unified_root), "cgroup.kill");
    if (fs_.exists(kill_file)) {
      if (auto st = write_knob(fs_, kill_file, "1"); !st) return st;
    }
  }
  const pid_t self = ::getpid();
  std::set<pid_t> signalled;
  for (int round = 0; round < kKillRounds; ++round) {
    auto pids = this->pids();
    if (!pids) return std::unexpected(pids.error());
    bool any = false;
    for (pid_t pid : *pids) {
      // SIGKILL is repeated for stragglers; other signals go once to each process.
      if (pid == self || (signal != SIGKILL && signalled.contains(pid))) continue;
      if (::kill(pid, signal) != 0 && errno != ESRCH) {
        return std::unexpected(errno_error(errno, "cannot send signal " + std::to_string(signal) +
                                                      " to pid " + std::to_string(pid) +
                                                      " of cgroup " + name_));
      }
      signalled.insert(pid);
      any = true;
    }
    if (!any) break;
    std::this_thread::sleep_for(kKillPause);
  }
  return {};
}

bool JobCgroup::holds(std::string_view proc_cgroup) const {
  std::string mine = "/" + parent_;
  while (mine.size() > 1 && mine.back() == '/') mine.pop_back();
  mine += "/" + name_;
  while (!proc_cgroup.empty()) {
    const std::size_t nl = proc_cgroup.find('\n');
    std::string_view line = proc_cgroup.substr(0, nl);
    proc_cgroup = nl == std::string_view::npos ? std::string_view{} : proc_cgroup.substr(nl + 1);
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view path = line.substr(second + 1);
    if (path == mine || (path.starts_with(mine) && path[mine.size()] == '/')) return true;
  }
  return false;
}

CgroupStats JobCgroup::stats() const {
  CgroupStats s;
  if (caps_.version == CgroupVersion::kV1) {
    if (caps_.cpu_accounting && !caps_.cpuacct_root.empty()) {
      s.cpu_time = std::chrono::nanoseconds(
          read_u64(fs_, join_path(dir(caps_.cpuacct_root), "cpuacct.usage")).value_or(0));
    }
    if (caps_.memory && !caps_.memory_root.empty()) {
      std::string job = dir(caps_.memory_root);
      s.memory_current_bytes = read_u64(fs_, join_path(job, "memory.usage_in_bytes")).value_or(0);
      s.memory_peak_bytes = read_u64(fs_, join_path(job, "memory.max_usage_in_bytes")).value_or(0);
      s.oom_kills = read_keyed(fs_, join_path(job, "memory.oom_control"), "oom_kill");
    }
    if (caps_.io && !caps_.blkio_root.empty()) {
      // "8:0 Read 4096" lines per device, then "Total N".
      if (auto text =
              fs_.read(join_path(dir(caps_.blkio_root), "blkio.throttle.io_service_bytes"))) {
        std::istringstream in(*text);
        std::string dev, op;
        std::uint64_t n = 0;
        while (in >> dev) {
          if (dev == "Total") {
            in >> n;
            continue;
          }
          if (!(in >> op >> n)) break;
          if (op == "Read") s.io_read_bytes += n;
          if (op == "Write") s.io_write_bytes += n;
        }
      }
    }
  } else if (caps_.version == CgroupVersion::kV2) {
    std::string job = dir(caps_.unified_root);
    s.cpu_time =
        std::chrono::microseconds(read_keyed(fs_, join_path(job, "cpu.stat"), "usage_usec"));
    s.memory_current_bytes = read_u64(fs_, join_path(job, "memory.current")).value_or(0);
    s.memory_peak_bytes = read_u64(fs_, join_path(job, "memory.peak")).value_or(0);
    s.oom_kills = read_keyed(fs_, join_path(job, "memory.events"), "oom_kill");
    if (auto text = fs_.read(join_path(job, "io.stat"))) {
      // "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 ..." per device.
      std::istringstream in(*text);
      std::string field;
      while (in >> field) {
        auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        const std::uint64_t n = std::strtoull(field.c_str() + eq + 1, nullptr, 10);
        if (field.compare(0, eq, "rbytes") == 0) s.io_read_bytes += n;
        if (field.compare(0, eq, "wbytes") == 0) s.io_write_bytes += n;
      }
    }
  }
  s.memory_peak_bytes = std::max(s.memory_peak_bytes, s.memory_current_bytes);
  return s;
}

Status JobCgroup::remove() const {
  std::optional<Error> first;
  int waits = 0;  // shared by all hierarchies: about a second in total
  for (auto it = roots_.rbegin(); it != roots_.rend(); ++it) {
    std::string path = fs_.resolve(dir(*it)).string();
    while (true) {
      if (::rmdir(path.c_str()) == 0 || errno == ENOENT) break;
      if (errno == EBUSY && waits < kRmdirAttempts) {
        ++waits;
        std::this_thread::sleep_for(kRmdirPause);
        continue;
      }
      if (!first) first = errno_error(errno, "cannot remove cgroup " + path);
      break;
    }
  }
  if (first) return std::unexpected(*first);
  return {};
}

Result<DeviceRule> device_rule_for(const std::string& dev_path, const std::string& access) {
  struct stat st {};
  if (::stat(dev_path.c_str(), &st) != 0) {
    return std::unexpected(errno_error(errno, "cannot stat device " + dev_path));
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return fail(ErrorCode::kInvalidArgument,
                dev_path + " is not a device node (expected a character or block device)");
  }
  DeviceRule rule{S_ISBLK(st.st_mode) ? 'b' : 'c', static_cast<int>(major(st.st_rdev)),
                  static_cast<int>(minor(st.st_rdev)), access};
  if (auto ok = validate_rule(rule); !ok) return std::unexpected(ok.error());
  return rule;
}

}  // namespace aion::sched
