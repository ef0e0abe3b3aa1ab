#include "aion/sched/job_sandbox.h"

#include <pwd.h>

#include <fstream>

#include <spdlog/spdlog.h>

#include "aion/guard/seccomp_filter.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

// The home directory of `uid` from the user database ("" when it has none).
std::string home_of(std::uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found || !pw.pw_dir)
    return "";
  return pw.pw_dir;
}

}  // namespace

GuardSite load_guard_site(const fs::path& site_dir, const fs::path& endpoints_file) {
  GuardSite site;
  if (auto p = guard::load_profiles(site_dir)) {
    site.profiles = std::move(*p);
  } else {
    site.profiles_error = p.error().message();
    spdlog::warn("event=guard_profiles_unavailable error=\"{}\"", site.profiles_error);
  }
  site.mechanisms = guard::probe_mechanisms();
  if (auto e = guard::load_endpoints(endpoints_file)) {
    site.endpoints = std::move(*e);
  } else {
    spdlog::warn("event=guard_endpoints_unavailable error=\"{}\"", e.error().message());
  }
  for (const auto& m : site.mechanisms.rows) {
    spdlog::info("event=guard_mechanism name={} available={} detail=\"{}\"", m.name, m.available,
                 m.detail);
  }
  return site;
}

Result<guard::SandboxPlan> plan_job_sandbox(const GuardSite& site, const JobSpec& spec,
                                            const std::vector<std::string>& device_nodes) {
  if (!site.profiles) {
    return fail(ErrorCode::kUnavailable,
                "sandbox profiles could not be loaded: " + site.profiles_error);
  }
  auto profile = site.profiles->find(spec.sandbox);
  if (!profile) return std::unexpected(profile.error());
  guard::JobContext job;
  job.workdir = spec.cwd.empty() ? "/" : spec.cwd;
  job.home = home_of(spec.uid);
  job.device_nodes = device_nodes;
  job.extra_allow = spec.allow_net;
  if (auto exe = resolve_command(spec)) job.program = *exe;
  if (!spec.allow_net.empty() && profile->network != guard::NetworkMode::kAllow) {
    return fail(ErrorCode::kInvalidArgument,
                "--allow-net adds to a profile whose network is \"allow\"; sandbox '" +
                    spec.sandbox + "' has network = \"" +
                    std::string(guard::to_string(profile->network)) + "\"");
  }
  return guard::plan_sandbox(*profile, site.mechanisms, job);
}

Result<std::unique_ptr<guard::EgressMonitor>> attach_egress(const guard::SandboxPlan& plan,
                                                            const std::string& cgroup_v2_dir) {
  if (!plan.egress_bpf) return nullptr;
  const bool enforce = plan.network == guard::NetworkMode::kAllow;
  if (cgroup_v2_dir.empty()) {
    if (!enforce) return nullptr;  // a record we cannot keep is a note, not a refusal
    return fail(ErrorCode::kUnsupported,
                "sandbox '" + plan.profile +
                    "': its network allow-list is enforced on the job's cgroup, and this job has "
                    "none in the cgroup2 hierarchy (sched.cgroups is off, or no cgroup2 is "
                    "mounted)");
  }
  guard::EgressPolicy policy;
  policy.mode = enforce ? guard::NetMode::kAllowList : guard::NetMode::kRecord;
  if (enforce) {
    auto rules = guard::resolve_allow(plan.allow);
    if (!rules) return std::unexpected(rules.error());
    if (rules->size() > guard::kMaxNetRules) {
      return fail(ErrorCode::kInvalidArgument,
                  "sandbox '" + plan.profile + "': " + std::to_string(rules->size()) +
                      " network rules once names are resolved; at most " +
                      std::to_string(guard::kMaxNetRules));
    }
    policy.allow = std::move(*rules);
  }
  return guard::EgressMonitor::attach(cgroup_v2_dir, policy);
}

Status write_sandbox(const guard::SandboxPlan& plan, const fs::path& dir, const RecordFn& rec) {
  rec("sb_profile", plan.profile);
  if (plan.no_new_privileges) rec("sb_nnp", "1");
  if (plan.private_tmp) {
    rec("sb_tmp", "1");
    for (const auto& k : plan.keep) rec("sb_keep", k);
  }
  if (plan.network == guard::NetworkMode::kNone || plan.network == guard::NetworkMode::kLoopback)
    rec("sb_net", guard::to_string(plan.network));
  if (plan.landlock_abi > 0) {
    rec("sb_landlock", std::to_string(plan.landlock_abi));
    for (const auto& p : plan.read_exec) rec("sb_rx", p);
    for (const auto& p : plan.read_only) rec("sb_ro", p);
    for (const auto& p : plan.read_write) rec("sb_rw", p);
  }
  if (plan.seccomp) {
    auto filter = guard::build_seccomp_filter(plan.deny_syscalls, plan.deny_new_namespaces);
    if (!filter) return std::unexpected(filter.error());
    for (const auto& u : filter->unknown)
      spdlog::debug("event=guard_syscall_unknown name={} profile={}", u, plan.profile);
    const fs::path file = dir / "seccomp.bpf";
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(filter->program.data(), static_cast<std::streamsize>(filter->program.size()));
    if (!out) return fail(ErrorCode::kIo, "cannot write " + file.string());
    rec("sb_seccomp", file.string());
  }
  return {};
}

}  // namespace aion::sched
