// aion events: the daemon's event log (hardware changes, anomalies, incidents, operator notes).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "aion/core/json.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

void print_event_line(const Json& e) {
  std::printf("%-6lld %s  %-8s %-14s %-10s %s\n", e.value("id", 0LL), e.value("time", "").c_str(),
              e.value("severity", "").c_str(), e.value("kind", "").c_str(),
              e.value("source", "").c_str(), e.value("message", "").c_str());
}

}  // namespace

void add_events_commands(CLI::App& app, Context& ctx) {
  struct Args {
    long long since_id = -1;
    int limit = 50;
    std::string kind;
    bool follow = false;
    std::string message;
    std::string severity = "info";
  };
  auto args = std::make_shared<Args>();
  auto* events = app.add_subcommand("events", "Show the event log; --follow streams new events");
  events->add_option(
      "--since-id", args->since_id,
      "Page forward: the first --limit events after this id (default: the newest --limit)");
  events->add_option("--limit", args->limit, "At most this many (newest), default 50")
      ->check(CLI::Range(1, 10000));
  events->add_option("--kind", args->kind, "Only this kind (annotation, hw_change, ...)");
  events->add_flag("-f,--follow", args->follow, "Keep streaming new events until interrupted");
  events->callback([&ctx, args, events] {
    if (events->got_subcommand("post")) return;
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::string q = "/v1/events?limit=" + std::to_string(args->limit) +
                    (args->since_id >= 0 ? "&since_id=" + std::to_string(args->since_id) : "") +
                    (args->kind.empty() ? "" : "&kind=" + args->kind);
    auto body = call(ctx, *client, "GET", q);
    if (!body) return;
    Json j = Json::parse(*body, nullptr, false);
    long long last = std::max(0LL, args->since_id);
    if (args->since_id < 0) last = j.value("last_id", 0LL);
    if (ctx.json && !args->follow) {
      std::printf("%s\n", body->c_str());
      return;
    }
    for (const auto& e : j.value("events", Json::array())) {
      if (ctx.json) {
        std::printf("%s\n", e.dump().c_str());
      } else {
        print_event_line(e);
      }
      last = std::max(last, e.value("id", 0LL));
    }
    if (!args->follow) return;
    std::fflush(stdout);
    auto st = client->stream("/v1/events/stream?since_id=" + std::to_string(last) +
                                 (args->kind.empty() ? "" : "&kind=" + args->kind),
                             [&](std::string_view data) {
                               Json e = Json::parse(data, nullptr, false);
                               if (ctx.json) {
                                 std::printf("%s\n", e.dump().c_str());
                               } else {
                                 print_event_line(e);
                               }
                               std::fflush(stdout);
                               return true;
                             });
    if (!st) report(ctx, st.error());
  });

  auto* post =
      events->add_subcommand("post", "Add an operator note to the event log (operator role)");
  post->add_option("MESSAGE", args->message, "The note, e.g. \"draining node for BIOS update\"")
      ->required();
  post->add_option("--severity", args->severity, "info, warning or critical")
      ->check(CLI::IsMember({"info", "warning", "critical"}));
  post->callback([&ctx, args] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    Json req = {{"message", args->message}, {"severity", args->severity}};
    auto body = call(ctx, *client, "POST", "/v1/events", req.dump());
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
    } else {
      std::printf("event %lld recorded\n", Json::parse(*body, nullptr, false).value("id", 0LL));
    }
  });
}

}  // namespace aion::cli
