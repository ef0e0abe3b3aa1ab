#include "aion/tune/job_tuning.h"

#include <unistd.h>

#include "aion/tune/profile.h"
#include "aion/tune/snapshot.h"

namespace aion::tune {

std::filesystem::path hold_dir(const std::filesystem::path& state_dir) {
  return snapshot_dir(state_dir).parent_path();
}

std::string boot_id(const HostFs& host) {
  auto id = host.read("/proc/sys/kernel/random/boot_id");
  if (!id) return "no-boot-id";
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status require_root(const HostFs& host, const std::string& what) {
  if (!host.is_live() || ::geteuid() == 0) return {};
  return fail(ErrorCode::kPermissionDenied,
              what + " changes kernel settings: run it as root (sudo)");
}

Result<Plan> plan_profile(const std::string& name, const HostFs& host,
                          const hw::Inventory& inventory) {
  auto catalog = ProfileCatalog::load(builtin_profile_dir(), host);
  if (!catalog) return std::unexpected(catalog.error());
  auto resolved = catalog->resolve(name);
  if (!resolved) return std::unexpected(resolved.error());
  auto ranges = KernelRanges::load(default_kernel_ranges_file());
  if (!ranges) return std::unexpected(ranges.error());
  auto plan = make_plan(*resolved, host, inventory, *ranges);
  if (!plan) {
    Error e = plan.error();
    e.context("profile " + name + " rejected, nothing was changed");
    return std::unexpected(std::move(e));
  }
  return plan;
}

Result<JobHold> hold_job_tuning(const JobTuningSite& site, const std::string& job,
                                const std::string& profile, bool named_by_user) {
  if (auto ok = require_root(site.host, "tuning job " + job + " with " + profile); !ok)
    return std::unexpected(ok.error());
  JobHold out;
  if (named_by_user) {
    auto catalog = ProfileCatalog::load(builtin_profile_dir(), site.host);
    if (!catalog) return std::unexpected(catalog.error());
    if (auto known = catalog->resolve(profile); !known) {
      out.outcome = JobHoldOutcome::kUnknownProfile;
      out.unknown_profile = known.error().message();
      return out;
    }
  }
  auto plan = plan_profile(profile, site.host, hw::discover(site.host, site.discovery));
  if (!plan) return std::unexpected(plan.error());
  const SnapshotStore store(snapshot_dir(site.state_dir));
  HoldStore holds(hold_dir(site.state_dir), boot_id(site.host));
  auto r = holds.acquire(job, profile, [&]() -> Result<ApplyReport> {
    ApplyOptions options;
    options.persist = false;  // job tuning ends with the job, and at the latest with the boot
    return apply(*plan, site.host, store, options);
  });
  if (!r) return std::unexpected(r.error());
  switch (r->outcome) {
    case AcquireOutcome::kApplied: out.outcome = JobHoldOutcome::kApplied; break;
    case AcquireOutcome::kJoined: out.outcome = JobHoldOutcome::kJoined; break;
    case AcquireOutcome::kConflict: out.outcome = JobHoldOutcome::kConflict; break;
    case AcquireOutcome::kFailed: out.outcome = JobHoldOutcome::kFailed; break;
  }
  out.hold = std::move(r->hold);
  out.report = std::move(r->report);
  return out;
}

Result<ReleaseResult> release_job_tuning(const JobTuningSite& site, const std::string& job,
                                         const std::string& note) {
  HoldStore holds(hold_dir(site.state_dir), boot_id(site.host));
  auto held = holds.current();
  if (held && !*held) return ReleaseResult{};  // nothing held: nothing to do, no root needed
  if (auto ok = require_root(site.host, "rolling back the tuning of job " + job); !ok)
    return std::unexpected(ok.error());
  const SnapshotStore store(snapshot_dir(site.state_dir));
  return holds.release(job, [&](const std::string& id) -> Result<RollbackReport> {
    auto snap = store.load(id);
    if (!snap) return std::unexpected(snap.error());
    // The snapshot knows which tree it was taken on.
    return rollback(*snap, HostFs(snap->host_root), store, note);
  });
}

}  // namespace aion::tune
