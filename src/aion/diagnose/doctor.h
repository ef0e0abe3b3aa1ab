// Doctor: checks the node's health now, without the daemon: GPU driver loaded, persistence
// mode, pending ECC page retirement / row remapping, PCIe link width and speed against the
// device's maximum, throttled clocks, disk space of / and the state directory, memory errors
// (EDAC). Reads the host through HostFs (so a recorded tree stands in for the machine) and
// NVIDIA GPUs through NVML when it loads. Each check says ok / warn / fail / skip (does not
// apply here), what it found and what to do. Thread-safe: run_doctor() keeps no state and
// loads an Nvml of its own for the call (the daemon still runs one at a time, DoctorCache).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aion/core/host_fs.h"

namespace aion::diagnose {

struct DoctorCheck {
  std::string name;     // "pcie_link", "edac", ...
  std::string status;   // ok | warn | fail | skip
  std::string subject;  // what was checked: "GPU 0000:07:00.0", "/", "mc0"
  std::string found;    // what was found
  std::string action;   // what to do ("" when ok)
};

struct DoctorOptions {
  std::filesystem::path state_dir;  // checked for free space too ("" = skip)
  std::string nvml_library;         // hw.nvml_library ("" = the default)
  int disk_warn_percent = 90;       // used space at or above: warn
  int disk_fail_percent = 95;       // and fail
};

std::vector<DoctorCheck> run_doctor(const HostFs& fs, const DoctorOptions& options);

// "fail" when any check failed, else "warn" when any warned, else "ok".
std::string overall_status(const std::vector<DoctorCheck>& checks);

}  // namespace aion::diagnose
