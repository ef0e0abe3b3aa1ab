#include "aion/hw/nvidia.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "aion/hw/accelerators.h"
#include "aion/hw/nvml.h"
#include "aion/hw/pci.h"

namespace aion::hw {
namespace {

// One GPU NVML reported, placed on its PCI function (taken out of `on_pci`), with a warning
// when it is lost or NVML could not read all of it.
Accelerator from_nvml(const HostFs& fs, NvmlGpu& g, const std::string& driver,
                      std::vector<PciLocation>& on_pci, Inventory& inv) {
  Accelerator a = std::move(g.accelerator);
  auto it = std::find_if(on_pci.begin(), on_pci.end(),
                         [&](const PciLocation& p) { return p.address == a.pci.address; });
  if (it != on_pci.end()) {
    a.pci = *it;
    on_pci.erase(it);
  } else if (!a.pci.address.empty()) {
    if (auto loc = read_pci_location(fs, a.pci.address)) a.pci = *loc;
  }
  a.driver_version = driver;
  a.vendor = "nvidia";
  a.depth = "nvml";
  std::string who = a.pci.address.empty() ? "NVIDIA GPU " + std::to_string(a.index) : a.pci.address;
  if (g.lost) {
    a.state = "lost";
    inv.warnings.push_back(
        {who, "GPU is lost (NVML_ERROR_GPU_IS_LOST, Xid 79: fell off the bus); " + g.error +
                  ". Check `dmesg` for Xid 79 and reset or reboot"});
  } else if (!g.error.empty()) {
    inv.warnings.push_back({who, g.error});
  }
  if (a.model.empty() && !a.pci.address.empty()) a.model = model_from_pci(a.pci);
  return a;
}

}  // namespace

std::string parse_nvidia_driver_version(std::string_view text) {
  auto pos = text.find("Kernel Module");
  if (pos == std::string_view::npos) return "";
  std::istringstream in{std::string(text.substr(pos + 13))};
  std::string version;
  in >> version;
  return version;
}

std::optional<int> parse_nvidia_device_minor(std::string_view text) {
  auto pos = text.find("Device Minor:");
  if (pos == std::string_view::npos) return std::nullopt;
  return std::atoi(std::string(text.substr(pos + 13)).c_str());
}

void read_nvidia(const HostFs& fs, const std::string& nvml_library, std::vector<PciLocation> on_pci,
                 Inventory& inv) {
  if (on_pci.empty() && nvml_library.empty() && !std::getenv("AION_NVML_LIBRARY")) return;
  std::string driver;
  if (auto v = fs.read("/proc/driver/nvidia/version")) driver = parse_nvidia_driver_version(*v);
  auto nvml = Nvml::load(nvml_library_path(nvml_library));
  std::vector<Accelerator> found;
  if (nvml) {
    NvmlReport report = (*nvml)->query();
    if (driver.empty()) driver = report.driver_version;
    for (auto& g : report.gpus) found.push_back(from_nvml(fs, g, driver, on_pci, inv));
  } else if (!on_pci.empty()) {
    inv.warnings.push_back({"nvidia", nvml.error().message() +
                                          "; showing what sysfs tells (memory, UUID, "
                                          "compute capability, MIG and NVLink unknown)"});
  }
  // NVIDIA functions NVML did not report (or all of them without NVML).
  for (const auto& p : on_pci) {
    Accelerator a;
    a.vendor = "nvidia";
    a.model = model_from_pci(p);
    a.pci = p;
    a.driver_version = driver;
    a.source = "sysfs";
    if (nvml)
      inv.warnings.push_back({p.address, "NVIDIA device not reported by NVML (driver not bound?)"});
    found.push_back(std::move(a));
  }
  std::sort(found.begin(), found.end(), [](const Accelerator& a, const Accelerator& b) {
    return a.pci.address < b.pci.address;
  });
  inv.accelerators.insert(inv.accelerators.begin(), found.begin(), found.end());
}

std::string nvidia_device_node(const HostFs& fs, const std::string& pci_address) {
  auto info = fs.read("/proc/driver/nvidia/gpus/" + pci_address + "/information");
  if (!info) return "";
  auto minor = parse_nvidia_device_minor(*info);
  return minor ? "/dev/nvidia" + std::to_string(*minor) : "";
}

}  // namespace aion::hw
