#include "machine.h"

#include "aion/core/config.h"
#include "aion/core/paths.h"
#include "daemon_client.h"

namespace aion::cli {

std::optional<Machine> load_machine(Context& ctx) {
  ConfigSchema schema = config_schema();
  std::string path = ctx.config;
  if (path.empty()) {
    if (auto d = default_paths().config_file) path = d->string();
  }
  auto cfg = path.empty() ? Result<Config>(Config::defaults(schema)) : Config::load(path, schema);
  if (!cfg) {
    report(ctx, cfg.error());
    return std::nullopt;
  }
  auto options = hw::discovery_options(*cfg);
  if (!options) {
    report(ctx, options.error());
    return std::nullopt;
  }
  std::string root = !ctx.host_root.empty() ? ctx.host_root : cfg->get_string("host.root");
  return Machine{HostFs(root.empty() ? "/" : root), *options};
}

}  // namespace aion::cli
