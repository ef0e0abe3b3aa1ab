// The daemon's own routes: status, the API description, the event log (with a server-sent
// event stream), API tokens, backups and config reload. Domain modules add theirs in their
// own routes_<area>.cc files as they land.
//
// Thread-safety: add_daemon_routes() runs before the server starts. The handlers run on any
// API thread at once (GET /v1/status inline on an I/O thread), so DaemonInfo is filled in
// before the server starts and read-only after, and its functions must be thread-safe
// (aiond's reload() locks; state() reads an atomic; listeners() are fixed once started).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/api/router.h"
#include "aion/api/server.h"
#include "aion/api/tokens.h"
#include "aion/core/clock.h"
#include "aion/store/event_log.h"
#include "aion/store/store.h"

namespace aion::api {

// What the status route reports about the running daemon; filled in by aiond.
struct DaemonInfo {
  long pid = 0;
  Clock::Wall started_at;
  std::filesystem::path state_dir;
  std::string config_source;  // file path or "built-in defaults"
  std::filesystem::path host_root = "/";
  std::function<std::vector<ListenerInfo>()> listeners;
  std::function<std::string()> state;  // "running", "draining"
  std::function<Status()> reload;      // re-reads the config file (as SIGHUP does)
};

struct RouteContext {
  DaemonInfo& daemon;
  store::Store& store;
  store::EventLog& events;
  TokenStore& tokens;
  const Clock& clock;
};

void add_daemon_routes(Router& router, RouteContext& ctx);

// The checked-in OpenAPI description (src/aion/api/openapi.json), compiled in.
std::string_view openapi_json();

}  // namespace aion::api
