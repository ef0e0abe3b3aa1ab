// POST /v1/ask: the copilot served by aiond. Wiring between two services that sit side by
// side (api's router and the copilot), so it lives with the program. The question is answered as
// `aion ask` answers it (the router, or the configured model with the privacy gate), from the
// daemon's hardware snapshot, the shipped catalogs and tables, and the daemon's own routes
// dispatched with the caller's identity, so a caller learns through the copilot only what its role
// lets it read directly. The copilot never changes state: actions come back as suggested commands.
// Thread-safety: add_copilot_routes() runs before the server starts; the handler runs on any
// worker thread at once (what it shares is immutable after start, or thread-safe).
#pragma once

#include <filesystem>

#include "aion/api/hw_watch.h"
#include "aion/api/router.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"

namespace aiond {

struct CopilotRouteOptions {
  aion::HostFs host;
  std::filesystem::path state_dir;
  aion::Config config;  // [copilot] and [privacy]
};

// `router` must outlive the server: the tools dispatch to the routes it holds.
void add_copilot_routes(aion::api::Router& router, aion::api::HwWatch* hw,
                        CopilotRouteOptions options);

}  // namespace aiond
