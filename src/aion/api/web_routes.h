// The dashboard: its static files (index.html at "/", the rest under "/ui/") and its login.
//
// The files are compiled into aiond from web/ at build time, so a daemon always serves the
// dashboard that matches its API; `web_root` (api.web_root) serves them from a directory
// instead, for working on the dashboard without rebuilding. Every file is sent with a strict
// Content-Security-Policy (scripts and styles from aiond only, nothing inline, no framing)
// and an ETag (If-None-Match answers 304).
//
// Sessions: POST /v1/session takes {"token": "..."} and answers the caller's name, role and
// CSRF token with the session cookie; GET /v1/session tells a page who it is logged in as
// (and its CSRF token again, after a reload); DELETE /v1/session logs out. See sessions.h.
//
// Thread-safety: added before the server starts; handlers run on any API thread.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "aion/api/router.h"
#include "aion/api/server.h"
#include "aion/api/sessions.h"

namespace aion::api {

struct WebFile {
  std::string_view path;  // relative to web/: "index.html", "i18n/en.json"
  std::string_view body;
};

// The files of web/ compiled in (generated at build time).
std::span<const WebFile> embedded_web_files();

struct WebOptions {
  std::filesystem::path web_root;  // empty: the compiled-in files
  bool secure_cookies = false;     // the TCP listener speaks TLS
};

void add_web_routes(Router& router, std::shared_ptr<SessionStore> sessions,
                    Authenticator authenticate, WebOptions options);

// The Content-Type for a file name by its extension ("application/octet-stream" otherwise).
std::string_view content_type_for(std::string_view name);

}  // namespace aion::api
