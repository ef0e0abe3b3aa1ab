#include "aion/api/logs_routes.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <vector>

#include "aion/api/visibility.h"
#include "aion/core/clock.h"
#include "aion/core/json.h"
#include "aion/telemetry/query.h"

namespace aion::api {
namespace {

Result<std::size_t> limit_of(const Request& r, std::size_t def) {
  std::string v = r.query_or("limit", "");
  if (v.empty()) return def;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n == 0 || n > 100000) {
    return fail(ErrorCode::kInvalidArgument,
                "limit: expected a number from 1 to 100000, found '" + v + "'");
  }
  return n;
}

std::string time_text(std::int64_t ms) {
  return ms > 0 ? format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms))) : std::string();
}

}  // namespace

void add_logs_routes(Router& router, logs::LogService& service) {
  router.add({"GET", "/v1/logs/templates", Role::kAdmin,
              "Mined log templates with counts, most frequent first; ?since=1h&limit=N "
              "(admins only: a template can hold values of the lines that made it)",
              [&service](Request& r) {
                auto limit = limit_of(r, 100);
                if (!limit) return Response::from_error(limit.error());
                std::int64_t from_ms = 0;
                if (auto since = r.query_or("since", ""); !since.empty()) {
                  auto d = telemetry::parse_duration_ms(since);
                  if (!d) return Response::from_error(d.error());
                  from_ms = to_unix_ms(Clock::system().wall()) - *d;
                }
                auto templates = service.templates();
                std::stable_sort(templates.begin(), templates.end(),
                                 [](const auto& a, const auto& b) { return a.count > b.count; });
                Json out = Json::array();
                for (const auto& t : templates) {
                  if (t.last_seen_ms < from_ms) continue;
                  if (out.size() >= *limit) break;
                  out.push_back({{"id", t.id},
                                 {"template", t.text},
                                 {"count", t.count},
                                 {"first_seen", time_text(t.first_seen_ms)},
                                 {"last_seen", time_text(t.last_seen_ms)},
                                 {"source", t.source},
                                 {"example", t.example}});
                }
                auto st = service.stats();
                Json stats{{"lines", st.lines},
                           {"templates", st.templates},
                           {"kmsg_missed", st.kmsg_missed},
                           {"file_rotations", st.file_rotations},
                           {"file_truncations", st.file_truncations},
                           {"kmsg_malformed", st.kmsg_malformed},
                           {"file_oversized", st.file_oversized},
                           {"sources", st.sources}};
                return Response::json_text(
                    200, Json{{"templates", std::move(out)}, {"stats", std::move(stats)}}.dump(
                             -1, ' ', false, Json::error_handler_t::replace));
              }});

  router.add({"GET", "/v1/logs/recent", Role::kViewer,
              "The latest parsed log lines with their template id and parameters; ?limit=N "
              "(viewers: only the journal entries their own uid logged)",
              [&service](Request& r) {
                auto limit = limit_of(r, 100);
                if (!limit) return Response::from_error(limit.error());
                Json out = Json::array();
                // A viewer's lines may be few among the recent ones: look through all kept,
                // newest first, until `limit` are found.
                auto lines = service.recent(is_admin(r.caller) ? *limit : SIZE_MAX);
                std::vector<const logs::LogLine*> shown;
                for (auto it = lines.rbegin(); it != lines.rend() && shown.size() < *limit; ++it) {
                  if (may_see_line(r.caller, *it)) shown.push_back(&*it);
                }
                std::reverse(shown.begin(), shown.end());
                for (const logs::LogLine* p : shown) {
                  const logs::LogLine& l = *p;
                  out.push_back({{"time", time_text(l.time_ms)},
                                 {"source", l.source},
                                 {"priority", l.priority},
                                 {"unit", l.unit},
                                 {"content", l.content},
                                 {"template_id", l.template_id},
                                 {"template", l.template_text},
                                 {"params", l.params},
                                 {"origin", logs::to_string(l.origin)}});
                }
                return Response::json_text(
                    200, Json{{"lines", std::move(out)}}.dump(-1, ' ', false,
                                                              Json::error_handler_t::replace));
              }});
}

}  // namespace aion::api
