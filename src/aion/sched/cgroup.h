// Job cgroups on cgroup v1 (per-controller hierarchies: cpuset, memory, devices, cpuacct,
// pids) and cgroup v2 (the unified hierarchy). detect_cgroups() says which one the machine
// runs; the rest of aion sees one interface.
//
// A job's cgroup is <parent>/<name> below the root of every hierarchy aion uses, where parent
// is `sched.cgroup_parent` ("aion.jobs" by default; may have several levels). To live in a
// subtree systemd delegated to aiond (v2, Delegate=yes), the caller passes that subtree as
// part of parent ("system.slice/aiond.service/aion.jobs"). Controllers the machine lacks are
// skipped (detect_cgroups() notes them once); everything else that fails is an error.
//
// Device isolation: on v1 the devices controller ("a *:* rwm" denied, then each allowed
// major:minor); on v2 a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the job's cgroup,
// built and loaded with the bpf(2) system call (no libbpf). Where neither is available (no
// devices controller and bpf(2) refused, e.g. in an unprivileged container) the job gets
// only the environment variables (CUDA_VISIBLE_DEVICES and its kin) and
// CgroupCaps::device_isolation says so; aiond logs it once at start and `aion show` marks it.
//
// All file access goes through HostFs, so the tree can be a test directory; only the BPF part
// needs the real kernel.
//
// Thread-safe: detect_cgroups() and device_rule_for() keep no state, and a JobCgroup is
// immutable once made (its members are const and act only on the kernel's files), so copies
// may be used from any thread (the telemetry thread reads stats() of the scheduler's jobs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"

namespace aion::sched {

enum class CgroupVersion { kNone, kV1, kV2 };

// The values of CgroupCaps::device_isolation.
inline constexpr std::string_view kDevicesCgroupV1 = "devices-cgroup-v1";
inline constexpr std::string_view kBpfCgroupDevice = "bpf-cgroup-device";
inline constexpr std::string_view kNoDeviceIsolation = "none (environment variables only)";

struct CgroupCaps {
  CgroupVersion version = CgroupVersion::kNone;
  // Mount points (host paths, e.g. "/sys/fs/cgroup/cpuset" on v1, "/sys/fs/cgroup" on v2).
  std::string cpuset_root, memory_root, devices_root, cpuacct_root, pids_root, unified_root;
  std::string blkio_root;  // v1 blkio; on v2 the unified root when the io controller is there
  bool cpuset = false, memory = false, cpu_accounting = false, pids = false;
  bool io = false;  // I/O accounting (v1 blkio, v2 io)
  // "devices-cgroup-v1", "bpf-cgroup-device", or "none (environment variables only)".
  std::string device_isolation;
  std::vector<std::string> notes;  // what is missing and why, for the start log
  // Set by the caller: on v1, jobs also get a cgroup in the unified hierarchy where one is
  // mounted (cgroup BPF programs such as the network policy attach there).
  bool join_unified = false;
};

// Reads /proc/self/mountinfo (or /proc/mounts) under the HostFs root. A hybrid setup (v1
// controllers plus an empty cgroup2 at /sys/fs/cgroup/unified) is v1 for the controllers;
// the unified mount is still used for the BPF device program when the devices controller
// is missing. On v2 the controller roots are all the unified root and the flags say which
// controllers its cgroup.controllers lists. bpf(2) is probed only on the live machine (a
// test tree gets kNoDeviceIsolation on v2). kNone (nothing mounted) is not an error.
Result<CgroupCaps> detect_cgroups(const HostFs& fs);

// A character/block device a job may use.
struct DeviceRule {
  char type = 'c';  // 'c' or 'b'
  int major = 0;
  int minor = -1;  // -1 = any minor
  std::string access = "rwm";
};

struct CgroupLimits {
  std::string cpus;                // cpulist "0-3,8"; "" = inherit
  std::string mems;                // NUMA nodes "0,1"; "" = inherit
  std::uint64_t memory_bytes = 0;  // 0 = no limit
  bool swap = false;               // false: memory+swap limited to memory_bytes too
  std::int64_t pids_max = 0;       // 0 = no limit
  // Device allow-list. nullopt = no device restriction. Otherwise everything is denied
  // except these rules and the usual safe set (null, zero, full, random, urandom, tty,
  // console, ptmx, pts/*), which is always added.
  std::optional<std::vector<DeviceRule>> devices;
  // Device deny-list, checked before the allow-list: these nodes are refused even where the
  // allow-list (or its absence) would let them through; e.g. the accelerators a job was not
  // given, with every other node left usable. A deny rule refuses the accesses it names.
  // v1 limit: the devices controller cannot cut a deny rule out of an allow rule with a
  // wildcard ("c 195:* rwm" allowed, "c 195:1 rwm" denied still allows 195:1); BPF can.
  std::vector<DeviceRule> deny_devices;
};

struct CgroupStats {
  std::chrono::nanoseconds cpu_time{0};  // user + system of all tasks, ever
  std::uint64_t memory_peak_bytes = 0;   // max_usage_in_bytes (v1) / memory.peak (v2, 5.19+)
  std::uint64_t memory_current_bytes = 0;
  std::uint64_t oom_kills = 0;  // memory.oom_control oom_kill (v1) / memory.events
  // Bytes read and written on block devices: blkio.throttle.io_service_bytes (v1), io.stat
  // rbytes/wbytes (v2); 0 without I/O accounting.
  std::uint64_t io_read_bytes = 0;
  std::uint64_t io_write_bytes = 0;
};

class JobCgroup {
 public:
  // Creates the cgroup (every hierarchy) and applies the limits. Fails with a message naming
  // the file that could not be written. An existing cgroup of that name is reused (adoption).
  static Result<JobCgroup> create(const HostFs& fs, const CgroupCaps& caps,
                                  const std::string& parent, const std::string& name,
                                  const CgroupLimits& limits);
  // Opens an existing one (after a daemon restart); kNotFound when it is gone.
  static Result<JobCgroup> open(const HostFs& fs, const CgroupCaps& caps, const std::string& parent,
                                const std::string& name);

  // Moves a process into the cgroup (every hierarchy). A job joins through procs_files()
  // instead (its shim writes its own pid); tests use this to put a process of theirs in.
  Status attach(pid_t pid) const;
  // The cgroup.procs file of every hierarchy (real paths, below the HostFs root), for a
  // launcher that writes its own pid into each before it execs the job.
  std::vector<std::string> procs_files() const;
  // Pids in the cgroup now (cgroup.procs of the memory or unified hierarchy).
  Result<std::vector<pid_t>> pids() const;
  // Signals every process in it (never the caller itself), re-reading the list a few times to
  // catch children forked meanwhile; SIGKILL uses cgroup.kill where the kernel has it (5.14+).
  // Does not wait for the processes to exit.
  Status kill_all(int signal) const;
  // True when a /proc/PID/cgroup text ("ID:CONTROLLERS:PATH" per hierarchy) puts the process
  // in this cgroup or one below it in any hierarchy. The path must be exactly
  // /<parent>/<name>[/...]: a cgroup of that name elsewhere (a user's delegated subtree) is
  // not the job's.
  bool holds(std::string_view proc_cgroup) const;
  // Counters the kernel keeps; a missing file reads as 0.
  CgroupStats stats() const;
  // Removes the (empty) cgroup from every hierarchy; retries for about a second while tasks
  // exit (EBUSY). A cgroup already gone is not an error. The parent is left in place.
  Status remove() const;

  const std::string& name() const { return name_; }
  // The job's directory in the unified hierarchy (a real path), "" when it has none.
  std::string unified_dir() const;

 private:
  JobCgroup(const HostFs& fs, const CgroupCaps& caps, std::string parent, std::string name);
  // Host path of the job's directory below a hierarchy's mount point.
  std::string dir(const std::string& root) const;
  bool bpf_devices() const;  // device filter via BPF on the unified hierarchy
  Status create_dirs(bool& adopted, std::vector<std::string>& created) const;
  Status apply_v1(const CgroupLimits& limits, bool adopted) const;
  Status apply_v2(const CgroupLimits& limits, bool adopted) const;
  Status apply_devices_bpf(const CgroupLimits& limits, bool adopted) const;

  HostFs fs_{"/"};
  CgroupCaps caps_;
  std::string parent_;
  std::string name_;
  std::vector<std::string> roots_;  // mount points of the hierarchies the job lives in
  std::string procs_root_;          // the hierarchy whose cgroup.procs pids() reads
};

// Major:minor of a device node (stat), e.g. for /dev/nvidia0.
Result<DeviceRule> device_rule_for(const std::string& dev_path, const std::string& access = "rwm");

}  // namespace aion::sched
