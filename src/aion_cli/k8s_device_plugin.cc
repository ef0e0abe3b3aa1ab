#include "k8s_device_plugin.h"

#include <unistd.h>

#include <filesystem>

namespace aion::cli {

void add_device_plugin_options(Command& app, DevicePluginArgs& a) {
  app.option("--plugin-dir", a.plugin_dir, "The kubelet's device plugin directory").show_default();
  app.option("--kubelet-socket", a.kubelet_socket,
             "The kubelet's Registration socket (default: PLUGIN_DIR/kubelet.sock)");
  app.option("--resource", a.resource, "Resource name to advertise (its domain picks the vendor)")
      .show_default();
  app.option("--socket-name", a.socket_name, "Our socket's name in the plugin directory")
      .show_default();
  app.option("--state-dir", a.state_dir,
             "aiond's state directory, for its health marker health/unhealthy");
  app.option("--poll-ms", a.poll_ms, "How often devices and health are read again")
      .show_default()
      .range(100, 3'600'000);
  app.option("--log-level", a.log_level, "trace|debug|info|warn|error").show_default();
}

std::vector<std::string> device_plugin_argv(const std::string& helper, const Context& ctx,
                                            const DevicePluginArgs& a) {
  std::vector<std::string> argv{helper};
  if (!ctx.config.empty()) argv.insert(argv.end(), {"--config", ctx.config});
  if (!ctx.host_root.empty()) argv.insert(argv.end(), {"--host-root", ctx.host_root});
  argv.insert(argv.end(),
              {"--plugin-dir", a.plugin_dir, "--resource", a.resource, "--socket-name",
               a.socket_name, "--poll-ms", std::to_string(a.poll_ms), "--log-level", a.log_level});
  if (!a.kubelet_socket.empty()) argv.insert(argv.end(), {"--kubelet-socket", a.kubelet_socket});
  if (!a.state_dir.empty()) argv.insert(argv.end(), {"--state-dir", a.state_dir});
  return argv;
}

std::string find_device_plugin_helper() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& p : {self.parent_path() / kDevicePluginHelper,
                        self.parent_path().parent_path() / "lib/aion" / kDevicePluginHelper}) {
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

}  // namespace aion::cli
