// A job's sandbox as the JobManager runs it: the node's guard site (the sandbox profiles and
// what this kernel offers, both read once at start), the plan for one job (its profile with
// its working directory, home and devices), and the launch-file records and seccomp filter
// file aion-shim applies. A GuardSite is immutable once the JobManager has started; the
// functions only read it and are thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/guard/endpoints.h"
#include "aion/guard/mechanisms.h"
#include "aion/guard/plan.h"
#include "aion/guard/profile.h"
#include "aion/sched/job.h"

namespace aion::sched {

struct GuardSite {
  std::optional<guard::ProfileCatalog> profiles;  // none: profiles_error says why
  std::string profiles_error;
  guard::Mechanisms mechanisms;
  guard::EndpointTable endpoints;  // names for the egress record (empty when unreadable)
};

// Loads the profiles (shipped and `site_dir`) and the endpoint names (shipped and
// `endpoints_file`), and probes the mechanisms.
GuardSite load_guard_site(const std::filesystem::path& site_dir,
                          const std::filesystem::path& endpoints_file);

// The plan of `spec`'s sandbox for a job given `device_nodes`. Errors: no such profile, the
// profiles could not be loaded, a working directory a sandbox cannot be built around, or a
// profile this machine cannot enforce (it refuses).
Result<guard::SandboxPlan> plan_job_sandbox(const GuardSite& site, const JobSpec& spec,
                                            const std::vector<std::string>& device_nodes);

// Attaches the job's network policy and egress record to its cgroup in the unified hierarchy
// (`cgroup_v2_dir`, "" when it has none). nullptr when the plan keeps neither; an error when
// its allow-list cannot be enforced (no cgroup2 directory, a name that does not resolve).
Result<std::unique_ptr<guard::EgressMonitor>> attach_egress(const guard::SandboxPlan& plan,
                                                            const std::string& cgroup_v2_dir);

// Writes `dir`/seccomp.bpf (when the plan filters system calls) and hands each sb_* launch
// record to `rec`.
using RecordFn = std::function<void(std::string_view key, std::string_view value)>;
Status write_sandbox(const guard::SandboxPlan& plan, const std::filesystem::path& dir,
                     const RecordFn& rec);

}  // namespace aion::sched
