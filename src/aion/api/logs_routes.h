// The log pipeline's routes: the templates aiond has mined (GET /v1/logs/templates) and the
// latest parsed lines (GET /v1/logs/recent). Thread-safety: add the routes before the server
// starts; the handlers run on any API worker thread at once, which the LogService allows.
#pragma once

#include "aion/api/router.h"
#include "aion/logs/service.h"

namespace aion::api {

void add_logs_routes(Router& router, logs::LogService& logs);

}  // namespace aion::api
