// `aion k8s device-plugin`'s options, shared by the `aion` command that declares them and the
// aion-k8s-device-plugin helper that runs the plugin. The helper is a program of its own so
// that gRPC (about 50 shared libraries) is loaded only by the plugin, not by every `aion`
// command: `aion k8s device-plugin` parses the options and execs the helper with them.
// Plain values and functions of their arguments (and of the program's own path); thread-safe.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "command.h"

namespace aion::cli {

inline constexpr const char* kDevicePluginHelper = "aion-k8s-device-plugin";

struct DevicePluginArgs {
  std::string plugin_dir = "/var/lib/kubelet/device-plugins";
  std::string kubelet_socket;  // "" -> PLUGIN_DIR/kubelet.sock
  std::string resource = "nvidia.com/gpu";
  std::string socket_name = "aion-gpu.sock";
  std::string state_dir;  // "" -> aiond's default
  std::string log_level = "info";
  int poll_ms = 5000;
};

void add_device_plugin_options(Command& app, DevicePluginArgs& args);

// The helper's command line for these options and the context's --config / --host-root.
std::vector<std::string> device_plugin_argv(const std::string& helper, const Context& ctx,
                                            const DevicePluginArgs& args);

// The helper next to this program or in ../lib/aion (the installed layout); "" when absent.
std::string find_device_plugin_helper();

}  // namespace aion::cli
