// A Kubernetes device plugin (kubelet device plugin API v1beta1, over gRPC) that advertises
// this node's accelerators of one resource ("nvidia.com/gpu") with their health and answers
// GetPreferredAllocation with aion's topology-aware choice (gpu_devices.h has the logic; this
// is the protocol around it).
//
// start() discovers the devices, serves the DevicePlugin service on
// <plugin_dir>/<socket_name> and polls: every poll_interval it discovers again and re-reads
// aiond's health marker, and ListAndWatch streams send the full list again whenever a device
// or its health changed. register_with_kubelet() then calls the kubelet's Registration
// service (<plugin_dir>/kubelet.sock by default). The kubelet removes plugin sockets when it
// restarts; socket_present() turns false then, and the caller starts a new plugin and
// registers again. gRPC stays behind this header (compile time): link aion_k8s_plugin.
// Thread-safe: all methods may be called from any thread (one mutex inside guards the device
// list, shared by the poller and the gRPC threads); stop() (also run by the destructor)
// waits for the open ListAndWatch streams to end.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/k8s/gpu_devices.h"

namespace aion::k8s {

inline constexpr const char* kDevicePluginApiVersion = "v1beta1";
inline constexpr const char* kDefaultPluginDir = "/var/lib/kubelet/device-plugins";

struct PluginOptions {
  std::string resource_name = "nvidia.com/gpu";
  std::filesystem::path plugin_dir = kDefaultPluginDir;
  std::filesystem::path kubelet_socket;  // "" -> <plugin_dir>/kubelet.sock
  std::string socket_name = "aion-gpu.sock";
  std::filesystem::path health_marker;      // <state_dir>/health/unhealthy; "" -> none
  std::function<hw::Inventory()> discover;  // called from one thread at a time
  HostFs host;                              // for the /dev nodes Allocate hands out
  std::chrono::milliseconds poll_interval{5000};
};

class DevicePlugin {
 public:
  // kUnavailable when the socket cannot be served; kInvalidArgument without `discover`.
  static Result<std::unique_ptr<DevicePlugin>> start(PluginOptions options);
  ~DevicePlugin();
  DevicePlugin(const DevicePlugin&) = delete;
  DevicePlugin& operator=(const DevicePlugin&) = delete;

  // Register with the kubelet; kUnavailable with the kubelet's answer when it refuses or is
  // not there.
  Status register_with_kubelet(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  std::filesystem::path socket_path() const;
  bool socket_present() const;
  std::vector<PluginDevice> devices() const;
  // Discover and read the marker now (what the poll does); true when something changed.
  bool refresh();
  void stop();

  class Impl;  // opaque; holds the gRPC server

 private:
  explicit DevicePlugin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aion::k8s
