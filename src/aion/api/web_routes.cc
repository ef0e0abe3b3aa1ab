#include "aion/api/web_routes.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "aion/core/json.h"

namespace aion::api {
namespace {

namespace fs = std::filesystem;

// Scripts, styles, fonts and data from aiond only; nothing inline, no plugins, no framing,
// no form posting elsewhere. The page builds its DOM with text nodes (never HTML from data),
// and this policy stops a script that slipped in anyway from running or calling out.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

constexpr std::uintmax_t kMaxFileBytes = 8 << 20;

// One path segment of a dashboard file: letters, digits, '-', '_' and '.', not starting with
// a dot (no "..", no hidden files).
bool safe_segment(std::string_view s) {
  if (s.empty() || s.size() > 100 || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string etag_of(std::string_view body) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: a cache validator, not a security check
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

std::optional<std::string> read_disk_file(const fs::path& root, const std::string& rel) {
  std::error_code ec;
  fs::path p = root / rel;
  auto st = fs::symlink_status(p, ec);
  if (ec || !fs::is_regular_file(st)) return std::nullopt;
  auto size = fs::file_size(p, ec);
  if (ec || size > kMaxFileBytes) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  std::string body(size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size))) return std::nullopt;
  return body;
}

class WebFiles {
 public:
  explicit WebFiles(fs::path root) : root_(std::move(root)) {}

  Response serve(const Request& r, const std::string& rel) const {
    std::optional<std::string> body;
    if (root_.empty()) {
      for (const auto& f : embedded_web_files()) {
        if (f.path == rel) body = std::string(f.body);
      }
    } else {
      body = read_disk_file(root_, rel);
    }
    if (!body) {
      return Response::error(404, "not_found", "the dashboard has no file " + rel);
    }
    Response res;
    res.content_type = std::string(content_type_for(rel));
    std::string etag = etag_of(*body);
    res.headers["ETag"] = etag;
    res.headers["Cache-Control"] = "no-cache";
    res.headers["Content-Security-Policy"] = std::string(kContentSecurityPolicy);
    res.headers["Referrer-Policy"] = "no-referrer";
    res.headers["X-Frame-Options"] = "DENY";
    if (auto it = r.headers.find("if-none-match"); it != r.headers.end() && it->second == etag) {
      res.status = 304;
      return res;
    }
    res.body = std::move(*body);
    return res;
  }

 private:
  fs::path root_;
};

Json who(const Identity& id) {
  return Json{{"name", id.name}, {"role", to_string(id.role)}, {"run_as", id.run_as}};
}

Response no_store(Response r) {
  r.headers["Cache-Control"] = "no-store";
  return r;
}

void add_session_routes(Router& router, std::shared_ptr<SessionStore> sessions,
                        Authenticator authenticate, bool secure) {
  router.add({"POST", "/v1/session", Role::kViewer,
              "Log a browser in with an API token: {\"token\"}; sets the session cookie and "
              "answers the caller and its CSRF token",
              [sessions, authenticate, secure](Request& r) {
                if (!origin_matches_host(r)) {
                  return Response::error(403, "permission_denied",
                                         "a login from another origin is refused");
                }
                Json body = Json::parse(r.body, nullptr, false);
                if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) {
                  return Response::error(400, "invalid_argument",
                                         "the body must be {\"token\": \"aion_...\"}");
                }
                std::string token = body["token"].get<std::string>();
                if (token.size() > 512) {
                  return Response::error(401, "unauthenticated", "that is not an aion token");
                }
                auto id = authenticate ? authenticate(token)
                                       : Result<Identity>(std::unexpected(
                                             Error(ErrorCode::kUnauthenticated,
                                                   "token authentication is not configured")));
                if (!id) return no_store(Response::from_error(id.error()));
                NewSession s = sessions->create(std::move(token));
                Json out = who(*id);
                out["csrf"] = s.csrf;
                Response res = no_store(Response::json_text(200, out.dump()));
                res.headers["Set-Cookie"] = session_cookie(s.id, secure);
                return res;
              },
              false, true});

  router.add({"GET", "/v1/session", Role::kViewer,
              "Who the caller is, with the CSRF token of its dashboard session (null without one)",
              [sessions](Request& r) {
                Json out = who(r.caller);
                out["csrf"] = nullptr;
                if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
                  if (auto id = cookie_value(c->second, kSessionCookie)) {
                    if (auto s = sessions->find(*id)) out["csrf"] = s->csrf;
                  }
                }
                return no_store(Response::json_text(200, out.dump()));
              }});

  router.add({"DELETE", "/v1/session", Role::kViewer,
              "Log the browser out: ends its session and clears the cookie",
              [sessions, secure](Request& r) {
                if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
                  if (auto id = cookie_value(c->second, kSessionCookie)) sessions->remove(*id);
                }
                Response res = no_store(Response::json_text(200, R"({"logged_out":true})"));
                res.headers["Set-Cookie"] = session_cookie("", secure, true);
                return res;
              }});
}

}  // namespace

std::string_view content_type_for(std::string_view name) {
  auto dot = name.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot);
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

void add_web_routes(Router& router, std::shared_ptr<SessionStore> sessions,
                    Authenticator authenticate, WebOptions options) {
  add_session_routes(router, std::move(sessions), std::move(authenticate), options.secure_cookies);
  auto files = std::make_shared<const WebFiles>(options.web_root);
  router.add({"GET", "/", Role::kViewer, "The dashboard (its page; log in there with a token)",
              [files](Request& r) { return files->serve(r, "index.html"); }, false, true});
  router.add({"GET", "/ui/{file}", Role::kViewer, "A file of the dashboard",
              [files](Request& r) {
                const std::string& f = r.params["file"];
                if (!safe_segment(f)) return Response::error(404, "not_found", "no such file");
                return files->serve(r, f);
              },
              false, true});
  router.add({"GET", "/ui/{dir}/{file}", Role::kViewer, "A file of the dashboard",
              [files](Request& r) {
                const std::string& d = r.params["dir"];
                const std::string& f = r.params["file"];
                if (!safe_segment(d) || !safe_segment(f))
                  return Response::error(404, "not_found", "no such file");
                return files->serve(r, d + "/" + f);
              },
              false, true});
}

}  // namespace aion::api
