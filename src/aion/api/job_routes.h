// The scheduler's routes: submit, list, show, cancel, logs of jobs and the ranked queue.
// Who runs a job: a unix-socket caller's own uid (root may name another user); a token
// caller (TCP) must be an operator and name the user.
#pragma once

#include "aion/api/router.h"
#include "aion/sched/runner.h"

namespace aion::api {

void add_job_routes(Router& router, sched::JobManager& jobs);

}  // namespace aion::api
