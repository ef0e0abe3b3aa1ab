#include "aion/diagnose/doctor.h"

#include <sys/statvfs.h>

#include <cmath>
#include <cstdlib>

#include "aion/hw/nvml.h"
#include "aion/hw/pci.h"

namespace aion::diagnose {
namespace {

struct PciGpu {
  std::string address;
  std::uint32_t vendor = 0;
};

// Display-class devices (0x03xxxx) and processing accelerators (0x12xxxx) of NVIDIA/AMD.
std::vector<PciGpu> pci_gpus(const HostFs& fs) {
  std::vector<PciGpu> out;
  auto devs = fs.list("/sys/bus/pci/devices");
  if (!devs) return out;
  for (const auto& d : *devs) {
    std::string base = "/sys/bus/pci/devices/" + d;
    auto vendor = fs.read_int(base + "/vendor");
    auto cls = fs.read_int(base + "/class");
    if (!vendor || !cls) continue;
    auto top = (*cls >> 16) & 0xff;
    if ((top != 0x03 && top != 0x12) ||
        (*vendor != hw::kPciVendorNvidia && *vendor != hw::kPciVendorAmd))
      continue;
    out.push_back({d, static_cast<std::uint32_t>(*vendor)});
  }
  return out;
}

void driver_check(const HostFs& fs, const std::vector<PciGpu>& gpus,
                  std::vector<DoctorCheck>& out) {
  bool nvidia = false, amd = false;
  for (const auto& g : gpus) {
    nvidia = nvidia || g.vendor == hw::kPciVendorNvidia;
    amd = amd || g.vendor == hw::kPciVendorAmd;
  }
  if (!nvidia && !amd) {
    out.push_back({"driver", "skip", "GPU driver", "no NVIDIA or AMD GPU on the PCI bus", ""});
    return;
  }
  if (nvidia) {
    bool loaded = fs.exists("/sys/module/nvidia") || fs.exists("/proc/driver/nvidia/version");
    std::string version = fs.read_attr("/sys/module/nvidia/version").value_or("");
    if (version.empty()) {
      auto v = fs.read("/proc/driver/nvidia/version");
      if (v) {
        auto p = v->find("Kernel Module");
        if (p != std::string::npos) {
          std::string rest = v->substr(p + 13);
          auto b = rest.find_first_not_of(' ');
          version = b == std::string::npos ? "" : rest.substr(b, rest.find(' ', b) - b);
        }
      }
    }
    if (loaded) {
      out.push_back(
          {"driver", "ok", "nvidia",
           "the nvidia kernel module is loaded" + (version.empty() ? "" : " (" + version + ")"),
           ""});
    } else {
      out.push_back({"driver", "fail", "nvidia",
                     "NVIDIA GPUs are present but the nvidia module is not loaded",
                     "load it (modprobe nvidia) or install the driver; check dmesg for why it "
                     "failed to load"});
    }
  }
  if (amd) {
    if (fs.exists("/sys/module/amdgpu")) {
      std::string version = fs.read_attr("/sys/module/amdgpu/version").value_or("");
      out.push_back(
          {"driver", "ok", "amdgpu",
           "the amdgpu kernel module is loaded" + (version.empty() ? "" : " (" + version + ")"),
           ""});
    } else {
      out.push_back({"driver", "fail", "amdgpu",
                     "AMD GPUs are present but the amdgpu module is not loaded",
                     "load it (modprobe amdgpu) or install ROCm's amdgpu-dkms; check dmesg"});
    }
  }
}

std::string reasons_text(std::uint64_t r) {
  // NVML's nvmlClocksThrottleReason bits that mean the GPU is slowed by a problem (idle,
  // application clocks and the sync boost are normal operation and left out).
  struct Bit {
    std::uint64_t mask;
    const char* name;
  };
  constexpr Bit kBits[] = {{0x4, "software power cap"},
                           {0x8, "hardware slowdown"},
                           {0x20, "software thermal"},
                           {0x40, "hardware thermal"},
                           {0x80, "hardware power brake"}};
  std::string out;
  for (const auto& b : kBits)
    if (r & b.mask) out += std::string(out.empty() ? "" : ", ") + b.name;
  return out;
}

void nvml_checks(const std::vector<PciGpu>& gpus, const DoctorOptions& o,
                 std::vector<DoctorCheck>& out) {
  bool nvidia = false;
  for (const auto& g : gpus) nvidia = nvidia || g.vendor == hw::kPciVendorNvidia;
  if (!nvidia) return;
  auto nvml = hw::Nvml::load(hw::nvml_library_path(o.nvml_library));
  if (!nvml) {
    for (const char* n : {"persistence_mode", "ecc_pending", "clocks_throttled"})
      out.push_back({n, "skip", "NVML", nvml.error().message(), ""});
    return;
  }
  for (const auto& [pci, h] : (*nvml)->health()) {
    std::string subject = "GPU " + pci;
    if (h.lost) {
      out.push_back({"gpu_lost", "fail", subject, "NVML reports the GPU as lost (fell off the bus)",
                     "drain it and reset it (nvidia-smi -r) or reboot; see `aion incidents`"});
      continue;
    }
    if (!h.persistence_mode) {
      out.push_back({"persistence_mode", "skip", subject, "not reported by the driver", ""});
    } else if (*h.persistence_mode) {
      out.push_back({"persistence_mode", "ok", subject, "persistence mode is on", ""});
    } else {
      out.push_back({"persistence_mode", "warn", subject,
                     "persistence mode is off: the driver "
                     "unloads between jobs and every job start pays the initialisation",
                     "enable nvidia-persistenced (systemctl enable --now nvidia-persistenced)"});
    }
    if (h.row_remap_failure.value_or(false)) {
      out.push_back({"ecc_pending", "fail", subject,
                     "a row remapping failed: the memory fault cannot be isolated",
                     "drain the GPU and have it replaced (RMA)"});
    } else if (h.row_remap_pending.value_or(false) || h.retired_pages_pending.value_or(false)) {
      out.push_back({"ecc_pending", "warn", subject,
                     std::string(h.row_remap_pending.value_or(false) ? "a row remapping"
                                                                     : "a page retirement") +
                         " is pending until the GPU is reset",
                     "drain the GPU and reset it (nvidia-smi -r -i N) when its jobs have ended"});
    } else if (!h.row_remap_pending && !h.retired_pages_pending) {
      out.push_back({"ecc_pending", "skip", subject, "not reported by the driver", ""});
    } else {
      out.push_back(
          {"ecc_pending", "ok", subject, "no page retirement or row remapping pending", ""});
    }
    if (!h.throttle_reasons) {
      out.push_back({"clocks_throttled", "skip", subject, "not reported by the driver", ""});
    } else if (std::string why = reasons_text(*h.throttle_reasons); !why.empty()) {
      out.push_back(
          {"clocks_throttled", "warn", subject, "clocks are throttled: " + why,
           "check cooling (fans, inlet temperature, airflow) and the power supply / cap"});
    } else {
      out.push_back({"clocks_throttled", "ok", subject, "clocks are not throttled", ""});
    }
  }
}

double gts(const std::string& speed) {
  return std::atof(speed.c_str());  // "16.0 GT/s PCIe" -> 16.0
}

void pcie_checks(const HostFs& fs, const std::vector<PciGpu>& gpus, std::vector<DoctorCheck>& out) {
  for (const auto& g : gpus) {
    std::string base = "/sys/bus/pci/devices/" + g.address;
    auto cur_w = fs.read_int(base + "/current_link_width");
    auto max_w = fs.read_int(base + "/max_link_width");
    auto cur_s = fs.read_attr(base + "/current_link_speed");
    auto max_s = fs.read_attr(base + "/max_link_speed");
    std::string subject = "GPU " + g.address;
    if (!cur_w || !max_w) {
      out.push_back({"pcie_link", "skip", subject, "the link width is not readable in sysfs", ""});
      continue;
    }
    std::string found = "x" + std::to_string(*cur_w) + " of x" + std::to_string(*max_w);
    if (cur_s && max_s) found += ", " + *cur_s + " of " + *max_s;
    if (*cur_w < *max_w) {
      out.push_back({"pcie_link", "fail", subject, "link width degraded: " + found,
                     "reseat the GPU / riser / cable and check the slot's BIOS settings; a "
                     "narrower link cuts host-device bandwidth"});
    } else if (cur_s && max_s && gts(*cur_s) + 0.01 < gts(*max_s)) {
      out.push_back({"pcie_link", "warn", subject, "link speed below maximum: " + found,
                     "normal while the GPU idles (power saving); if it stays low under load, "
                     "reseat the card and check the riser"});
    } else {
      out.push_back({"pcie_link", "ok", subject, found, ""});
    }
  }
}

void disk_checks(const HostFs& fs, const DoctorOptions& o, std::vector<DoctorCheck>& out) {
  std::vector<std::pair<std::string, std::filesystem::path>> paths = {{"/", fs.resolve("/")}};
  if (!o.state_dir.empty()) paths.emplace_back(o.state_dir.string(), o.state_dir);
  for (const auto& [name, path] : paths) {
    struct statvfs v {};
    if (::statvfs(path.c_str(), &v) != 0 || v.f_blocks == 0) {
      out.push_back({"disk_space", "skip", name, "cannot read its file system's usage", ""});
      continue;
    }
    double used =
        100.0 * static_cast<double>(v.f_blocks - v.f_bavail) / static_cast<double>(v.f_blocks);
    double free_gib =
        static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize) / (1ull << 30);
    char found[96];
    std::snprintf(found, sizeof found, "%.0f%% used, %.1f GiB free", used, free_gib);
    std::string status = used >= o.disk_fail_percent   ? "fail"
                         : used >= o.disk_warn_percent ? "warn"
                                                       : "ok";
    out.push_back({"disk_space", status, name, found,
                   status == "ok" ? ""
                                  : "free space: old checkpoints, job outputs, container images, "
                                    "logs (aion's metrics keep telemetry.max_disk_bytes)"});
  }
}

void edac_checks(const HostFs& fs, std::vector<DoctorCheck>& out) {
  auto mcs = fs.list("/sys/devices/system/edac/mc");
  if (!mcs) {
    out.push_back({"memory_errors", "skip", "EDAC",
                   "no EDAC memory controllers (driver not loaded or a VM)", ""});
    return;
  }
  bool any = false;
  for (const auto& mc : *mcs) {
    if (mc.rfind("mc", 0) != 0) continue;
    std::string base = "/sys/devices/system/edac/mc/" + mc;
    auto ce = fs.read_int(base + "/ce_count");
    auto ue = fs.read_int(base + "/ue_count");
    if (!ce || !ue) continue;
    any = true;
    std::string found =
        std::to_string(*ue) + " uncorrected, " + std::to_string(*ce) + " corrected errors";
    if (*ue > 0) {
      out.push_back({"memory_errors", "fail", mc, found,
                     "drain the node and replace the DIMM (ras-mc-ctl --errors names it)"});
    } else if (*ce > 0) {
      out.push_back(
          {"memory_errors", "warn", mc, found,
           "watch the rate (ras-mc-ctl --error-count); plan a DIMM replacement if it rises"});
    } else {
      out.push_back({"memory_errors", "ok", mc, found, ""});
    }
  }
  if (!any) out.push_back({"memory_errors", "skip", "EDAC", "no readable error counters", ""});
}

}  // namespace

std::vector<DoctorCheck> run_doctor(const HostFs& fs, const DoctorOptions& options) {
  std::vector<DoctorCheck> out;
  auto gpus = pci_gpus(fs);
  driver_check(fs, gpus, out);
  nvml_checks(gpus, options, out);
  pcie_checks(fs, gpus, out);
  disk_checks(fs, options, out);
  edac_checks(fs, out);
  return out;
}

std::string overall_status(const std::vector<DoctorCheck>& checks) {
  std::string s = "ok";
  for (const auto& c : checks) {
    if (c.status == "fail") return "fail";
    if (c.status == "warn") s = "warn";
  }
  return s;
}

}  // namespace aion::diagnose
