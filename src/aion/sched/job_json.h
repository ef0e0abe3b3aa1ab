// Jobs as JSON: the API's job resource and the stored form. Includes nlohmann::json, so only
// .cc files that speak JSON include this. Pure functions; thread-safe.
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

// The API's job object: everything in Job, with times as RFC 3339 and milliseconds. The
// environment is never in it (it may hold secrets and no reader needs it).
Json to_json(const Job& job);

// Removes from a job object made by to_json(const Job&) (also one carried in an event's
// data) what only its owner and admins may see: the command line, working directory and
// environment, its name (a name can embed a secret, and by default it is the program's),
// and, once the job ended, its reason (it can quote the command or its PATH: "no such
// command 'x' in the job's PATH (...)"). Those become "" or are left out, and "private"
// is set to true. Who may see what is api/visibility.h's decision, not this function's.
void strip_private(Json& job);

}  // namespace aion::sched
