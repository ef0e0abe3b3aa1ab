#include "aion/api/metrics_routes.h"

#include <chrono>
#include <optional>
#include <string>

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

// The selector of ?match=, when given.
Result<std::optional<telemetry::Selector>> match_param(const Request& r) {
  std::string m = r.query_or("match", "");
  if (m.empty()) return std::optional<telemetry::Selector>();
  auto s = telemetry::parse_selector(m);
  if (!s) return std::unexpected(s.error());
  return std::optional<telemetry::Selector>(std::move(*s));
}

// The latest sample of every stored series that `sel` (when set) matches and whose name
// starts with `prefix`.
Json latest_series(telemetry::Telemetry& t, const telemetry::Selector* sel,
                   std::string_view prefix) {
  Json out = Json::array();
  for (const auto& key : t.db()->series()) {
    auto parsed = telemetry::parse_series_key(key);
    if (!parsed) continue;
    if (!parsed->first.starts_with(prefix)) continue;
    if (sel && !sel->matches(parsed->first, parsed->second)) continue;
    Json j{{"series", key}, {"name", parsed->first}, {"labels", labels_json(parsed->second)}};
    if (auto last = t.db()->last(key)) {
      j["t_ms"] = last->t_ms;
      j["value"] = last->value;
    }
    out.push_back(std::move(j));
  }
  return out;
}

// The latest samples as server-sent events ("event: metrics"), one frame per interval, for
// live views (the dashboard's overview). The store's series list and last samples are
// in-memory reads, so a poll never waits on the disk.
class MetricStream final : public SseSource {
 public:
  MetricStream(telemetry::Telemetry& t, std::optional<telemetry::Selector> sel, std::string prefix,
               std::chrono::milliseconds interval)
      : t_(t), sel_(std::move(sel)), prefix_(std::move(prefix)), interval_(interval) {}

  bool poll(std::string& out) override {
    auto now = std::chrono::steady_clock::now();
    if (sent_ && now - last_ < interval_) return true;
    sent_ = true;
    last_ = now;
    Json frame{{"t_ms", now_ms()}, {"series", latest_series(t_, sel_ ? &*sel_ : nullptr, prefix_)}};
    out += "event: metrics\ndata: " + frame.dump(-1, ' ', false, Json::error_handler_t::replace) +
           "\n\n";
    return true;
  }

 private:
  telemetry::Telemetry& t_;
  std::optional<telemetry::Selector> sel_;
  std::string prefix_;
  std::chrono::milliseconds interval_;
  bool sent_ = false;
  std::chrono::steady_clock::time_point last_;
};

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
                auto sel = match_param(r);
                if (!sel) return Response::from_error(sel.error());
                Json out = latest_series(t, *sel ? &**sel : nullptr, "");
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

// /v1/metrics/stream
void add_stream_route(Router& router, telemetry::Telemetry& t) {
  router.add({"GET", "/v1/metrics/stream", Role::kViewer,
              "The latest sample of each series as server-sent events (event: metrics) every "
              "?interval_ms= (default 2000, at least 500); ?match=SELECTOR and ?prefix=NAME narrow",
              [&t](Request& r) {
                if (!t.db()) return unavailable();
                auto sel = match_param(r);
                if (!sel) return Response::from_error(sel.error());
                long interval = 2000;
                std::string iv = r.query_or("interval_ms", "2000");
                try {
                  interval = std::stol(iv);
                } catch (const std::exception&) {
                  interval = -1;
                }
                if (interval < 500 || interval > 3600000) {
                  return Response::error(400, "invalid_argument",
                                         "interval_ms must be a number from 500 to 3600000");
                }
                Response res;
                res.sse =
                    std::make_shared<MetricStream>(t, std::move(*sel), r.query_or("prefix", ""),
                                                   std::chrono::milliseconds(interval));
                return res;
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
  add_stream_route(router, t);
}

}  // namespace aion::api
