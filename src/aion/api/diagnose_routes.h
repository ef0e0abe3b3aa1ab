// Diagnosis routes: incidents (list, one with its hypotheses, evidence, jobs and audit
// trail), remediation of an incident (dry run for anyone; execution for operators and admins
// with an explicit approval unless the playbook is automatic), and the doctor's checks.
// With diagnosis off (`service` null) they answer 503. Thread-safety: add the routes before
// the server starts; the handlers run on any API worker thread at once, which the
// DiagnoseService allows.
#pragma once

#include "aion/api/router.h"
#include "aion/diagnose/service.h"

namespace aion::api {

void add_diagnose_routes(Router& router, diagnose::DiagnoseService* service);

}  // namespace aion::api
