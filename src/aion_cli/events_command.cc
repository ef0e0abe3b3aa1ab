// aion events: the daemon's event log (hardware changes, anomalies, incidents, operator notes).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

// One event as a row of the event table (no header: the lines read as a log).
std::vector<std::string> event_row(const Json& e) {
  return {std::to_string(e.value("id", 0LL)),
          e.value("time", ""),
          e.value("severity", ""),
          e.value("kind", ""),
          e.value("source", ""),
          e.value("message", "")};
}

}  // namespace

void add_events_commands(Command& app, Context& ctx) {
  struct Args {
    long long since_id = -1;
    int limit = 50;
    std::string kind;
    bool follow = false;
    std::string message;
    std::string severity = "info";
  };
  auto args = std::make_shared<Args>();
  Command events = app.add("events", "Show the event log; --follow streams new events");
  events.option(
      "--since-id", args->since_id,
      "Page forward: the first --limit events after this id (default: the newest --limit)");
  events.option("--limit", args->limit, "At most this many (newest), default 50").range(1, 10000);
  events.option("--kind", args->kind, "Only this kind (annotation, hw_change, ...)");
  events.flag("-f,--follow", args->follow, "Keep streaming new events until interrupted");
  events.action([&ctx, args, events] {
    if (events.ran_subcommand()) return;
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
    Table table;
    for (const auto& e : j.value("events", Json::array())) {
      if (ctx.json) {
        std::printf("%s\n", e.dump().c_str());
      } else {
        table.add(event_row(e));
      }
      last = std::max(last, e.value("id", 0LL));
    }
    table.print();
    if (!args->follow) return;
    std::fflush(stdout);
    // Streamed events line up with the table printed so far.
    auto st = client->stream("/v1/events/stream?since_id=" + std::to_string(last) +
                                 (args->kind.empty() ? "" : "&kind=" + args->kind),
                             [&](std::string_view data) {
                               Json e = Json::parse(data, nullptr, false);
                               if (ctx.json) {
                                 std::printf("%s\n", e.dump().c_str());
                               } else {
                                 table.print_row(event_row(e));
                               }
                               std::fflush(stdout);
                               return true;
                             });
    if (!st) report(ctx, st.error());
  });

  Command post = events.add("post", "Add an operator note to the event log (operator role)");
  post.option("MESSAGE", args->message, "The note, e.g. \"draining node for BIOS update\"")
      .required();
  post.option("--severity", args->severity, "info, warning or critical")
      .one_of({"info", "warning", "critical"});
  post.action([&ctx, args] {
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
