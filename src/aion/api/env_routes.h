// GET /v1/env/plan: the software stack `aion env plan` would choose for a framework on this
// node (from the newest hardware snapshot and the installed driver and Python), with the
// Dockerfile `aion env plan --emit dockerfile` would write. For the dashboard's environment
// page; the CLI plans locally and needs no daemon.
//
// Thread-safety: added before the server starts; the handler runs on any API thread (the
// compatibility tables are loaded once, on first use, under a lock).
#pragma once

#include "aion/api/hw_watch.h"
#include "aion/api/router.h"
#include "aion/core/host_fs.h"

namespace aion::api {

void add_env_routes(Router& router, HwWatch& watch, HostFs host);

}  // namespace aion::api
