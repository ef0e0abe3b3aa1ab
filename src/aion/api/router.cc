#include "aion/api/router.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace aion::api {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

// Matches an encoded path against a pattern, filling {named} segments. Each segment is
// decoded exactly once, after splitting, so an encoded '/' stays inside its segment and a
// double-encoded "%252e%252e" becomes "%2e%2e", never "..".
bool match(std::string_view pattern, std::string_view path,
           std::map<std::string, std::string, std::less<>>& params) {
  auto pp = split_path(pattern);
  auto sp = split_path(path);
  if (pp.size() != sp.size()) return false;
  std::map<std::string, std::string, std::less<>> found;
  for (std::size_t i = 0; i < pp.size(); ++i) {
    if (pp[i].size() > 2 && pp[i].front() == '{' && pp[i].back() == '}') {
      found[std::string(pp[i].substr(1, pp[i].size() - 2))] = url_decode(sp[i]);
    } else if (pp[i] != url_decode(sp[i])) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

void Router::add(Route route) {
  routes_.push_back(std::move(route));
}

bool Router::runs_inline(std::string_view method, std::string_view path) const {
  for (const auto& route : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    if (route.method == method && match(route.pattern, path, params)) return route.inline_ok;
  }
  return false;
}

bool Router::is_public(std::string_view method, std::string_view path) const {
  for (const auto& route : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    if (route.method == method && match(route.pattern, path, params)) return route.public_ok;
  }
  return false;
}

Response Router::dispatch(Request& request) const {
  bool path_known = false;
  std::string allowed;
  const std::string& encoded = request.raw_path.empty() ? request.path : request.raw_path;
  for (const auto& route : routes_) {
    std::map<std::string, std::string, std::less<>> params;
    if (!match(route.pattern, encoded, params)) continue;
    path_known = true;
    if (route.method != request.method) {
      allowed += (allowed.empty() ? "" : ", ") + route.method;
      continue;
    }
    if (request.caller.role < route.min_role) {
      return Response::error(
          403, "permission_denied",
          std::string(route.method) + " " + route.pattern + " needs the " +
              std::string(to_string(route.min_role)) + " role; " + request.caller.name + " is a " +
              std::string(to_string(request.caller.role)) +
              " (admins: root and members of the 'aion' group, or an admin token)");
    }
    request.params = std::move(params);
    try {
      return route.handler(request);
    } catch (const std::exception& e) {
      spdlog::error("event=handler_exception route=\"{} {}\" what=\"{}\"", route.method,
                    route.pattern, e.what());
      return Response::error(500, "internal", "internal error while handling the request");
    }
  }
  if (path_known) {
    Response r = Response::error(
        405, "method_not_allowed",
        request.method + " is not allowed on " + request.path + " (allowed: " + allowed + ")");
    r.headers["Allow"] = allowed;
    return r;
  }
  return Response::error(404, "not_found",
                         "no route " + request.method + " " + request.path +
                             " (GET /v1/openapi.json lists every route)");
}

}  // namespace aion::api
