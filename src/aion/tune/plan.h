// Plan: what a resolved profile would change on this host, checked before anything is
// touched.
//
// Each profile setting expands to the kernel attributes it governs on this machine (its
// targets: one per CPU for the governor, one per NUMA node for hugepages, one per interrupt
// for IRQ affinity, ...), with the current value read through HostFs and the value wanted.
// The setting keys aion knows:
//   sysctl.<name>                 /proc/sys/<name with / for .>   (vm.swappiness, ...)
//   thp.enabled, thp.defrag       /sys/kernel/mm/transparent_hugepage/{enabled,defrag}
//   hugepages.<size>kB            nr_hugepages of every NUMA node: a count per node or "N%"
//                                 of each node's memory
//   cpu.governor                  cpufreq scaling_governor of every CPU
//   cpu.energy_perf_preference    cpufreq energy_performance_preference of every CPU
//   cpu.resume_latency_us         PM QoS resume latency of every CPU (limits C-states)
//   irq.nic_affinity              "numa-local" or "gpu-local": the interrupts of each NIC go
//                                 to the CPUs of its NUMA node, or of its nearest GPU's node
//   irq.isolate                   "auto" or a CPU list of serving cores: every interrupt the
//                                 kernel lets us move goes to the other CPUs ("auto": all but
//                                 the first CPU of each NUMA node serve)
//   block.scheduler, block.read_ahead_kb   queue/ attributes of every disk (no loop, ram,
//                                 zram, device-mapper or md devices)
//   net.tx_queue_len, net.gro_flush_timeout, net.napi_defer_hard_irqs   of every NIC with a
//                                 device behind it (ring sizes and coalescing have no sysfs
//                                 interface; ethtool sets them)
// Integer sysctls and block.read_ahead_kb accept ">=N": raise to N, leave a larger value
// alone. cpu.governor and cpu.energy_perf_preference accept "a|b|c": the first the CPU offers.
// Validation rejects, naming the profile file, line and key: a value outside the kernel's
// range (data/tune/kernel_ranges.toml), a number that does not parse, a word the kernel does
// not offer (governor, scheduler, THP mode), a CPU that is not online. A setting this machine
// lacks (no cpufreq in a VM, no such sysctl) is not an error: it is marked unsupported.
// make_plan() only reads the host and the profile; thread-safe. A Plan is a plain value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/tune/attr_value.h"
#include "aion/tune/dropin.h"
#include "aion/tune/kernel_ranges.h"
#include "aion/tune/profile.h"

namespace aion::tune {

struct Target {
  std::string path;  // host path of the attribute
  ValueKind kind = ValueKind::kWord;
  std::string raw;      // the attribute's bytes as read
  std::string current;  // normalize(kind, raw)
  std::string want;     // normalised value to write
  // The kernel may refuse the write for reasons of its own (managed or per-CPU interrupts);
  // such a refusal makes this target unsupported rather than failing the apply.
  bool refusable = false;
  // The value is satisfied when the current CPU list is a subset of `want` (irq.isolate).
  bool subset_ok = false;
  // Written back, a smaller number than wanted means the kernel could not do it all
  // (hugepages): said so in the failure.
  bool needs_change() const;
};

struct PlannedSetting {
  ProfileSetting setting;
  std::vector<Target> targets;
  std::string unsupported;  // non-empty: why this setting does not apply on this machine
  bool needs_change() const;
};

struct Plan {
  std::string profile;
  std::vector<PlannedSetting> settings;
  bool needs_change() const;
};

// Expands and validates every setting against the machine. Reads only.
Result<Plan> make_plan(const ResolvedProfile& profile, const HostFs& host,
                       const hw::Inventory& inventory, const KernelRanges& ranges);

bool known_setting_key(std::string_view key);
std::string known_setting_keys_help();

}  // namespace aion::tune
