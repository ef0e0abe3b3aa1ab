#include "aion/api/metrics_routes.h"

#include <chrono>

#include "aion/core/json.h"
#include "aion/telemetry/exposition.h"
#include "aion/telemetry/query.h"

namespace aion::api {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json labels_json(const telemetry::Labels& labels) {
  Json j = Json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

Response unavailable() {
  return Response::from_error(
      Error(ErrorCode::kUnavailable, "telemetry is off (telemetry.enabled = false in the config)"));
}

}  // namespace

namespace {

// /metrics (Prometheus) and /v1/metrics (the series)
void add_series_routes(Router& router, telemetry::Telemetry& t) {
  router.add({"GET", "/metrics", Role::kViewer,
              "Latest host, GPU and job metrics in the Prometheus text exposition format",
              [&t](Request&) {
                Response r;
                r.content_type = telemetry::kExpositionContentType;
                r.body = telemetry::render_exposition(
                    t.latest(), {.identity_labels = t.options().exposition_identity_labels});
                return r;
              }});

  router.add({"GET", "/v1/metrics", Role::kViewer,
              "Stored series with their latest sample; ?match=SELECTOR narrows the list",
              [&t](Request& r) {
                if (!t.db()) return unavailable();
                std::optional<telemetry::Selector> sel;
                if (auto m = r.query_or("match", ""); !m.empty()) {
                  auto s = telemetry::parse_selector(m);
                  if (!s) return Response::from_error(s.error());
                  sel = std::move(*s);
                }
                Json out = Json::array();
                for (const auto& key : t.db()->series()) {
                  auto parsed = telemetry::parse_series_key(key);
                  if (!parsed) continue;
                  if (sel && !sel->matches(parsed->first, parsed->second)) continue;
                  Json j{{"series", key},
                         {"name", parsed->first},
                         {"labels", labels_json(parsed->second)}};
                  if (auto last = t.db()->last(key)) {
                    j["t_ms"] = last->t_ms;
                    j["value"] = last->value;
                  }
                  out.push_back(std::move(j));
                }
                auto st = t.db()->stats();
                Json store{{"series", st.series},
                           {"samples", st.samples},
                           {"memory_bytes", st.memory_bytes},
                           {"disk_bytes", st.disk_bytes},
                           {"blocks", st.blocks},
                           {"unflushed_samples", st.unflushed_samples}};
                return Response::json_text(200, Json{{"series", out}, {"store", store}}.dump());
              }});
}

// /v1/metrics/import and /v1/metrics/query
void add_import_and_query_routes(Router& router, telemetry::Telemetry& t) {
  router.add({"POST", "/v1/metrics/import", Role::kOperator,
              "Store samples pushed in the Prometheus text format (`name{labels} value "
              "[timestamp_ms]` per line); a syntax error stores nothing",
              [&t](Request& r) {
                if (!t.db()) return unavailable();
                auto rep = t.import(r.body, now_ms());
                if (!rep) return Response::from_error(rep.error());
                Json out{{"samples", rep->samples}, {"rejected", rep->rejected}};
                if (rep->rejected > 0) out["first_rejection"] = rep->first_rejection;
                return Response::json_text(200, out.dump());
              }});

  router.add({"GET", "/v1/metrics/query", Role::kViewer,
              "Samples of the series a selector matches: ?q=SELECTOR&since=1h&step=1m&agg=avg",
              [&t](Request& r) {
                if (!t.db()) return unavailable();
                std::string q = r.query_or("q", "");
                auto sel = telemetry::parse_selector(q);
                if (!sel) return Response::from_error(sel.error());
                telemetry::QueryRange range;
                auto since = telemetry::parse_duration_ms(r.query_or("since", "1h"));
                if (!since) return Response::from_error(since.error());
                range.to_ms = now_ms();
                range.from_ms = range.to_ms - *since;
                if (auto step = r.query_or("step", ""); !step.empty()) {
                  auto s = telemetry::parse_duration_ms(step);
                  if (!s) return Response::from_error(s.error());
                  if (*s <= 0) {
                    return Response::from_error(
                        Error(ErrorCode::kInvalidArgument, "step must be longer than 0"));
                  }
                  range.step_ms = *s;
                  range.agg = telemetry::Aggregation::kAvg;
                }
                if (auto agg = r.query_or("agg", ""); !agg.empty()) {
                  auto a = telemetry::parse_aggregation(agg);
                  if (!a) return Response::from_error(a.error());
                  range.agg = *a;
                  if (range.step_ms == 0 && range.agg != telemetry::Aggregation::kRaw) {
                    range.step_ms = std::max<std::int64_t>(1000, *since / 60);
                  }
                }
                auto res = telemetry::run_query(t.stores(), *sel, range, q);
                if (!res) return Response::from_error(res.error());
                Json out = Json::array();
                for (const auto& s : *res) {
                  Json pts = Json::array();
                  for (const auto& p : s.points) pts.push_back(Json::array({p.t_ms, p.value}));
                  out.push_back({{"series", s.key},
                                 {"name", s.name},
                                 {"labels", labels_json(s.labels)},
                                 {"points", std::move(pts)}});
                }
                return Response::json_text(200, Json{{"from_ms", range.from_ms},
                                                     {"to_ms", range.to_ms},
                                                     {"step_ms", range.step_ms},
                                                     {"result", out}}
                                                    .dump());
              }});
}

}  // namespace

void add_metrics_routes(Router& router, telemetry::Telemetry& t) {
  add_series_routes(router, t);
  add_import_and_query_routes(router, t);
}

}  // namespace aion::api
