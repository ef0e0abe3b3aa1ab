// apply() and rollback(): change the machine to a plan's values with a snapshot first, and
// put it back exactly.
//
// apply: computes every attribute and drop-in file that must change, saves a snapshot of
// all of them (durably, before the first write), writes each value and reads it back. Each
// setting ends up applied, already set, unsupported here (the machine lacks it, or the
// kernel refuses to move a managed interrupt) or failed. When one write or read-back fails,
// everything already changed is restored from the snapshot before apply returns, so the
// machine is never left half-tuned; the report says what failed and why, and that it was
// rolled back. A plan with nothing to change keeps no snapshot. With `persist`, sysctls go
// to /etc/sysctl.d/90-aion-tune.conf and sysfs/procfs values to
// /etc/tmpfiles.d/aion-tune.conf, both part of the snapshot, so rollback removes them.
//
// rollback: restores every entry of a snapshot in reverse order and checks each by reading
// it back. Not thread-safe; the caller serialises applies (one CLI process at a time).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/tune/plan.h"
#include "aion/tune/snapshot.h"

namespace aion::tune {

enum class Outcome { kApplied, kAlreadySet, kUnsupported, kFailed, kRolledBack, kNotReached };
// "applied", "already set", "unsupported", "failed", "rolled back", "not reached".
std::string_view to_string(Outcome o);

struct TargetOutcome {
  std::string path;
  std::string before;
  std::string after;
  Outcome outcome = Outcome::kAlreadySet;
  std::string message;
};

struct SettingOutcome {
  ProfileSetting setting;
  Outcome outcome = Outcome::kAlreadySet;
  std::string message;
  std::vector<TargetOutcome> targets;
};

struct ApplyReport {
  std::string profile;
  std::string snapshot_id;  // "" when nothing had to change
  bool ok = true;
  bool rolled_back = false;
  std::string failure;                       // the first error, when !ok
  std::vector<std::string> rollback_errors;  // restores that did not hold (should be none)
  std::vector<SettingOutcome> settings;
  std::vector<std::string> dropins;  // files written for persistence
  int dropins_written = 0;           // drop-ins written or removed
};

struct ApplyOptions {
  bool persist = true;
  // Called before each write with its host path (progress on a TTY; tests inject faults).
  std::function<void(std::string_view path)> before_write;
  const Clock* clock = nullptr;  // nullptr: the system clock
};

// Applies the plan. Errors (not a report) only when the snapshot cannot be saved, in which
// case nothing was touched.
Result<ApplyReport> apply(const Plan& plan, const HostFs& host, const SnapshotStore& store,
                          const ApplyOptions& options = {});

struct RestoreOutcome {
  std::string setting;
  std::string path;
  std::string kind;
  std::string value;  // what it holds now
  bool ok = true;
  std::string message;
};

struct RollbackReport {
  std::string snapshot_id;
  std::string profile;
  bool ok = true;
  std::vector<RestoreOutcome> entries;
};

// Restores a snapshot through `host` (whose root must be the snapshot's) and marks it
// rolled back with `note`. Every entry is attempted even after one fails.
Result<RollbackReport> rollback(const Snapshot& snapshot, const HostFs& host,
                                const SnapshotStore& store, const std::string& note = "");

}  // namespace aion::tune
