// Jobs as JSON: the API's job resource and the stored form. Includes nlohmann::json, so only
// .cc files that speak JSON include this.
#pragma once

#include "aion/core/json.h"
#include "aion/sched/job.h"

namespace aion::sched {

Json to_json(const JobSpec& spec);
// Checks types and ranges ("resources.gpus must be an integer >= 0") and that the command is
// a non-empty list of strings; the node-level checks are check_request()'s.
Result<JobSpec> spec_from_json(const Json& j);

Json to_json(const Allocation& a);
Result<Allocation> allocation_from_json(const Json& j);

Json to_json(const Accounting& a);
Accounting accounting_from_json(const Json& j);

// The API's job object: everything in Job, with times as RFC 3339 and milliseconds.
Json to_json(const Job& job);

}  // namespace aion::sched
