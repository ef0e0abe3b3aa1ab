// aion metrics ls [SELECTOR]: the stored series with their latest value.
// aion metrics query SELECTOR [--since 1h] [--step 1m] [--agg avg]: samples of the matching
// series, raw or aggregated per step.
// aion metrics import FILE|-: push samples in the Prometheus text format into aiond's store.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "aion/api/http.h"
#include "aion/core/json.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

std::string local_time(long long ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string number(double v) {
  char buf[32];
  if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

}  // namespace

namespace {

// aion metrics ls [selector]
void add_metrics_ls(Command& metrics, Context& ctx) {
  auto match = std::make_shared<std::string>();
  Command ls = metrics.add("ls", "List the stored series and their latest value");
  ls.option("selector", *match,
            "Only series matching NAME or NAME{label=\"value\",...}, e.g. "
            "'aion_gpu_temperature_celsius'");
  ls.action([&ctx, match] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET",
                     "/v1/metrics" + (match->empty() ? "" : "?match=" + api::url_encode(*match)));
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    Table t({"SERIES", "VALUE", "AT"});
    for (const auto& s : j.value("series", Json::array())) {
      t.add({s.value("series", ""), s.contains("value") ? number(s["value"].get<double>()) : "-",
             s.contains("t_ms") ? local_time(s["t_ms"].get<long long>()) : "-"});
    }
    if (t.empty()) {
      std::printf("no series%s\n", match->empty() ? "" : " match");
      return;
    }
    t.print();
    const Json& st = j["store"];
    std::printf("\n%lld series, %lld samples, %.1f KiB in memory, %.1f KiB on disk\n",
                st.value("series", 0LL), st.value("samples", 0LL),
                st.value("memory_bytes", 0.0) / 1024, st.value("disk_bytes", 0.0) / 1024);
  });
}

// aion metrics import FILE
void add_metrics_import(Command& metrics, Context& ctx) {
  auto import_file = std::make_shared<std::string>();
  Command import_cmd = metrics.add(
      "import",
      "Store samples in the Prometheus text format (`name{label=\"v\"} value [timestamp_ms]` "
      "per line) in aiond, e.g. a training job's own metrics; needs operator");
  import_cmd.option("file", *import_file, "The file, or - for standard input").required();
  import_cmd.action([&ctx, import_file] {
    std::string text;
    if (*import_file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(*import_file, std::ios::binary);
      if (!in) {
        report(ctx, Error(ErrorCode::kNotFound, "cannot read " + *import_file));
        ctx.exit_code = kExitUsage;
        return;
      }
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "POST", "/v1/metrics/import", text);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    std::printf("stored %lld samples", j.value("samples", 0LL));
    if (j.value("rejected", 0LL) > 0) {
      std::printf("; %lld refused (a series takes samples in time order), first: %s",
                  j.value("rejected", 0LL), j.value("first_rejection", "").c_str());
      ctx.exit_code = kExitFailure;
    }
    std::printf("\n");
  });
}

// aion metrics query SELECTOR
void add_metrics_query(Command& metrics, Context& ctx) {
  struct QueryArgs {
    std::string selector;
    std::string since = "1h";
    std::string step;
    std::string agg;
  };
  auto q = std::make_shared<QueryArgs>();
  Command query =
      metrics.add("query", "Samples of the series a selector matches, raw or aggregated per step");
  query.option("selector", q->selector, "NAME or NAME{label=\"value\",other!=\"x\"}").required();
  query.option("--since", q->since, "How far back: 90s, 15m, 1h, 2d (default 1h)");
  query.option("--step", q->step, "Aggregate per step of this length (e.g. 1m)");
  query.option("--agg", q->agg, "avg (default with --step), min, max, sum, last, p95, raw");
  query.action([&ctx, q] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::string target = "/v1/metrics/query?q=" + api::url_encode(q->selector) +
                         "&since=" + api::url_encode(q->since);
    if (!q->step.empty()) target += "&step=" + api::url_encode(q->step);
    if (!q->agg.empty()) target += "&agg=" + api::url_encode(q->agg);
    auto body = call(ctx, *client, "GET", target);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    bool first = true;
    for (const auto& s : j.value("result", Json::array())) {
      if (!first) std::printf("\n");
      first = false;
      std::printf("%s\n", s.value("series", "").c_str());
      Table t({"TIME", "VALUE"});
      for (const auto& p : s.value("points", Json::array())) {
        t.add({local_time(p[0].get<long long>()), number(p[1].get<double>())});
      }
      if (t.empty()) {
        std::printf("  (no samples in the last %s)\n", q->since.c_str());
      } else {
        t.print();
      }
    }
  });
}

}  // namespace

void add_metrics_commands(Command& app, Context& ctx) {
  Command metrics = app.add(
      "metrics", "Host, GPU and job metrics kept by aiond (also served to Prometheus at /metrics)");
  metrics.require_subcommand();

  add_metrics_ls(metrics, ctx);
  add_metrics_import(metrics, ctx);
  add_metrics_query(metrics, ctx);
}

}  // namespace aion::cli
