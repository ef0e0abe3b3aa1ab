// Plain HTTP request/response values that route handlers see. The wire protocol (Beast) is
// hidden in server.cc, so handlers and their tests stay light and never include Boost.
// Plain values and pure functions; thread-safe (one Request belongs to one handler call).
// An SseSource is polled by one connection's strand, one poll() at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::api {

// Who may call a route. Ordered: a role may call every route of a lower role.
enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view name);

// The authenticated caller of a request.
struct Identity {
  Role role = Role::kViewer;
  std::string name;  // "uid:1000 (alice)", "token:3fa9c1d2"
  long uid = -1;     // unix-socket peers only
  // Token callers only: the users the token may run jobs as (fixed when it was created).
  std::vector<std::string> run_as;
};

struct Request {
  std::string method;  // "GET"
  std::string path;    // "/v1/events", without the query
  // The path as sent, still percent-encoded. The router matches on it and decodes each
  // {param} segment exactly once (so "%252e" is "%2e", never "."); empty: `path` is taken
  // as the encoded form.
  std::string raw_path;
  std::map<std::string, std::string, std::less<>> query;    // decoded
  std::map<std::string, std::string, std::less<>> params;   // from the route pattern: {id}
  std::map<std::string, std::string, std::less<>> headers;  // lowercase names
  std::string body;
  Identity caller;

  // The query value or `def`.
  std::string query_or(std::string_view key, std::string_view def) const;
};

// A source of server-sent events for streaming routes. poll() is called from the server's
// I/O thread every few tens of milliseconds and must not block: it appends complete SSE
// frames ("data: ...\n\n") to `out` and returns false once the stream has ended.
class SseSource {
 public:
  virtual ~SseSource() = default;
  virtual bool poll(std::string& out) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  std::shared_ptr<SseSource> sse;  // set: stream events instead of sending body

  static Response json_text(int status, std::string body);
  // {"error":{"code":"<code>","message":"<message>"}}
  static Response error(int status, std::string_view code, std::string_view message);
  // The envelope for an aion::Error, with the HTTP status that its code implies.
  static Response from_error(const Error& e);
};

// HTTP status for an error code: kNotFound -> 404, kPermissionDenied -> 403, ...
int http_status(ErrorCode code);

// Percent-decodes a URL component ('+' becomes a space). Invalid escapes are kept as is.
std::string url_decode(std::string_view s);
// Percent-encodes everything but unreserved characters (A-Z a-z 0-9 - _ . ~), for query values.
std::string url_encode(std::string_view s);

}  // namespace aion::api
