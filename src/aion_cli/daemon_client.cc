#include "daemon_client.h"

#include <cstdio>
#include <filesystem>

#include "aion/api/node_schema.h"
#include "aion/core/config.h"
#include "aion/core/paths.h"

namespace aion::cli {

std::optional<Config> load_config(Context& ctx) {
  ConfigSchema schema = api::node_config_schema();
  std::string path = ctx.config;
  if (path.empty()) {
    if (auto d = default_paths().config_file) path = d->string();
  }
  auto cfg = path.empty() ? Result<Config>(Config::defaults(schema)) : Config::load(path, schema);
  if (!cfg) {
    report(ctx, cfg.error());
    return std::nullopt;
  }
  if (!ctx.host_root.empty()) cfg->set_string("host.root", ctx.host_root);
  return std::move(*cfg);
}

void report(Context& ctx, const Error& e) {
  std::fprintf(stderr, "aion: %s\n", e.message().c_str());
  switch (e.code()) {
    case ErrorCode::kUnavailable: ctx.exit_code = kExitUnreachable; break;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kConfig: ctx.exit_code = kExitUsage; break;
    default: ctx.exit_code = kExitFailure; break;
  }
}

namespace {

// Sockets to try, in order. Sets ctx's exit code and returns an error only when an explicit
// --config cannot be read.
Result<std::vector<std::filesystem::path>> socket_candidates(const Context& ctx) {
  std::vector<std::filesystem::path> candidates;
  if (!ctx.socket.empty()) {
    candidates.push_back(ctx.socket);
  } else {
    // A config file that names a socket wins over the defaults.
    std::string cfg_path = ctx.config;
    if (cfg_path.empty()) {
      if (auto d = default_paths().config_file) cfg_path = d->string();
    }
    if (!cfg_path.empty()) {
      auto cfg = Config::load(cfg_path, api::node_config_schema());
      if (!cfg) {
        if (!ctx.config.empty()) return std::unexpected(cfg.error());
      } else if (!cfg->get_string("daemon.socket").empty()) {
        candidates.push_back(cfg->get_string("daemon.socket"));
      }
    }
    for (auto& s : candidate_sockets()) candidates.push_back(s);
  }
  return candidates;
}

}  // namespace

std::optional<api::Client> try_connect(const Context& ctx) {
  auto candidates = socket_candidates(ctx);
  if (!candidates) return std::nullopt;
  for (const auto& path : *candidates) {
    if (auto c = api::Client::connect_unix(path)) return std::move(*c);
  }
  return std::nullopt;
}

std::optional<api::Client> connect_daemon(Context& ctx) {
  auto found = socket_candidates(ctx);
  if (!found) {
    report(ctx, found.error());
    return std::nullopt;
  }
  const auto& candidates = *found;
  std::optional<Error> first_error;
  for (const auto& path : candidates) {
    auto c = api::Client::connect_unix(path);
    if (c) return std::move(*c);
    // Permission problems are more telling than "not running" on a later candidate.
    if (!first_error || (c.error().code() == ErrorCode::kPermissionDenied &&
                         first_error->code() != ErrorCode::kPermissionDenied)) {
      first_error = c.error();
    }
  }
  std::string tried;
  for (const auto& p : candidates) tried += (tried.empty() ? "" : ", ") + p.string();
  Error e = first_error.value_or(Error(ErrorCode::kUnavailable, "no socket to try"));
  if (e.code() == ErrorCode::kUnavailable) {
    e = Error(ErrorCode::kUnavailable,
              "aiond is not running (tried " + tried +
                  "). Start it with `./scripts/run.sh` or `aiond` from a build, or "
                  "`sudo systemctl start aiond` when installed; --socket names another socket");
  }
  report(ctx, e);
  return std::nullopt;
}

std::optional<std::string> call(Context& ctx, api::Client& client, std::string_view method,
                                std::string_view target, std::string_view body) {
  auto r = client.request(method, target, body);
  if (!r) {
    report(ctx, r.error());
    return std::nullopt;
  }
  if (!r->ok()) {
    Error e = r->error();
    std::fprintf(stderr, "aion: %s\n", e.message().c_str());
    ctx.exit_code =
        (r->status == 400 || r->status == 404 || r->status == 413) ? kExitUsage : kExitFailure;
    return std::nullopt;
  }
  return std::move(r->body);
}

}  // namespace aion::cli
