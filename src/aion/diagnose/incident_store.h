// IncidentStore: incidents, their hypotheses and evidence, the jobs they explain, and the
// remediation audit log, in the daemon's SQLite database. The audit table is append-only:
// triggers refuse UPDATE and DELETE, so a record of who approved what cannot be rewritten
// through SQL either. Thread-safe (through the Store's mutex).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aion/core/clock.h"
#include "aion/diagnose/incident.h"
#include "aion/store/retention.h"
#include "aion/store/store.h"

namespace aion::diagnose {

struct AuditRecord {
  std::int64_t id = 0;
  std::int64_t time_ms = 0;
  std::int64_t incident_id = 0;
  std::string playbook;
  int step = 0;             // 1-based; 0 for the decision itself (approved / refused)
  std::string action;       // "drain_gpu", "reset_gpu", ..., or "approve" / "refuse"
  std::string command;      // what ran, argv joined with spaces ("" for internal actions)
  std::string approved_by;  // who approved ("" when refused)
  std::string caller;       // who asked
  std::string outcome;      // "ok", "failed", "refused", "skipped"
  std::string detail;
};

enum class IncidentFilter { kAll, kOpen, kResolved };

class IncidentStore {
 public:
  IncidentStore(store::Store& store, const Clock& clock);
  static std::span<const store::Migration> migrations();

  // Writes the incident as it is now (replacing its hypotheses and evidence) and removes
  // the incidents merged into it.
  Status save(const Incident& incident, const std::vector<std::int64_t>& merged = {});
  // Most recently updated first.
  Result<std::vector<Incident>> list(int limit = 50, IncidentFilter filter = IncidentFilter::kAll);
  // kNotFound naming the id.
  Result<Incident> get(std::int64_t id);
  Result<std::int64_t> max_id();
  // Marks an open incident resolved now by `by` with the note, and records it in the audit
  // log (action "resolve"), in one transaction. kNotFound; kConflict when it was resolved
  // already (saying by whom). Returns the incident as it now is.
  Result<Incident> resolve(std::int64_t id, const std::string& by, const std::string& note);
  // Deletes incidents that saw no evidence for longer than `retention` allows (and the
  // oldest beyond its row limit), with their hypotheses, evidence and job links; the audit
  // log is append-only and keeps its records. Returns how many incidents went.
  Result<std::int64_t> prune(const store::Retention& retention, std::int64_t now_ms);

  Result<std::int64_t> audit(AuditRecord record);
  Result<std::vector<AuditRecord>> audit_log(std::int64_t incident_id = 0);

 private:
  store::Store& store_;
  const Clock& clock_;
};

}  // namespace aion::diagnose
