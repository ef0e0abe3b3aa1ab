// The machine a command reads: the host root and discovery options from --host-root,
// --config ([hw], [[simulate.gpu]]) and the environment, as `aion hw` reads them. Not
// thread-safe: these report through the command's Context, on its thread.
#pragma once

#include <optional>

#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "cli.h"

namespace aion::cli {

struct Machine {
  HostFs fs;
  hw::DiscoveryOptions options;
  Config config;
};

// On a bad config prints the error, sets ctx.exit_code and returns nullopt.
std::optional<Machine> load_machine(Context& ctx);

// The machine's hardware. What discovery could not read (an unreadable device, a missing
// driver) goes to warn(), so that --strict fails the command.
hw::Inventory discover(Context& ctx, const HostFs& fs, const hw::DiscoveryOptions& options);
inline hw::Inventory discover(Context& ctx, const Machine& m) {
  return discover(ctx, m.fs, m.options);
}

}  // namespace aion::cli
