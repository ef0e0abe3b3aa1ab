// The devices a Kubernetes device plugin advertises for one resource ("nvidia.com/gpu"), with
// no gRPC in it: the device list and health, the preferred allocation and what a container
// gets for its devices. device_plugin.h serves this over the kubelet's protocol.
//
// IDs: the accelerator's UUID, else its PCI address; once a PCI address has an ID it keeps it
// (a GPU that fell off the bus no longer reports its UUID, and the kubelet tracks devices by
// ID).
// Health: a device is Unhealthy when discovery reports it lost or in error (NVML:
// NVML_ERROR_GPU_IS_LOST), or when aiond's health marker (<state_dir>/health/unhealthy,
// written by the mark_unhealthy remediation) exists and names it by PCI address (with any
// domain width), UUID or "GPU<index>"; a marker that names none of our devices marks them all
// Unhealthy (the node as a whole was marked). Removing the marker makes them Healthy again.
// Preferred allocation: aion's topology-aware choice (sched::place) among the available
// devices, the others counting as in use: the best-connected set (NVLink/XGMI, then one PCIe
// switch, then NUMA node), leaving the free devices best connected.
// Not thread-safe; the plugin holds it under a lock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::k8s {

struct PluginDevice {
  std::string id;
  bool healthy = true;
  std::string reason;  // why not healthy
  int numa_node = -1;
  std::string pci_address;
};

struct DeviceNode {
  std::string container_path;
  std::string host_path;
  std::string permissions = "rw";
};

// What Allocate answers for one container.
struct ContainerDevices {
  std::map<std::string, std::string> envs;
  std::vector<DeviceNode> devices;
};

// The accelerator vendor of a resource name: nvidia.com/* -> "nvidia", amd.com/* -> "amd",
// intel.com/* -> "intel", huawei.com/* -> "huawei"; "" (every accelerator) otherwise.
std::string vendor_for_resource(std::string_view resource);

class GpuDevices {
 public:
  explicit GpuDevices(std::string vendor) : vendor_(std::move(vendor)) {}

  // Takes a new view of the machine and the marker's content (nullopt: no marker). True when
  // the device list or any device's health changed since the last update.
  bool update(const hw::Inventory& inv, const std::optional<std::string>& health_marker);

  const std::vector<PluginDevice>& devices() const { return devices_; }

  // `size` device IDs out of `available`, including every one of `must_include`.
  // kInvalidArgument when size exceeds what is available or an ID is unknown.
  Result<std::vector<std::string>> preferred(const std::vector<std::string>& available,
                                             const std::vector<std::string>& must_include,
                                             int size) const;

  // Environment and device nodes for a container given `ids`. NVIDIA:
  // NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES (UUIDs, else indices), the GPUs' device
  // nodes (/dev/nvidiaN) and those of /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools,
  // /dev/nvidia-modeset that exist below `fs`. AMD: ROCR_VISIBLE_DEVICES (GPU-<uuid>), /dev/kfd
  // and the GPUs' /dev/dri nodes. Every vendor: AION_VISIBLE_DEVICES (the IDs).
  // kInvalidArgument for an unknown ID.
  Result<ContainerDevices> allocate(const std::vector<std::string>& ids, const HostFs& fs) const;

 private:
  const hw::Accelerator* accelerator(const std::string& id) const;

  std::string vendor_;
  hw::Inventory inv_;
  std::map<std::string, std::string> id_by_pci_;  // sticky IDs
  std::vector<PluginDevice> devices_;
  std::vector<int> accel_of_;  // devices_[i] is inv_.accelerators[accel_of_[i]]
};

}  // namespace aion::k8s
