// How CLI commands reach aiond: picks the socket (--socket, then the config's
// daemon.socket, then the default candidates), connects, and turns transport and API
// errors into the CLI's exit codes and messages. Not thread-safe: called from the command's
// thread with its Context (and the Client, one connection, is not thread-safe either).
#pragma once

#include <string>
#include <string_view>

#include "aion/api/client.h"
#include "aion/core/config.h"
#include "aion/core/error.h"
#include "cli.h"

namespace aion::cli {

// Connects to the daemon. On failure prints the reason on stderr, sets ctx.exit_code
// (3 when unreachable) and returns nullopt.
std::optional<api::Client> connect_daemon(Context& ctx);

// Connects without printing anything (for optional information such as the daemon's
// version).
std::optional<api::Client> try_connect(const Context& ctx);

// Sends a request and returns the response body when the status is 2xx. Otherwise prints
// the error envelope's message on stderr and sets ctx.exit_code (1, or 2 for 4xx usage errors).
std::optional<std::string> call(Context& ctx, api::Client& client, std::string_view method,
                                std::string_view target, std::string_view body = {});

// The configuration a command runs with: --config / AION_CONFIG, else the default file, else
// the built-in defaults; --host-root, when given, overrides host.root. On a bad file prints
// the error, sets ctx.exit_code and returns nullopt.
std::optional<Config> load_config(Context& ctx);

// Prints an error on stderr as "aion: <message>" and sets the exit code from its code.
void report(Context& ctx, const Error& e);

}  // namespace aion::cli
