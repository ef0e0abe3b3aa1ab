// Router: the table of API routes. Each route has a method, a path pattern with {named}
// segments, the least role that may call it, a one-line summary and a handler.
//
// dispatch() finds the route, checks the caller's role (403 when too low), fills
// Request::params and calls the handler; unknown paths get 404 and a known path with the
// wrong method 405, all in the JSON error envelope. Routes are added at start-up, before the
// server runs (not thread-safe); after that the router is read-only and dispatch() and
// runs_inline() are thread-safe, called from every API thread at once.
// Handlers must not throw; one that does is answered with 500 and logged. Path parameters
// are percent-decoded once, here; the server leaves them encoded (Request::raw_path).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "aion/api/http.h"

namespace aion::api {

using Handler = std::function<Response(Request&)>;

struct Route {
  std::string method;
  std::string pattern;  // "/v1/admin/tokens/{id}"
  Role min_role = Role::kViewer;
  std::string summary;
  Handler handler;
  // Answered on the server's I/O thread instead of the worker pool: only for handlers that
  // never block (no disk, no child process, no lock held for long), such as GET /v1/status,
  // so that they stay prompt however busy the workers are.
  bool inline_ok = false;
  // Answered without credentials, the caller being the viewer "anonymous": the dashboard's
  // static files and its login, which a browser must reach before it holds a session.
  bool public_ok = false;
};

class Router {
 public:
  void add(Route route);
  Response dispatch(Request& request) const;
  // Whether the route that `method` and `path` (encoded) would reach is inline_ok.
  bool runs_inline(std::string_view method, std::string_view path) const;
  // Whether that route is public_ok.
  bool is_public(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace aion::api
