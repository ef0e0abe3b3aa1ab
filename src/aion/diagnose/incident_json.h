// JSON for incidents, remediation plans and outcomes, audit records and doctor checks: the
// shapes of the /v1/incidents and /v1/doctor routes and of the CLI's --json output.
// Include from .cc files only (it pulls in nlohmann::json). Pure functions; thread-safe.
#pragma once

#include "aion/core/json.h"
#include "aion/diagnose/doctor.h"
#include "aion/diagnose/incident.h"
#include "aion/diagnose/incident_store.h"
#include "aion/diagnose/remediation.h"

namespace aion::diagnose {

Json to_json(const Incident& incident);
// One line per incident, without the evidence: for lists.
Json summary_json(const Incident& incident);

// The text a hypothesis takes from its signature (title, component, severity, meaning,
// collect, action, playbook, source) as one JSON object, and back (a missing key leaves the
// field empty). Part of every hypothesis' JSON; the store keeps it as one column.
Json hypothesis_text_json(const Hypothesis& h);
void read_hypothesis_text(const Json& j, Hypothesis& h);

Json to_json(const RemediateOutcome& outcome);
Json to_json(const AuditRecord& record);
// {"status": "ok|warn|fail", "checks": [...]}
Json doctor_json(const std::vector<DoctorCheck>& checks);

}  // namespace aion::diagnose
