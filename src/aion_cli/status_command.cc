// aion status, aion version.
#include <cstdio>

#include "aion/core/json.h"
#include "aion/core/version.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {

void add_status_commands(Command& app, Context& ctx) {
  Command status =
      app.add("status", "Show the daemon: version, uptime, state, listeners, state directory");
  status.action([&ctx] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/status");
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    if (!j.is_object()) {
      std::fprintf(stderr, "aion: the daemon sent an unreadable status\n");
      ctx.exit_code = kExitFailure;
      return;
    }
    std::printf("aiond %s, pid %lld, %s, up %s\n", j.value("version", "?").c_str(),
                j.value("pid", 0LL), j.value("state", "?").c_str(),
                format_duration(j.value("uptime_seconds", 0LL)).c_str());
    Table t({"started", j.value("started_at", "")});
    for (const auto& l : j.value("listeners", Json::array())) {
      t.add({"listener", l.value("kind", "") + " " + l.value("address", "")});
    }
    if (j.contains("store")) {
      t.add({"state", j["store"].value("path", "") + " (" +
                          std::to_string(j["store"].value("size_bytes", 0LL) / 1024) + " KiB)"});
    }
    t.add({"config", j.value("config", "")});
    t.add({"host root", j.value("host_root", "/")});
    if (j.contains("caller")) {
      t.add({"you are", j["caller"].value("name", "") + ", role " + j["caller"].value("role", "")});
    }
    t.print();
  });

  Command version =
      app.add("version", "Print the version of this client (and of the daemon when it runs)");
  version.action([&ctx] {
    std::string daemon_version;
    if (auto c = try_connect(ctx)) {
      if (auto r = c->get("/v1/status"); r && r->ok()) {
        daemon_version = Json::parse(r->body, nullptr, false).value("version", "");
      }
    }
    if (ctx.json) {
      Json j = {{"client", kVersion}};
      if (!daemon_version.empty()) j["daemon"] = daemon_version;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("aion %s\n", kVersion);
      if (!daemon_version.empty()) std::printf("aiond %s\n", daemon_version.c_str());
    }
  });
}

}  // namespace aion::cli
