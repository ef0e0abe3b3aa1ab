// The scheduler's routes: submit, list, show, cancel, logs of jobs and the ranked queue.
// Who runs a job: a unix-socket caller's own uid (root may name another user); a token
// caller (TCP) must be an operator and name a user on its run-as list, never root or a
// system account (uid below UID_MIN of `host`'s /etc/login.defs). Thread-safety: add the
// routes before the server starts; the handlers run on any API worker thread at once, which
// the JobManager allows.
#pragma once

#include "aion/api/router.h"
#include "aion/core/host_fs.h"
#include "aion/sched/runner.h"

namespace aion::api {

void add_job_routes(Router& router, sched::JobManager& jobs, HostFs host = HostFs("/"));

// Fills spec.uid, gid and user for a job of `caller` that asks to run as `asked` ("" = as the
// caller). Root names any user (or runs as itself); another unix peer runs only as itself,
// whatever its role; a token only as a user on its run-as list, and never as root or a system
// account, even when the list says so. Pipelines resolve their owner the same way.
Status resolve_job_user(const Identity& caller, sched::JobSpec& spec, const std::string& asked,
                        const HostFs& host);

}  // namespace aion::api
