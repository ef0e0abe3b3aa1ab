// The tools that answer from aiond's state: jobs, the queue, free GPUs, incidents, metrics
// and log templates. They read the daemon's API as the asking caller does, through a GET the
// program provides: the CLI's over its socket, aiond's own by dispatching to its routes with
// the caller's identity. So the API's roles and visibility rules decide what a tool may see,
// and the copilot holds no second copy of them. Only GETs: the copilot never changes state.
// Not thread-safe: add_daemon_tools() fills a Toolbox before use.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "aion/copilot/tools.h"

namespace aion::copilot {

// GET `path` with `query` (values not yet encoded); the JSON body of a 2xx answer, else the
// API's error (kNotFound for an unknown job, kPermissionDenied for a route above the role).
using DaemonGet = std::function<Result<Json>(const std::string& path,
                                             const std::map<std::string, std::string>& query)>;

void add_daemon_tools(Toolbox& box, DaemonGet get);

}  // namespace aion::copilot
