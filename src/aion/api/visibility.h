// Visibility: what a caller may see of data that belongs to someone. aiond holds every
// user's jobs, the kernel's log and the whole journal; every route and stream that emits a
// job, an event, a log line or incident evidence asks these functions, so that one rule
// holds everywhere (a list, a stream and a detail view never disagree).
//
// The rule:
//  - admins (the admin role, or uid 0 on the unix socket) see everything;
//  - a job's private fields (sched::strip_private: command line, working directory,
//    environment, name, a finished job's reason) and its output go to its owner only;
//  - a log line goes to a viewer only when it is a journal entry that the viewer's own uid
//    logged (_UID); kernel lines and lines of tailed files are admins' only;
//  - log templates and their examples are admins' only: a template seen once is the literal
//    line (masks hide numbers and paths, not user names or arguments), so its text can hold
//    any value of the line that made it;
//  - incident evidence keeps its source, time, signature and devices for everyone; its text
//    (a quoted log line or a job event's message) goes to admins only.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "aion/api/http.h"
#include "aion/core/json.h"
#include "aion/logs/service.h"
#include "aion/sched/job.h"
#include "aion/store/event_log.h"

namespace aion::api {

bool is_admin(const Identity& caller);
// Whether the caller acts for the account `owner_uid`: a unix peer for its own uid, a token
// for the accounts of its run-as list (SECURITY.md: an operator token sees and cancels the
// jobs of its run-as users).
bool acts_for(const Identity& caller, std::uint32_t owner_uid);
// The owner (or a token acting for it) or an admin.
bool may_see_private(const Identity& caller, std::uint32_t owner_uid);

// A job as the caller may see it: the API's job object, stripped of its private fields unless
// the caller may see them.
Json job_for(const Identity& caller, const sched::Job& job);

// An event as the caller may see it (the API's event object), or nullopt when the caller may
// not see it at all: a `log_template` event is shown as may_see_line() would show its line; a
// `job` event of someone else's job loses the job's private fields, and its message is
// rebuilt from what is left ("job 12 (alice): failed").
std::optional<Json> event_for(const Identity& caller, const store::Event& event);

bool may_see_line(const Identity& caller, const logs::LogLine& line);

// An incident object (diagnose::to_json) as the caller may see it: evidence text withheld
// ("" with "withheld": true) for non-admins.
void redact_incident(const Identity& caller, Json& incident);

}  // namespace aion::api
