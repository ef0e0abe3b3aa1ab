// Device filtering on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here and
// loaded with the bpf(2) system call (no libbpf), attached to a job's cgroup directory.
//
// The program refuses an access (EPERM) when a deny rule matches its type ('c'/'b'), major,
// minor (-1 = any) and shares an access letter with it; otherwise it allows the access when
// there is no allow-list, or when an allow rule matches and the requested access is a subset
// of the rule's "rwm". The attachment keeps the program alive, so no fd outlives these calls.
// Needs CAP_SYS_ADMIN (or CAP_BPF) and a kernel with CONFIG_CGROUP_BPF (4.15+). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/sched/cgroup.h"

namespace aion::sched {

// Loads (and unloads) a trivial device program: succeeds when bpf(2) lets this process
// install device filters; the error says why not (e.g. "Operation not permitted").
Status probe_device_filter();

// Attaches a program enforcing `allow` (nullopt = allow what deny does not refuse) and `deny`
// to the cgroup directory `cgroup_dir` (a real path, already resolved below any HostFs root),
// then detaches any program an earlier install_device_filter() left there, so re-applying
// limits to an adopted cgroup replaces the lists instead of narrowing them. Rules must be
// validated (type 'c'/'b', access letters from "rwm").
Status install_device_filter(const std::string& cgroup_dir,
                             const std::optional<std::vector<DeviceRule>>& allow,
                             const std::vector<DeviceRule>& deny);

// Detaches the programs install_device_filter() attached to `cgroup_dir`; others stay.
Status remove_device_filter(const std::string& cgroup_dir);

}  // namespace aion::sched
