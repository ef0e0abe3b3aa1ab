// aion k8s features | extender | device-plugin: the Kubernetes integration (aion/k8s). All
// three work without aiond: features and the device plugin read the machine (NVML, sysfs)
// and aiond's health marker, the extender reads a node state file. The device plugin runs in
// the aion-k8s-device-plugin helper (k8s_device_plugin.h), so `aion` itself never loads gRPC.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>

#include "aion/api/router.h"
#include "aion/api/server.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/log.h"
#include "aion/hw/discovery.h"
#include "aion/k8s/extender.h"
#include "aion/k8s/features.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "k8s_device_plugin.h"
#include "machine.h"

namespace aion::cli {
namespace {

// Blocks SIGINT/SIGTERM in this thread and every thread started after it, so that
// wait_for_stop() receives them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return set;
}

// True when a stop signal came within `wait`.
bool stop_signalled(const sigset_t& set, std::chrono::milliseconds wait) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(wait.count() / 1000);
  t.tv_nsec = static_cast<long>((wait.count() % 1000) * 1'000'000);
  return ::sigtimedwait(&set, nullptr, &t) > 0;
}

void run_features(Context& ctx, const std::string& output) {
  auto m = load_machine(ctx);
  if (!m) return;
  const hw::Inventory inv = discover(ctx, *m);
  const auto features = k8s::node_features(inv);
  std::string text;
  if (ctx.json) {
    Json j = Json::object();
    for (const auto& f : features) j[f.name] = f.value;
    text = j.dump(2) + "\n";
  } else {
    text = k8s::features_file(features);
  }
  if (output.empty()) {
    std::fputs(text.c_str(), stdout);
    return;
  }
  // Atomically, so that NFD's worker never reads half a file.
  auto st = HostFs("/").write_atomic(std::filesystem::absolute(output).string(), text);
  if (!st) report(ctx, st.error());
}

struct ExtenderArgs {
  std::string listen, state, policy = "fgd", resource = "nvidia.com/gpu", log_level = "info";
  int threads = 2;
  int max_body_mib = 32;
};

// The extender and the state file it came from; a changed file is read again before the next
// request, and a broken one is logged and the previous view kept.
class LiveExtender {
 public:
  explicit LiveExtender(const ExtenderArgs& args) : args_(args) {}

  Status load() {
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(args_.state, ec);
    auto view = k8s::load_cluster_view(args_.state);
    if (!view) return std::unexpected(view.error());
    auto ext = k8s::Extender::create({.policy = args_.policy, .gpu_resource = args_.resource},
                                     std::move(*view));
    if (!ext) return std::unexpected(ext.error());
    ext_ = std::move(*ext);
    mtime_ = mtime;
    return {};
  }

  std::shared_ptr<const k8s::Extender> current() {
    std::lock_guard lock(mu_);
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(args_.state, ec);
    if (!ec && mtime != mtime_) {
      if (auto st = load(); !st) {
        spdlog::warn("event=extender_state_rejected file={} reason=\"{}\"", args_.state,
                     st.error().message());
        mtime_ = mtime;
      } else {
        spdlog::info("event=extender_state_loaded file={}", args_.state);
      }
    }
    return ext_;
  }

 private:
  const ExtenderArgs& args_;
  std::mutex mu_;  // guards ext_ and mtime_ once the server's threads call current()
  std::shared_ptr<const k8s::Extender> ext_;
  std::filesystem::file_time_type mtime_;
};

void run_extender(Context& ctx, const ExtenderArgs& args) {
  if (auto st = log::init(args.log_level); !st) return report(ctx, st.error());
  LiveExtender live(args);
  if (auto st = live.load(); !st) return report(ctx, st.error());
  api::Router router;
  auto verb = [&live](bool filter) {
    return [&live, filter](api::Request& r) {
      auto ext = live.current();
      auto out = filter ? ext->filter(r.body) : ext->prioritize(r.body);
      if (!out) return api::Response::from_error(out.error());
      return api::Response::json_text(200, std::move(*out));
    };
  };
  router.add(
      {"POST", "/filter", api::Role::kViewer, "kube-scheduler extender: filter", verb(true)});
  router.add({"POST", "/prioritize", api::Role::kViewer, "kube-scheduler extender: prioritize",
              verb(false)});
  router.add({"GET", "/healthz", api::Role::kViewer, "liveness",
              [](api::Request&) { return api::Response::json_text(200, "{\"ok\":true}"); }});
  const sigset_t stop = block_stop_signals();
  api::ServerOptions so{.tcp_listen = args.listen,
                        .threads = args.threads,
                        .max_body_bytes = static_cast<std::size_t>(args.max_body_mib) << 20,
                        .tcp_anonymous = true};
  api::Server server(so, router, nullptr);
  if (auto st = server.start(); !st) return report(ctx, st.error());
  for (const auto& l : server.listeners()) {
    spdlog::info("event=extender_listening address={} policy={} resource={} state={}", l.address,
                 args.policy, args.resource, args.state);
  }
  while (!stop_signalled(stop, std::chrono::seconds(3600))) {
  }
  server.stop(std::chrono::seconds(2));
}

// Execs the helper that holds gRPC (k8s_device_plugin.h says why), with the same options.
void run_device_plugin(Context& ctx, const DevicePluginArgs& args) {
  const std::string helper = find_device_plugin_helper();
  if (helper.empty()) {
    return report(ctx, Error(ErrorCode::kNotFound,
                             std::string(kDevicePluginHelper) +
                                 " is not installed next to aion or in ../lib/aion; reinstall the "
                                 "aion package or build the target " +
                                 kDevicePluginHelper));
  }
  std::vector<std::string> argv = device_plugin_argv(helper, ctx, args);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  ::execv(helper.c_str(), cargv.data());
  report(ctx, errno_error(errno, "exec " + helper));
}

}  // namespace

void add_k8s_commands(Command& app, Context& ctx) {
  Command k8s = app.add(
      "k8s", "Kubernetes: node feature labels, the scheduler extender and the device plugin");
  k8s.require_subcommand();

  auto output = std::make_shared<std::string>();
  Command feat =
      k8s.add("features",
              "Print this node's GPU labels as a node-feature-discovery local feature file "
              "(/etc/kubernetes/node-feature-discovery/features.d/aion)");
  feat.option("--output", *output, "Write the file here (atomically) instead of stdout");
  feat.action([&ctx, output] { run_features(ctx, *output); });

  auto ext = std::make_shared<ExtenderArgs>();
  Command e =
      k8s.add("extender", "Serve kube-scheduler's extender API (POST /filter, /prioritize) on TCP");
  e.option("--listen", ext->listen, "host:port to listen on, e.g. 127.0.0.1:8888").required();
  e.option("--state", ext->state, "Node state file (JSON; see README, Kubernetes)").required();
  e.option("--policy", ext->policy, "Placement policy (as in `aion sim`)").show_default();
  e.option("--resource", ext->resource, "The GPU extended resource").show_default();
  e.option("--threads", ext->threads, "Server threads").show_default();
  e.option("--max-body-mib", ext->max_body_mib, "Largest request body (MiB)").show_default();
  e.option("--log-level", ext->log_level, "trace|debug|info|warn|error").show_default();
  e.action([&ctx, ext] {
    if (!strict_applies(ctx, "k8s extender", "it serves until stopped")) return;
    run_extender(ctx, *ext);
  });

  auto dp = std::make_shared<DevicePluginArgs>();
  Command d =
      k8s.add("device-plugin",
              "Serve the kubelet device plugin API (v1beta1) for this node's GPUs and register it");
  add_device_plugin_options(d, *dp);
  d.action([&ctx, dp] {
    if (!strict_applies(ctx, "k8s device-plugin", "it serves until stopped")) return;
    run_device_plugin(ctx, *dp);
  });
}

}  // namespace aion::cli
