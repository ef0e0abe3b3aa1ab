#include "aion/k8s/device_plugin.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "deviceplugin_v1beta1.grpc.pb.h"

namespace aion::k8s {
namespace {

std::optional<std::string> read_marker(const std::filesystem::path& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

grpc::Status invalid(const Error& e) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.message());
}

}  // namespace

class DevicePlugin::Impl final : public v1beta1::DevicePlugin::Service {
 public:
  explicit Impl(PluginOptions options)
      : options_(std::move(options)), devices_(vendor_for_resource(options_.resource_name)) {}

  Status start() {
    refresh();
    std::error_code ec;
    std::filesystem::create_directories(options_.plugin_dir, ec);
    std::filesystem::remove(socket_path(), ec);  // a stale socket of an earlier run
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_path().string(), grpc::InsecureServerCredentials());
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    if (!server_) {
      return fail(ErrorCode::kUnavailable, "cannot serve the device plugin on " +
                                               socket_path().string() +
                                               " (is the directory writable?)");
    }
    poller_ = std::thread([this] { poll(); });
    spdlog::info("event=device_plugin_serving socket={} resource={} devices={}",
                 socket_path().string(), options_.resource_name, devices().size());
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (poller_.joinable()) poller_.join();
    std::error_code ec;
    std::filesystem::remove(socket_path(), ec);
  }

  std::filesystem::path socket_path() const { return options_.plugin_dir / options_.socket_name; }

  std::vector<PluginDevice> devices() const {
    std::lock_guard lock(mu_);
    return devices_.devices();
  }

  bool refresh() {
    hw::Inventory inv = options_.discover();
    auto marker = read_marker(options_.health_marker);
    std::lock_guard lock(mu_);
    if (!devices_.update(inv, marker)) return false;
    ++generation_;
    for (const auto& d : devices_.devices()) {
      if (!d.healthy) {
        spdlog::warn("event=device_unhealthy resource={} id={} pci={} reason=\"{}\"",
                     options_.resource_name, d.id, d.pci_address, d.reason);
      }
    }
    cv_.notify_all();
    return true;
  }

  Status register_with_kubelet(std::chrono::milliseconds timeout) {
    const std::filesystem::path kubelet = options_.kubelet_socket.empty()
                                              ? options_.plugin_dir / "kubelet.sock"
                                              : options_.kubelet_socket;
    auto channel =
        grpc::CreateChannel("unix://" + kubelet.string(), grpc::InsecureChannelCredentials());
    auto stub = v1beta1::Registration::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    ctx.set_wait_for_ready(true);
    v1beta1::RegisterRequest req;
    req.set_version(kDevicePluginApiVersion);
    req.set_endpoint(options_.socket_name);
    req.set_resource_name(options_.resource_name);
    req.mutable_options()->set_get_preferred_allocation_available(true);
    v1beta1::Empty resp;
    grpc::Status s = stub->Register(&ctx, req, &resp);
    if (!s.ok()) {
      return fail(ErrorCode::kUnavailable, "registering " + options_.resource_name +
                                               " with the kubelet at " + kubelet.string() +
                                               " failed: " + s.error_message());
    }
    spdlog::info("event=device_plugin_registered kubelet={} resource={} endpoint={}",
                 kubelet.string(), options_.resource_name, options_.socket_name);
    return {};
  }

  // The DevicePlugin service.
  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* out) override {
    out->set_pre_start_required(false);
    out->set_get_preferred_allocation_available(true);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* ctx, const v1beta1::Empty*,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override {
    std::uint64_t sent = 0;
    std::unique_lock lock(mu_);
    while (!stopped_ && !ctx->IsCancelled()) {
      v1beta1::ListAndWatchResponse resp;
      for (const auto& d : devices_.devices()) {
        auto* dev = resp.add_devices();
        dev->set_id(d.id);
        dev->set_health(d.healthy ? "Healthy" : "Unhealthy");
        if (d.numa_node >= 0) dev->mutable_topology()->add_nodes()->set_id(d.numa_node);
      }
      sent = generation_;
      lock.unlock();
      const bool ok = writer->Write(resp);
      lock.lock();
      if (!ok) break;
      // Wake on a change or stop; look at cancellation every half second.
      while (!stopped_ && generation_ == sent && !ctx->IsCancelled()) {
        cv_.wait_for(lock, std::chrono::milliseconds(500));
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const v1beta1::PreferredAllocationRequest* req,
                                      v1beta1::PreferredAllocationResponse* out) override {
    std::lock_guard lock(mu_);
    for (const auto& c : req->container_requests()) {
      std::vector<std::string> available(c.available_device_ids().begin(),
                                         c.available_device_ids().end());
      std::vector<std::string> must(c.must_include_device_ids().begin(),
                                    c.must_include_device_ids().end());
      auto ids = devices_.preferred(available, must, c.allocation_size());
      if (!ids) return invalid(ids.error());
      auto* r = out->add_container_responses();
      for (const auto& id : *ids) r->add_device_ids(id);
    }
    return grpc::Status::OK;
  }

  grpc::Status Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* req,
                        v1beta1::AllocateResponse* out) override {
    std::lock_guard lock(mu_);
    for (const auto& c : req->container_requests()) {
      std::vector<std::string> ids(c.devices_ids().begin(), c.devices_ids().end());
      auto got = devices_.allocate(ids, options_.host);
      if (!got) return invalid(got.error());
      auto* r = out->add_container_responses();
      for (const auto& [k, v] : got->envs) (*r->mutable_envs())[k] = v;
      for (const auto& d : got->devices) {
        auto* spec = r->add_devices();
        spec->set_container_path(d.container_path);
        spec->set_host_path(d.host_path);
        spec->set_permissions(d.permissions);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status PreStartContainer(grpc::ServerContext*, const v1beta1::PreStartContainerRequest*,
                                 v1beta1::PreStartContainerResponse*) override {
    return grpc::Status::OK;
  }

 private:
  void poll() {
    std::unique_lock lock(mu_);
    while (!stopped_) {
      const auto next = std::chrono::steady_clock::now() + options_.poll_interval;
      if (cv_.wait_until(lock, next, [&] { return stopped_; })) break;
      lock.unlock();
      refresh();
      lock.lock();
    }
  }

  PluginOptions options_;
  mutable std::mutex mu_;  // guards devices_, generation_ and stopped_; cv_ waits on it
  std::condition_variable cv_;
  GpuDevices devices_;
  std::uint64_t generation_ = 0;
  bool stopped_ = false;
  std::unique_ptr<grpc::Server> server_;
  std::thread poller_;
};

DevicePlugin::DevicePlugin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DevicePlugin::~DevicePlugin() {
  stop();
}

Result<std::unique_ptr<DevicePlugin>> DevicePlugin::start(PluginOptions options) {
  if (!options.discover) {
    return fail(ErrorCode::kInvalidArgument, "device plugin: no discovery function");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto s = impl->start(); !s) return std::unexpected(s.error());
  return std::unique_ptr<DevicePlugin>(new DevicePlugin(std::move(impl)));
}

Status DevicePlugin::register_with_kubelet(std::chrono::milliseconds timeout) {
  return impl_->register_with_kubelet(timeout);
}
std::filesystem::path DevicePlugin::socket_path() const {
  return impl_->socket_path();
}
bool DevicePlugin::socket_present() const {
  std::error_code ec;
  return std::filesystem::exists(impl_->socket_path(), ec);
}
std::vector<PluginDevice> DevicePlugin::devices() const {
  return impl_->devices();
}
bool DevicePlugin::refresh() {
  return impl_->refresh();
}
void DevicePlugin::stop() {
  if (impl_) impl_->stop();
}

}  // namespace aion::k8s
