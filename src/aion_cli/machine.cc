#include "machine.h"

#include "daemon_client.h"

namespace aion::cli {

std::optional<Machine> load_machine(Context& ctx) {
  auto cfg = load_config(ctx);
  if (!cfg) return std::nullopt;
  auto options = hw::discovery_options(*cfg);
  if (!options) {
    report(ctx, options.error());
    return std::nullopt;
  }
  const std::string root = cfg->get_string("host.root");
  return Machine{HostFs(root.empty() ? "/" : root), *options, std::move(*cfg)};
}

hw::Inventory discover(Context& ctx, const HostFs& fs, const hw::DiscoveryOptions& options) {
  hw::Inventory inv = hw::discover(fs, options);
  for (const auto& w : inv.warnings) warn(ctx, w.device + ": " + w.message);
  return inv;
}

}  // namespace aion::cli
