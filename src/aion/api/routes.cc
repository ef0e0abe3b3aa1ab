#include "aion/api/routes.h"

#include "aion/api/params.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <system_error>

#include "aion/api/accounts.h"
#include "aion/api/json_reply.h"
#include "aion/api/visibility.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/sched/job_store.h"

namespace aion::api {

extern const std::string_view kOpenApiJson;
std::string_view openapi_json() {
  return kOpenApiJson;
}

namespace {

Response bad_request(std::string message) {
  return Response::error(400, "invalid_argument", message);
}

// Parses a JSON object body or explains why it is not one.
Result<Json> parse_body(const Request& r) {
  if (r.body.empty())
    return fail(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return fail(ErrorCode::kInvalidArgument, "request body is not valid JSON");
  if (!j.is_object())
    return fail(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  return j;
}

// A string field of a body: absent -> def; present but not a string -> error.
Result<std::string> string_field(const Json& j, const char* key, std::optional<std::string> def) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (def) return *def;
    return fail(ErrorCode::kInvalidArgument, std::string("missing field '") + key + "'");
  }
  if (!it->is_string())
    return fail(ErrorCode::kInvalidArgument, std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

std::string ms_to_text(std::int64_t ms) {
  return ms == 0 ? "" : format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

Json token_json(const TokenInfo& t) {
  return {{"id", t.id},
          {"role", to_string(t.role)},
          {"note", t.note},
          {"created_at", ms_to_text(t.created_ms)},
          {"last_used_at", ms_to_text(t.last_used_ms)},
          {"revoked_at", ms_to_text(t.revoked_ms)},
          {"run_as", t.run_as}};
}

// The users a new token may run jobs as, from the request's "run_as" (a list of names or
// "alice,bob"). Each must be a regular account (never root or a system account), and the
// caller must hold it already: root and the daemon's own user grant any account, another
// unix peer (an 'aion' group member) only itself, a token only users on its own list. So
// no caller can mint a token that acts as someone it could not act as itself.
Result<std::vector<std::string>> grantable_run_as(const Identity& caller, const Json& body,
                                                  const std::filesystem::path& host_root) {
  std::vector<std::string> names;
  if (body.contains("run_as")) {
    const Json& v = body["run_as"];
    if (v.is_string()) {
      auto parsed = parse_user_list(v.get<std::string>());
      if (!parsed) return std::unexpected(parsed.error());
      names = std::move(*parsed);
    } else if (v.is_array()) {
      std::string joined;
      for (const auto& n : v) {
        if (!n.is_string()) {
          return fail(ErrorCode::kInvalidArgument, "'run_as' must be a list of user names");
        }
        joined += n.get<std::string>() + ",";
      }
      auto parsed = parse_user_list(joined);
      if (!parsed) return std::unexpected(parsed.error());
      names = std::move(*parsed);
    } else {
      return fail(ErrorCode::kInvalidArgument, "'run_as' must be a list of user names");
    }
  }
  if (names.size() > 64) {
    return fail(ErrorCode::kInvalidArgument, "'run_as' names at most 64 users");
  }
  std::uint32_t min_uid = uid_min(HostFs(host_root));
  long self = static_cast<long>(::geteuid());
  for (const auto& n : names) {
    auto a = token_account(n, min_uid);
    if (!a) return std::unexpected(a.error());
    if (caller.uid == 0 || (caller.uid > 0 && caller.uid == self)) continue;
    if (caller.uid > 0 && static_cast<long>(a->uid) != caller.uid) {
      return fail(ErrorCode::kPermissionDenied,
                  caller.name + " may only create tokens that run jobs as itself, not as '" + n +
                      "'; ask root for a token that acts for other users");
    }
    if (caller.uid < 0 &&
        std::find(caller.run_as.begin(), caller.run_as.end(), n) == caller.run_as.end()) {
      return fail(ErrorCode::kPermissionDenied,
                  caller.name + " may only create tokens for users on its own run-as list, not '" +
                      n + "'");
    }
  }
  return names;
}

// Streams events newer than a cursor as SSE frames, one event per frame, each as the caller
// may see it (events it may not see are skipped).
class EventStream final : public SseSource {
 public:
  EventStream(store::EventLog& log, std::int64_t since, std::string kind, Identity caller)
      : log_(log), cursor_(since), kind_(std::move(kind)), caller_(std::move(caller)) {}

  bool poll(std::string& out) override {
    std::int64_t last = log_.last_id();
    if (last <= cursor_) return true;
    auto events = log_.list({.since_id = cursor_, .limit = 1000, .kind = kind_});
    if (!events) return false;
    // With a kind filter the newest ids may not match; never look at them again.
    std::int64_t next = events->size() < 1000 ? last : cursor_;
    for (const auto& e : *events) {
      next = std::max(next, e.id);
      auto shown = event_for(caller_, e);
      if (!shown) continue;
      out += "id: " + std::to_string(e.id) +
             "\ndata: " + shown->dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
    }
    cursor_ = next;
    return true;
  }

 private:
  store::EventLog& log_;
  std::int64_t cursor_;
  std::string kind_;
  Identity caller_;
};

std::uintmax_t file_size_or_zero(const std::filesystem::path& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// How a backup is written for `caller`. The daemon may run as root while an admin is only a
// member of the 'aion' group: a backup must not become a way to create files where that user
// could not, nor to read other users' jobs. Root and the daemon's own user get a full copy
// anywhere. Another unix peer gets a copy in a directory it owns (checked on the opened
// directory), owned by it, with other users' private job fields scrubbed. A token gets a
// copy below <state_dir>/backups with private fields scrubbed except for the users on its
// run-as list.
Result<store::BackupOptions> backup_options(const Identity& caller,
                                            const std::filesystem::path& dest,
                                            const std::filesystem::path& state_dir) {
  long self = static_cast<long>(::geteuid());
  store::BackupOptions o;
  if (caller.uid == 0 || (caller.uid >= 0 && caller.uid == self)) return o;
  std::vector<std::uint32_t> keep;
  if (caller.uid < 0) {
    auto dir = (state_dir / "backups").lexically_normal();
    auto rel = dest.lexically_normal().lexically_relative(dir);
    if (rel.empty() || *rel.begin() == ".." || *rel.begin() == ".") {
      return fail(ErrorCode::kPermissionDenied,
                  "token callers may only write backups below " + dir.string());
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (const auto& name : caller.run_as) {
      if (auto a = find_account(name)) keep.push_back(a->uid);
    }
  } else {
    o.dir_owner = static_cast<uid_t>(caller.uid);
    o.file_owner = static_cast<uid_t>(caller.uid);
    keep.push_back(static_cast<std::uint32_t>(caller.uid));
  }
  o.scrub_sql = sched::scrub_private_jobs_sql(keep);
  return o;
}

}  // namespace

namespace {

// /v1/status and /v1/openapi.json
void add_status_routes(Router& router, RouteContext& ctx) {
  router.add(
      {"GET", "/v1/status", Role::kViewer, "Daemon version, uptime, state, listeners and store",
       [&ctx](Request& r) {
         auto now = ctx.clock.wall();
         Json listeners = Json::array();
         for (const auto& l : ctx.daemon.listeners())
           listeners.push_back({{"kind", l.kind}, {"address", l.address}});
         auto db = ctx.store.path();
         auto wal = db;
         wal += "-wal";
         return json_reply(
             200, {{"version", kVersion},
                   {"pid", ctx.daemon.pid},
                   {"state", ctx.daemon.state()},
                   {"started_at", format_rfc3339(ctx.daemon.started_at)},
                   {"uptime_seconds",
                    std::chrono::duration_cast<std::chrono::seconds>(now - ctx.daemon.started_at)
                        .count()},
                   {"listeners", listeners},
                   {"state_dir", ctx.daemon.state_dir.string()},
                   {"store",
                    {{"path", db.string()},
                     {"size_bytes", file_size_or_zero(db) + file_size_or_zero(wal)}}},
                   {"config", ctx.daemon.config_source},
                   {"host_root", ctx.daemon.host_root.string()},
                   {"events_last_id", ctx.events.last_id()},
                   {"caller", {{"name", r.caller.name}, {"role", to_string(r.caller.role)}}}});
       },
       /*inline_ok=*/true});

  router.add({"GET", "/v1/openapi.json", Role::kViewer, "This API's OpenAPI 3 description",
              [](Request&) { return Response::json_text(200, std::string(openapi_json())); }});
}

// /v1/events: list, operator notes and the stream
void add_event_routes(Router& router, RouteContext& ctx) {
  router.add({"GET", "/v1/events", Role::kViewer,
              "List events, oldest first: without since_id the newest `limit`, with since_id the "
              "first `limit` after it (page forward)",
              [&ctx](Request& r) {
                auto since = int_query(r, "since_id", 0, 0, INT64_MAX);
                auto limit = int_query(r, "limit", 100, 1, 10000);
                if (!since) return Response::from_error(since.error());
                if (!limit) return Response::from_error(limit.error());
                auto events = ctx.events.list({.since_id = *since,
                                               .limit = static_cast<int>(*limit),
                                               .kind = r.query_or("kind", "")});
                if (!events) return Response::from_error(events.error());
                Json list = Json::array();
                for (const auto& e : *events) {
                  if (auto shown = event_for(r.caller, e)) list.push_back(std::move(*shown));
                }
                return json_reply(200, {{"events", list}, {"last_id", ctx.events.last_id()}});
              }});

  router.add({"POST", "/v1/events", Role::kOperator, "Record an operator note in the event log",
              [&ctx](Request& r) {
                auto body = parse_body(r);
                if (!body) return Response::from_error(body.error());
                auto message = string_field(*body, "message", std::nullopt);
                auto severity = string_field(*body, "severity", "info");
                if (!message) return Response::from_error(message.error());
                if (!severity) return Response::from_error(severity.error());
                if (message->empty() || message->size() > 4096)
                  return bad_request("'message' must be 1 to 4096 characters");
                if (*severity != "info" && *severity != "warning" && *severity != "critical") {
                  return bad_request("'severity' must be info, warning or critical");
                }
                store::Event e;
                e.kind = "annotation";
                e.severity = *severity;
                e.source = r.caller.name;
                e.message = *message;
                auto id = ctx.events.append(std::move(e));
                if (!id) return Response::from_error(id.error());
                return json_reply(201, {{"id", *id}});
              }});

  router.add({"GET", "/v1/events/stream", Role::kViewer, "Stream new events as server-sent events",
              [&ctx](Request& r) {
                auto since = int_query(r, "since_id", ctx.events.last_id(), 0, INT64_MAX);
                if (!since) return Response::from_error(since.error());
                Response res;
                res.sse = std::make_shared<EventStream>(ctx.events, *since, r.query_or("kind", ""),
                                                        r.caller);
                return res;
              }});
}

// /v1/admin: tokens, backup and reload
void add_admin_routes(Router& router, RouteContext& ctx) {
  router.add({"GET", "/v1/admin/tokens", Role::kAdmin, "List API tokens (never their secrets)",
              [&ctx](Request&) {
                auto tokens = ctx.tokens.list();
                if (!tokens) return Response::from_error(tokens.error());
                Json list = Json::array();
                for (const auto& t : *tokens) list.push_back(token_json(t));
                return json_reply(200, {{"tokens", list}});
              }});

  router.add({"POST", "/v1/admin/tokens", Role::kAdmin,
              "Create an API token; the secret is returned once", [&ctx](Request& r) {
                auto body = parse_body(r);
                if (!body) return Response::from_error(body.error());
                auto role_name = string_field(*body, "role", std::nullopt);
                auto note = string_field(*body, "note", "");
                if (!role_name) return Response::from_error(role_name.error());
                if (!note) return Response::from_error(note.error());
                auto role = parse_role(*role_name);
                if (!role) return bad_request("'role' must be viewer, operator or admin");
                if (note->size() > 256) return bad_request("'note' must be at most 256 characters");
                auto run_as = grantable_run_as(r.caller, *body, ctx.daemon.host_root);
                if (!run_as) return Response::from_error(run_as.error());
                auto created = ctx.tokens.create(*role, *note, *run_as);
                if (!created) return Response::from_error(created.error());
                Json j = token_json(created->info);
                j["token"] = created->token;
                store::Event e{.kind = "token_created",
                               .source = r.caller.name,
                               .message = "API token " + created->info.id + " (" +
                                          std::string(to_string(*role)) + ", run as: " +
                                          (run_as->empty() ? "nobody" : j["run_as"].dump()) +
                                          ") created"};
                ctx.events.record(std::move(e));
                return json_reply(201, j);
              }});

  router.add(
      {"DELETE", "/v1/admin/tokens/{id}", Role::kAdmin, "Revoke an API token", [&ctx](Request& r) {
         const std::string& id = r.params.at("id");
         if (auto st = ctx.tokens.revoke(id); !st) return Response::from_error(st.error());
         store::Event e{.kind = "token_revoked",
                        .source = r.caller.name,
                        .message = "API token " + id + " revoked"};
         ctx.events.record(std::move(e));
         return json_reply(200, {{"id", id}, {"revoked", true}});
       }});

  router.add(
      {"POST", "/v1/admin/backup", Role::kAdmin, "Write an online backup of the state database",
       [&ctx](Request& r) {
         auto body = parse_body(r);
         if (!body) return Response::from_error(body.error());
         auto path = string_field(*body, "path", std::nullopt);
         if (!path) return Response::from_error(path.error());
         if (path->empty() || path->front() != '/')
           return bad_request("'path' must be an absolute path");
         auto options = backup_options(r.caller, *path, ctx.daemon.state_dir);
         if (!options) return Response::from_error(options.error());
         // Its own read connection: writers go on. The copy is created, owned and moved
         // into place relative to the directory's fd, never through a name a link could take.
         auto st = ctx.store.backup_to(*path, *options);
         if (!st) return Response::from_error(st.error());
         return json_reply(
             200, {{"path", *path}, {"size_bytes", file_size_or_zero(*path)}, {"integrity", "ok"}});
       }});

  router.add({"POST", "/v1/admin/reload", Role::kAdmin,
              "Re-read the configuration file (as SIGHUP does)", [&ctx](Request&) {
                if (auto st = ctx.daemon.reload(); !st) return Response::from_error(st.error());
                return json_reply(200, {{"reloaded", true}, {"config", ctx.daemon.config_source}});
              }});
}

}  // namespace

void add_daemon_routes(Router& router, RouteContext& ctx) {
  add_status_routes(router, ctx);
  add_event_routes(router, ctx);
  add_admin_routes(router, ctx);
}

}  // namespace aion::api
