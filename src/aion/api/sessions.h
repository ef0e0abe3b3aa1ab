// Browser sessions for the dashboard.
//
// A browser logs in once with an API token (POST /v1/session) and then holds an opaque
// session id in a cookie (HttpOnly, SameSite=Strict, Secure under TLS), so the token never
// sits where page scripts can read it. The store keeps the token in memory only and the
// server authenticates it again on every request, so revoking the token ends its sessions at
// once. A session also carries a CSRF token that the page sends back in X-CSRF-Token on every
// state-changing call: a cookie alone never changes anything (see csrf_refusal()).
//
// Sessions are found by the SHA-256 of their id (a lookup leaks no timing about the id),
// expire after `idle_timeout` without use, and are bounded: past `max_sessions` the least
// recently used one is dropped. Nothing is written to disk: a restart of aiond logs every
// browser out. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aion/api/http.h"

namespace aion::api {

inline constexpr std::string_view kSessionCookie = "aion_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

struct NewSession {
  std::string id;    // the cookie's value
  std::string csrf;  // for X-CSRF-Token
};

struct SessionState {
  std::string token;  // the API token the browser logged in with
  std::string csrf;
};

class SessionStore {
 public:
  explicit SessionStore(std::chrono::seconds idle_timeout = std::chrono::hours(8),
                        std::size_t max_sessions = 1024);

  NewSession create(std::string token);
  // The session and refreshes its last use; nullopt when unknown or expired.
  std::optional<SessionState> find(std::string_view id);
  void remove(std::string_view id);
  std::size_t size() const;

 private:
  struct Entry {
    SessionState state;
    std::chrono::steady_clock::time_point last_used;
  };
  void expire_locked(std::chrono::steady_clock::time_point now);

  const std::chrono::seconds idle_timeout_;
  const std::size_t max_sessions_;
  mutable std::mutex mu_;                              // guards by_hash_
  std::map<std::string, Entry, std::less<>> by_hash_;  // guarded by mu_
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name);

// The Set-Cookie value that carries a session id (empty id and max_age 0: end it).
std::string session_cookie(std::string_view id, bool secure, bool end = false);

// Why a request that a session cookie authenticates must not change anything, or "" when it
// may: methods other than GET, HEAD and OPTIONS need X-CSRF-Token equal to the session's
// token, and an Origin header, when the browser sends one, must name the host the request
// was sent to (Host), so a page of another origin (another port of the same host included:
// SameSite does not separate those) never acts with the user's cookie.
std::string csrf_refusal(const Request& r, std::string_view session_csrf);

// Whether the request's Origin (when present) is the origin of its Host header.
bool origin_matches_host(const Request& r);

}  // namespace aion::api
