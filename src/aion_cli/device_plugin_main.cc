// aion-k8s-device-plugin: the Kubernetes device plugin (aion/k8s/device_plugin.h), started
// by `aion k8s device-plugin` with the same options. Serves and registers, then serves anew
// and registers again whenever the kubelet removes our socket (it does when it restarts),
// until SIGTERM or SIGINT. Exit codes as aion's: 0 stopped by a signal, 1 the plugin failed,
// 2 usage or configuration error.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "aion/core/log.h"
#include "aion/core/paths.h"
#include "aion/k8s/device_plugin.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "k8s_device_plugin.h"
#include "machine.h"

namespace aion::cli {
namespace {

// True when a stop signal came within `wait`.
bool stop_signalled(const sigset_t& set, std::chrono::milliseconds wait) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(wait.count() / 1000);
  t.tv_nsec = static_cast<long>((wait.count() % 1000) * 1'000'000);
  return ::sigtimedwait(&set, nullptr, &t) > 0;
}

void run(Context& ctx, const DevicePluginArgs& args) {
  if (auto st = log::init(args.log_level); !st) return report(ctx, st.error());
  auto m = load_machine(ctx);
  if (!m) return;
  const std::filesystem::path state_dir =
      args.state_dir.empty() ? default_paths().state_dir : std::filesystem::path(args.state_dir);
  k8s::PluginOptions po;
  po.resource_name = args.resource;
  po.plugin_dir = args.plugin_dir;
  po.kubelet_socket = args.kubelet_socket;
  po.socket_name = args.socket_name;
  po.health_marker = state_dir / "health" / "unhealthy";
  po.host = m->fs;
  po.poll_interval = std::chrono::milliseconds(args.poll_ms);
  po.discover = [fs = m->fs, opts = m->options] { return hw::discover(fs, opts); };

  // Blocked before any thread starts, so only sigtimedwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  while (true) {
    auto plugin = k8s::DevicePlugin::start(po);
    if (!plugin) return report(ctx, plugin.error());
    if (auto st = (*plugin)->register_with_kubelet(); !st) return report(ctx, st.error());
    while ((*plugin)->socket_present()) {
      if (stop_signalled(stop, std::chrono::seconds(1))) {
        spdlog::info("event=device_plugin_stopping");
        return;
      }
    }
    spdlog::warn("event=device_plugin_socket_removed socket={} action=reregister",
                 (*plugin)->socket_path().string());
  }
}

}  // namespace
}  // namespace aion::cli

int main(int argc, char** argv) {
  using namespace aion::cli;
  Context ctx;
  if (const char* c = std::getenv("AION_CONFIG")) ctx.config = c;
  if (const char* r = std::getenv("AION_HOST_ROOT")) ctx.host_root = r;
  DevicePluginArgs args;
  CommandLine line(kDevicePluginHelper,
                   "aion-k8s-device-plugin: the Kubernetes device plugin for this node's GPUs "
                   "(started by `aion k8s device-plugin`)");
  Command app = line.root();
  app.option("--config", ctx.config, "Configuration file");
  app.option("--host-root", ctx.host_root, "Read /proc, /sys, /dev below this directory");
  add_device_plugin_options(app, args);
  if (auto done = line.parse(argc, argv)) return *done;
  run(ctx, args);
  return ctx.exit_code;
}
