// aion admin: API tokens and backups of the state database.
#include <cstdio>
#include <filesystem>

#include "aion/core/json.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {

namespace {

void add_token_create(Command& token, Context& ctx) {
  struct CreateArgs {
    std::string role = "viewer";
    std::string note;
    std::string run_as;
  };
  auto create_args = std::make_shared<CreateArgs>();
  Command create =
      token.add("create", "Create a token; it is shown once and stored only as a salted hash");
  create
      .option("--role", create_args->role,
              "viewer (read), operator (run and change), admin (everything)")
      .one_of({"viewer", "operator", "admin"});
  create.option("--note", create_args->note,
                "What the token is for, shown by `aion admin token ls`");
  create.option(
      "--run-as", create_args->run_as,
      "Users the token may run jobs as, e.g. alice,bob (fixed for the token's life; never root "
      "or a system account below UID_MIN). Root may list any user; an 'aion' group member only "
      "itself. Without it the token runs no job");
  create.action([&ctx, create_args] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    Json req = {{"role", create_args->role}, {"note", create_args->note}};
    if (!create_args->run_as.empty()) req["run_as"] = create_args->run_as;
    auto body = call(ctx, *client, "POST", "/v1/admin/tokens", req.dump());
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    std::printf("%s\n", j.value("token", "").c_str());
    std::fprintf(stderr,
                 "Token %s (%s) created. It is shown only now: keep it; revoke it with "
                 "`aion admin token revoke %s`.\n",
                 j.value("id", "").c_str(), j.value("role", "").c_str(), j.value("id", "").c_str());
  });
}

void add_token_ls(Command& token, Context& ctx) {
  Command ls = token.add("ls", "List tokens (never their secrets)");
  ls.action([&ctx] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/admin/tokens");
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    Table t({"ID", "ROLE", "RUN AS", "CREATED", "LAST USED", "STATE", "NOTE"});
    for (const auto& tok : j.value("tokens", Json::array())) {
      std::string run_as;
      for (const auto& u : tok.value("run_as", Json::array())) {
        if (u.is_string()) run_as += (run_as.empty() ? "" : ",") + u.get<std::string>();
      }
      t.add({tok.value("id", ""), tok.value("role", ""), run_as.empty() ? "-" : run_as,
             tok.value("created_at", ""),
             tok.value("last_used_at", "").empty() ? "-" : tok.value("last_used_at", ""),
             tok.value("revoked_at", "").empty() ? "active" : "revoked", tok.value("note", "")});
    }
    if (t.empty()) {
      std::printf("no tokens; create one with `aion admin token create --role viewer`\n");
    } else {
      t.print();
    }
  });
}

void add_token_revoke(Command& token, Context& ctx) {
  auto revoke_id = std::make_shared<std::string>();
  Command revoke = token.add("revoke", "Revoke a token; requests using it get 401 from now on");
  revoke.option("ID", *revoke_id, "Token id (from `aion admin token ls`)").required();
  revoke.action([&ctx, revoke_id] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "DELETE", "/v1/admin/tokens/" + *revoke_id);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
    } else {
      std::printf("token %s revoked\n", revoke_id->c_str());
    }
  });
}

// `aion admin hold` and `aion admin release`.
void add_hold_commands(Command& admin, Context& ctx) {
  for (bool hold : {true, false}) {
    Command cmd =
        admin.add(hold ? "hold" : "release",
                  hold ? "Hold the node: no job starts (jobs are still queued; running ones go on)"
                       : "Release a held node: queued jobs start again");
    cmd.action([&ctx, hold] {
      auto client = connect_daemon(ctx);
      if (!client) return;
      auto body = call(ctx, *client, "POST", "/v1/sched/hold", Json{{"hold", hold}}.dump());
      if (!body) return;
      if (ctx.json) {
        std::printf("%s\n", body->c_str());
      } else {
        std::printf(hold ? "node held: no job starts until `aion admin release`\n"
                         : "node released: queued jobs start again\n");
      }
    });
  }
}

// `aion admin drain GPU` and `aion admin undrain GPU`.
void add_drain_commands(Command& admin, Context& ctx) {
  struct DrainArgs {
    std::string gpu;
    std::string reason;
  };
  auto drain_args = std::make_shared<DrainArgs>();
  for (bool drain : {true, false}) {
    Command cmd = admin.add(
        drain ? "drain" : "undrain",
        drain ? "Take a GPU out of placement: no new job is placed on it (running ones go on); "
                "kept across aiond restarts"
              : "Give a drained GPU back to placement");
    cmd.option("GPU", drain_args->gpu,
               "PCI address (0000:3b:00.0 or 3b:00.0) or index (as in `aion hw`)")
        .required();
    if (drain) cmd.option("--reason", drain_args->reason, "Why, shown to users whose jobs wait");
    cmd.action([&ctx, drain, drain_args] {
      auto client = connect_daemon(ctx);
      if (!client) return;
      Json gpu = drain_args->gpu;
      if (!drain_args->gpu.empty() &&
          drain_args->gpu.find_first_not_of("0123456789") == std::string::npos)
        gpu = std::stoll(drain_args->gpu);
      Json req = {{"gpu", gpu}, {"drain", drain}};
      if (!drain_args->reason.empty()) req["reason"] = drain_args->reason;
      auto body = call(ctx, *client, "POST", "/v1/sched/drain", req.dump());
      if (!body) return;
      if (ctx.json) {
        std::printf("%s\n", body->c_str());
        return;
      }
      Json j = Json::parse(*body, nullptr, false);
      std::printf("GPU %s %s\n", j.value("gpu", "?").c_str(),
                  drain ? "drained: no new job is placed on it until `aion admin undrain`"
                        : "undrained: jobs may be placed on it again");
      if (j.contains("drained") && j["drained"].is_object() && !j["drained"].empty()) {
        std::printf("drained GPUs:\n");
        Table t;  // no header: GPU and why, under the heading above
        for (auto& [pci, why] : j["drained"].items())
          t.add({"  " + pci, why.is_string() ? why.get<std::string>() : why.dump()});
        t.print();
      }
    });
  }
}

void add_backup_command(Command& admin, Context& ctx) {
  auto backup_file = std::make_shared<std::string>();
  Command backup = admin.add(
      "backup", "Copy the state database to FILE while the daemon runs (SQLite online backup)");
  backup.option("FILE", *backup_file, "Where to write the copy; must not exist").required();
  backup.action([&ctx, backup_file] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::error_code ec;
    std::filesystem::path dest = std::filesystem::absolute(*backup_file, ec);
    Json req = {{"path", dest.string()}};
    auto body = call(ctx, *client, "POST", "/v1/admin/backup", req.dump());
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json j = Json::parse(*body, nullptr, false);
    std::printf("backup written to %s (%lld bytes, integrity ok)\n", j.value("path", "").c_str(),
                j.value("size_bytes", 0LL));
  });
}

}  // namespace

void add_admin_commands(Command& app, Context& ctx) {
  Command admin = app.add("admin", "Administration: API tokens, backups (needs the admin role)");
  admin.require_subcommand();

  Command token = admin.add("token", "Bearer tokens for the TCP API");
  token.require_subcommand();
  add_token_create(token, ctx);
  add_token_ls(token, ctx);
  add_token_revoke(token, ctx);
  add_hold_commands(admin, ctx);
  add_drain_commands(admin, ctx);
  add_backup_command(admin, ctx);
}

}  // namespace aion::cli
