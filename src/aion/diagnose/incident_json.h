// JSON for incidents: the shape of GET /v1/incidents/{id} and `aion incident ID --json`.
// Include from .cc files only (it pulls in nlohmann::json).
#pragma once

#include "aion/core/json.h"
#include "aion/diagnose/incident.h"

namespace aion::diagnose {

Json to_json(const Incident& incident);
// One line per incident, without the evidence: for lists.
Json summary_json(const Incident& incident);
Result<Incident> incident_from_json(const Json& j);

}  // namespace aion::diagnose
