// Tuning held on behalf of batch jobs: a Slurm prolog applies the profile a job asks for and
// the epilog releases it; the profile is rolled back when the last job holding it ends.
//
// One profile at a time per node: a job asking for the profile already held joins the holders
// (nothing is applied again); a job asking for another one while it is held runs with the
// node as it is (a conflict, reported, not an error: two jobs sharing a node cannot both own
// its kernel settings). The state is <dir>/holds.json, read and written under an exclusive
// flock on <dir>/holds.lock, so that prologs and epilogs of concurrent jobs serialize. A hold
// records the boot it was made in: after a reboot the kernel settings are gone (job tuning is
// applied without persistence), so an old hold is dropped instead of being joined.
// Thread-safe, and safe across processes: a HoldStore is immutable and every call takes the
// flock on an open file description of its own.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/tune/apply.h"

namespace aion::tune {

struct Hold {
  std::string profile;
  std::string snapshot_id;        // "" when the profile changed nothing (nothing to roll back)
  std::string boot_id;            // /proc/sys/kernel/random/boot_id when it was applied
  std::vector<std::string> jobs;  // who holds it, in arrival order
};

enum class AcquireOutcome { kApplied, kJoined, kConflict, kFailed };
// "applied", "joined", "conflict", "failed".
std::string_view to_string(AcquireOutcome o);

struct AcquireResult {
  AcquireOutcome outcome = AcquireOutcome::kFailed;
  Hold hold;                          // the hold as it is now (the other one, for a conflict)
  std::optional<ApplyReport> report;  // when this call applied (or tried to)
  bool dropped_stale = false;         // a hold from an earlier boot was discarded
};

struct ReleaseResult {
  bool held = false;  // the job was a holder
  bool last = false;  // it was the last one: the profile was rolled back
  Hold hold;          // as it was before the release
  std::optional<RollbackReport> rollback;
};

class HoldStore {
 public:
  // `dir`: where holds.json and holds.lock live (made 0700 when missing). `boot_id`: this
  // boot's id (HostFs read of /proc/sys/kernel/random/boot_id; any stable string in tests).
  HoldStore(std::filesystem::path dir, std::string boot_id);

  // Job `job` wants `profile`. `apply_profile` is called (under the lock) only when nothing
  // is held; a report that is not ok leaves nothing held (apply rolled itself back) and gives
  // kFailed. Errors: the lock or the state file cannot be used, or apply_profile failed
  // before touching anything.
  Result<AcquireResult> acquire(const std::string& job, const std::string& profile,
                                const std::function<Result<ApplyReport>()>& apply_profile) const;

  // Job `job` ended. When it was the last holder and the hold has a snapshot,
  // `rollback_snapshot(id)` restores it (under the lock). A job that holds nothing is not an
  // error (held = false). The hold is dropped even when the rollback is incomplete (the report
  // says what did not hold; `aion tune rollback ID` retries).
  Result<ReleaseResult> release(
      const std::string& job,
      const std::function<Result<RollbackReport>(const std::string& snapshot_id)>&
          rollback_snapshot) const;

  // The hold now (none when nothing is held), without locking for long.
  Result<std::optional<Hold>> current() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string boot_id_;
};

}  // namespace aion::tune
