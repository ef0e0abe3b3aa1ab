// Job tuning: the workflow behind a batch system's prolog and epilog. The prolog holds a
// profile for a job (planned for this machine and applied without persistence, or joined when
// other jobs hold it already); the epilog releases the job's hold and rolls the profile back
// when it was the last holder. The policy lives here: a profile the job's user named that does
// not exist leaves the job untuned (a typo in a job's comment must not drain the node), and
// changing the live machine needs root.
//
// State: the holds (holds.h) in <state_dir>/tune, the snapshots (snapshot.h) in
// <state_dir>/tune/snapshots. No state of its own; thread-safe: concurrent prologs and epilogs
// (threads or processes) serialise on the hold store's lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "aion/tune/apply.h"
#include "aion/tune/holds.h"
#include "aion/tune/plan.h"

namespace aion::tune {

// The machine a job is tuned on and where the tuning state lives.
struct JobTuningSite {
  HostFs host;                      // "/" for the live machine, else a recorded tree
  std::filesystem::path state_dir;  // aiond's state directory (daemon.state_dir)
  hw::DiscoveryOptions discovery;   // how to discover the hardware a profile is planned for
};

// Where the holds of a site live: <state_dir>/tune.
std::filesystem::path hold_dir(const std::filesystem::path& state_dir);

// This boot's id (/proc/sys/kernel/random/boot_id through `host`), so that a hold from before
// a reboot is not joined; "no-boot-id" on a tree that has none.
std::string boot_id(const HostFs& host);

// Fails (kPermissionDenied, the message starting with `what`) when `host` is the live machine
// and this process is not root: kernel settings are root's to change.
Status require_root(const HostFs& host, const std::string& what);

// The plan of the catalog's profile `name` (shipped profiles and the site's, through `host`)
// for this machine, checked against the kernel ranges. Errors: the catalog or the ranges
// cannot be loaded (their file and line), an unknown profile (kNotFound), a profile the
// machine rejects (its message says that nothing was changed).
Result<Plan> plan_profile(const std::string& name, const HostFs& host,
                          const hw::Inventory& inventory);

enum class JobHoldOutcome {
  kApplied,         // the profile was applied for this job
  kJoined,          // it was already applied; the job joined its holders
  kConflict,        // another profile is held: the job runs with the node as it is
  kFailed,          // the apply failed and was rolled back: the node should not run the job
  kUnknownProfile,  // the job's user named a profile that does not exist: the job runs untuned
};

struct JobHold {
  JobHoldOutcome outcome = JobHoldOutcome::kFailed;
  Hold hold;                          // as it is now (the other profile's, for a conflict)
  std::optional<ApplyReport> report;  // when this call applied (or tried to)
  std::string unknown_profile;        // kUnknownProfile: why the name did not resolve
};

// Job `job` (its batch system's id) wants `profile`. `named_by_user`: the job's user named it
// (a misspelt name is kUnknownProfile, not an error); otherwise the operator did, and an
// unknown name is an error. Errors: not root on the live machine, a profile this machine
// rejects, state that cannot be read or written; nothing was changed then.
Result<JobHold> hold_job_tuning(const JobTuningSite& site, const std::string& job,
                                const std::string& profile, bool named_by_user);

// Job `job` ended: drops its hold and, when it was the last holder, rolls the profile back
// (the snapshot records `note` as why). A job that holds nothing is no error and needs no
// root (held = false). An incomplete rollback is in the result (rollback->ok false), the hold
// dropped all the same; `aion tune rollback ID` retries it.
Result<ReleaseResult> release_job_tuning(const JobTuningSite& site, const std::string& job,
                                         const std::string& note);

}  // namespace aion::tune
