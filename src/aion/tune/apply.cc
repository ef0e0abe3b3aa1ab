#include "aion/tune/apply.h"

#include <algorithm>
#include <map>
#include <set>

namespace aion::tune {

namespace {

std::string kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kInt: return "int";
    case ValueKind::kInts: return "ints";
    case ValueKind::kWord: return "word";
    case ValueKind::kChoice: return "choice";
    case ValueKind::kCpuList: return "cpulist";
  }
  return "word";
}

ValueKind kind_from(std::string_view s) {
  if (s == "int") return ValueKind::kInt;
  if (s == "ints") return ValueKind::kInts;
  if (s == "choice") return ValueKind::kChoice;
  if (s == "cpulist") return ValueKind::kCpuList;
  return ValueKind::kWord;
}

// Drop-in files the plan wants, by path; "" means the file should not exist.
std::vector<std::pair<std::string, std::string>> wanted_dropins(const Plan& plan) {
  return {{std::string(kSysctlDropin), sysctl_dropin(plan)},
          {std::string(kTmpfilesDropin), tmpfiles_dropin(plan)}};
}

bool dropin_differs(const HostFs& host, const std::string& path, const std::string& content) {
  auto cur = host.read(path, 1 << 20);
  if (!cur) return !content.empty();
  return *cur != content;
}

// The ancestors of a host path that do not exist, outermost first.
std::vector<std::string> missing_dirs(const HostFs& host, const std::string& path) {
  std::vector<std::string> out;
  std::string dir = path.substr(0, path.rfind('/'));
  while (!dir.empty() && !host.exists(dir)) {
    out.insert(out.begin(), dir);
    dir = dir.substr(0, dir.rfind('/'));
  }
  return out;
}

Outcome summarize(const std::vector<TargetOutcome>& targets) {
  bool any_applied = false, all_unsupported = !targets.empty();
  for (const auto& t : targets) {
    if (t.outcome == Outcome::kFailed) return Outcome::kFailed;
    any_applied = any_applied || t.outcome == Outcome::kApplied;
    all_unsupported = all_unsupported && t.outcome == Outcome::kUnsupported;
  }
  if (any_applied) return Outcome::kApplied;
  return all_unsupported ? Outcome::kUnsupported : Outcome::kAlreadySet;
}

// Writes one target and reads it back.
// `written` says whether the attribute may have changed (and must be restored on failure).
TargetOutcome write_target(const Target& t, const HostFs& host, const ApplyOptions& options,
                           bool& written) {
  TargetOutcome o{t.path, t.current, t.current, Outcome::kAlreadySet, ""};
  written = false;
  if (!t.needs_change()) return o;
  if (options.before_write) options.before_write(t.path);
  auto st = host.write(t.path, t.want);
  written = st.has_value();
  if (!st) {
    ErrorCode c = st.error().code();
    // Linux refuses to move managed and per-CPU interrupts with EPERM (EIO before 6.x) even
    // for root, and EINVAL for a mask it cannot honour.
    if (t.refusable && (c == ErrorCode::kIo || c == ErrorCode::kInvalidArgument ||
                        c == ErrorCode::kPermissionDenied)) {
      o.outcome = Outcome::kUnsupported;
      o.message =
          "the kernel keeps this one (managed or per-CPU interrupt): " + st.error().message();
      return o;
    }
    o.outcome = Outcome::kFailed;
    o.message = st.error().message();
    return o;
  }
  auto back = host.read(t.path, 1 << 20);
  if (!back) {
    o.outcome = Outcome::kFailed;
    o.message = "reading back: " + back.error().message();
    return o;
  }
  o.after = normalize(t.kind, *back);
  if (o.after != t.want) {
    o.outcome = Outcome::kFailed;
    o.message = "wrote '" + t.want + "' to " + host.resolve(t.path).string() +
                " but it reads back '" + o.after + "'";
    if (t.path.find("nr_hugepages") != std::string::npos) {
      o.message +=
          " (the kernel could not find that much contiguous memory; reserve "
          "hugepages at boot with hugepages= on the kernel command line)";
    }
    return o;
  }
  o.outcome = Outcome::kApplied;
  return o;
}

Snapshot make_snapshot(const Plan& plan, const HostFs& host, const SnapshotStore& store,
                       const ApplyOptions& options) {
  const Clock& clock = options.clock ? *options.clock : Clock::system();
  Snapshot s;
  s.profile = plan.profile;
  s.host_root = host.root().string();
  s.created_ms = to_unix_ms(clock.wall());
  s.created = format_rfc3339(clock.wall());
  s.id = store.new_id(plan.profile, s.created_ms);
  s.state = "applying";
  std::set<std::string> seen;
  for (const auto& ps : plan.settings) {
    if (!ps.unsupported.empty()) continue;
    for (const auto& t : ps.targets) {
      if (!t.needs_change() || !seen.insert(t.path).second) continue;
      s.entries.push_back({ps.setting.key, t.path, "attr", true, t.raw, normalize(t.kind, t.raw),
                           kind_name(t.kind)});
    }
  }
  if (options.persist) {
    for (const auto& [path, content] : wanted_dropins(plan)) {
      if (!dropin_differs(host, path, content)) continue;
      for (const auto& d : missing_dirs(host, path))
        s.entries.push_back({"", d, "dir", false, "", "", ""});
      auto cur = host.read(path, 1 << 20);
      s.entries.push_back({"", path, "file", cur.has_value(), cur.value_or(""), "", ""});
    }
  }
  return s;
}

// Puts one entry back; a no-op when it already holds its original value.
RestoreOutcome restore_entry(const SnapshotEntry& e, const HostFs& host) {
  RestoreOutcome o{e.setting, e.path, e.kind, "", true, ""};
  auto failed = [&](const std::string& msg) {
    o.ok = false;
    o.message = msg;
    return o;
  };
  if (e.kind == "dir") {
    if (e.existed || !host.exists(e.path)) return o;
    if (auto st = host.remove_dir(e.path); !st) return failed(st.error().message());
    return o;
  }
  if (e.kind == "file") {
    auto cur = host.read(e.path, 1 << 20);
    if (!e.existed) {
      if (!cur && !host.exists(e.path)) return o;
      if (auto st = host.remove(e.path); !st) return failed(st.error().message());
      return o;
    }
    if (cur && *cur == e.original) return o;
    if (auto st = host.write_atomic(e.path, e.original); !st) return failed(st.error().message());
    return o;
  }
  ValueKind kind = kind_from(e.value_kind);
  bool exact = !host.is_kernel_attr(e.path);  // a regular file: restore its bytes
  std::string want = normalize(kind, e.original);
  auto cur = host.read(e.path, 1 << 20);
  if (cur && (exact ? *cur == e.original : normalize(kind, *cur) == want)) {
    o.value = normalize(kind, *cur);
    return o;
  }
  if (auto st = host.write(e.path, exact ? e.original : e.restore); !st)
    return failed(st.error().message());
  auto back = host.read(e.path, 1 << 20);
  if (!back) return failed("reading back: " + back.error().message());
  o.value = normalize(kind, *back);
  if (exact ? *back != e.original : o.value != want) {
    return failed("wrote '" + e.restore + "' back but it reads '" + o.value + "'");
  }
  return o;
}

Result<RollbackReport> restore(const Snapshot& snapshot, const HostFs& host,
                               const SnapshotStore& store, const std::string& note,
                               const std::set<std::string>* only);

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kApplied: return "applied";
    case Outcome::kAlreadySet: return "already set";
    case Outcome::kUnsupported: return "unsupported";
    case Outcome::kFailed: return "failed";
    case Outcome::kRolledBack: return "rolled back";
    case Outcome::kNotReached: return "not reached";
  }
  return "?";
}

namespace {

// The report before anything is done: every setting, unsupported ones already settled.
ApplyReport initial_report(const Plan& plan) {
  ApplyReport report;
  report.profile = plan.profile;
  for (const auto& ps : plan.settings) {
    SettingOutcome so;
    so.setting = ps.setting;
    if (!ps.unsupported.empty()) {
      so.outcome = Outcome::kUnsupported;
      so.message = ps.unsupported;
    }
    report.settings.push_back(std::move(so));
  }
  return report;
}

// True when neither an attribute nor (with persist) a drop-in file needs a change; then
// every supported target is reported as already set.
bool all_already_set(const Plan& plan, const HostFs& host, const ApplyOptions& options,
                     ApplyReport& report) {
  bool dropins_differ = false;
  if (options.persist) {
    for (const auto& [path, content] : wanted_dropins(plan))
      dropins_differ = dropins_differ || dropin_differs(host, path, content);
  }
  if (plan.needs_change() || dropins_differ) return false;
  for (std::size_t i = 0; i < plan.settings.size(); ++i) {
    if (report.settings[i].outcome == Outcome::kUnsupported) continue;
    for (const auto& t : plan.settings[i].targets)
      report.settings[i].targets.push_back(
          {t.path, t.current, t.current, Outcome::kAlreadySet, ""});
  }
  return true;
}

// Writes the settings in plan order until one fails; returns the index of the failed
// setting (plan.settings.size() when none did). `touched` gets every attribute written.
std::size_t write_settings(const Plan& plan, const HostFs& host, const ApplyOptions& options,
                           ApplyReport& report, std::set<std::string>& touched) {
  std::size_t failed_at = plan.settings.size();
  for (std::size_t i = 0; i < plan.settings.size() && report.ok; ++i) {
    const PlannedSetting& ps = plan.settings[i];
    SettingOutcome& so = report.settings[i];
    if (!ps.unsupported.empty()) continue;
    for (const auto& t : ps.targets) {
      bool written = false;
      TargetOutcome to = write_target(t, host, options, written);
      if (written) touched.insert(t.path);
      bool failed = to.outcome == Outcome::kFailed;
      if (failed) {
        report.ok = false;
        report.failure = ps.setting.key + " (" + ps.setting.file + "): " + to.message;
        so.message = to.message;
        failed_at = i;
      }
      so.targets.push_back(std::move(to));
      if (failed) break;
    }
    so.outcome = summarize(so.targets);
    if (so.outcome == Outcome::kUnsupported && so.message.empty())
      so.message = so.targets.front().message;
  }
  return failed_at;
}

// Writes (or removes) the drop-in files that differ from what the plan wants.
void persist_dropins(const Plan& plan, const HostFs& host, const ApplyOptions& options,
                     ApplyReport& report) {
  for (const auto& [path, content] : wanted_dropins(plan)) {
    if (!dropin_differs(host, path, content)) continue;
    if (options.before_write) options.before_write(path);
    Status st = content.empty() ? host.remove(path) : host.write_atomic(path, content);
    if (!st) {
      report.ok = false;
      report.failure = "persisting to " + path + ": " + st.error().message();
      break;
    }
    ++report.dropins_written;
    if (!content.empty()) report.dropins.push_back(path);
  }
}

// After a failure: puts back everything the snapshot holds of what was touched, and marks
// the settings rolled back or not reached.
void roll_back_failed(const Plan& plan, const Snapshot& snap, const HostFs& host,
                      const SnapshotStore& store, const std::set<std::string>& touched,
                      std::size_t failed_at, ApplyReport& report) {
  report.rolled_back = true;
  auto rb = restore(snap, host, store, "automatic, after: " + report.failure, &touched);
  if (!rb) {
    report.rollback_errors.push_back(rb.error().message());
  } else {
    for (const auto& e : rb->entries) {
      if (!e.ok) report.rollback_errors.push_back(e.path + ": " + e.message);
    }
  }
  for (std::size_t i = 0; i < report.settings.size(); ++i) {
    SettingOutcome& so = report.settings[i];
    if (i > failed_at && plan.settings[i].needs_change()) so.outcome = Outcome::kNotReached;
    if (so.outcome == Outcome::kApplied) so.outcome = Outcome::kRolledBack;
  }
}

}  // namespace

Result<ApplyReport> apply(const Plan& plan, const HostFs& host, const SnapshotStore& store,
                          const ApplyOptions& options) {
  ApplyReport report = initial_report(plan);
  if (all_already_set(plan, host, options, report)) return report;

  Snapshot snap = make_snapshot(plan, host, store, options);
  if (auto st = store.save(snap); !st) {
    Error e = st.error();
    e.context("saving the snapshot before changing anything (nothing was changed)");
    return std::unexpected(e);
  }
  report.snapshot_id = snap.id;

  std::set<std::string> touched;  // attributes written so far
  const std::size_t failed_at = write_settings(plan, host, options, report, touched);
  if (report.ok && options.persist) persist_dropins(plan, host, options, report);

  if (report.ok && touched.empty() && report.dropins_written == 0) {
    // Every write was refused by the kernel (interrupts it keeps): nothing changed, so
    // there is nothing to roll back either.
    if (auto st = store.remove(snap.id); st) report.snapshot_id.clear();
    return report;
  }
  if (report.ok) {
    snap.state = "applied";
    if (auto st = store.save(snap); !st) {
      report.ok = false;
      report.failure = "marking snapshot " + snap.id + " applied: " + st.error().message();
    } else {
      return report;
    }
  }
  roll_back_failed(plan, snap, host, store, touched, failed_at, report);
  return report;
}

Result<RollbackReport> rollback(const Snapshot& snapshot, const HostFs& host,
                                const SnapshotStore& store, const std::string& note) {
  return restore(snapshot, host, store, note, nullptr);
}

namespace {

// Restores the snapshot's entries; with `only`, attributes not in it are left alone (they
// were never written: a missing one cannot be restored and need not be).
Result<RollbackReport> restore(const Snapshot& snapshot, const HostFs& host,
                               const SnapshotStore& store, const std::string& note,
                               const std::set<std::string>* only) {
  if (host.root().string() != snapshot.host_root) {
    return fail(ErrorCode::kInvalidArgument, "snapshot " + snapshot.id +
                                                 " was taken on host root " + snapshot.host_root +
                                                 ", not " + host.root().string() +
                                                 " (pass --host-root " + snapshot.host_root + ")");
  }
  RollbackReport r;
  r.snapshot_id = snapshot.id;
  r.profile = snapshot.profile;
  for (auto it = snapshot.entries.rbegin(); it != snapshot.entries.rend(); ++it) {
    if (only && it->kind == "attr" && !only->count(it->path)) continue;
    RestoreOutcome o = restore_entry(*it, host);
    r.ok = r.ok && o.ok;
    r.entries.push_back(std::move(o));
  }
  std::reverse(r.entries.begin(), r.entries.end());
  Snapshot done = snapshot;
  if (r.ok) {
    done.state = "rolled-back";
    done.note = note.empty() ? "by aion tune rollback" : note;
  } else {
    done.note = "rollback incomplete; run `aion tune rollback " + snapshot.id + "` again";
  }
  if (auto st = store.save(done); !st) return std::unexpected(st.error());
  return r;
}

}  // namespace

}  // namespace aion::tune
