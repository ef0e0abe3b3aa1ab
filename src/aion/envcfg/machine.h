// Machine: what the environment resolver needs to know about a computer: its accelerators
// (vendor, model, compute capability or gfx target, data-center part or not), the NVIDIA
// driver, the ROCm and CANN versions, the OS, the CPU architecture and the installed Python.
//
// Built from `aion hw` discovery plus HostFs reads (/etc/os-release, /opt/rocm/.info/version,
// `python3 --version` on the live root only), or from a machine description: the JSON of
// `aion hw --json`, optionally with a "software" object that says what the hardware
// inventory cannot:
//   "software": {"os": {"id": "ubuntu", "version_id": "22.04"}, "python": "3.10.12",
//                "rocm": "6.2.1", "cann": "8.1.RC1", "npu_driver": "24.1.0",
//                "arch": "x86_64"}
// A missing compute capability (sysfs-only discovery) is looked up by model in gpus.toml.
// Plain value; thread-safe once built.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/envcfg/backend.h"
#include "aion/envcfg/knowledge.h"
#include "aion/hw/inventory.h"

namespace aion::envcfg {

// Identical accelerators grouped: "8x NVIDIA A100 (8.0)".
struct GpuGroup {
  std::string vendor;  // "nvidia" | "amd" | "huawei" | "intel" | "other"
  std::string model;
  std::string cc;   // NVIDIA compute capability "8.0"
  std::string gfx;  // AMD gfx target "gfx90a"
  bool datacenter = false;
  bool cc_from_model = false;  // looked up in gpus.toml, not reported by the driver
  int count = 0;
  std::vector<std::string> device_nodes;
};

struct Machine {
  std::string name;    // hostname
  std::string source;  // "this machine" or the description's file name
  std::vector<GpuGroup> gpus;
  Version nvidia_driver;   // empty when no NVIDIA driver is loaded
  Version rocm;            // ROCm release installed on the host; empty when unknown
  Version cann;            // Ascend CANN toolkit; empty when unknown
  Version npu_driver;      // Ascend NPU driver (Ascend HDK); empty when unknown
  std::string os_id;       // os-release ID: "ubuntu", "debian"
  std::string os_version;  // VERSION_ID: "22.04"
  std::string python;      // "3.10"; empty when unknown
  std::string arch = "x86_64";
  std::vector<std::string> notes;  // what could not be read, and what was assumed

  // The accelerator family plans are made for: CUDA, ROCm, NPU or CPU (the vendor with the
  // most devices wins on a mixed machine).
  Backend accelerator_kind() const;
  std::vector<const GpuGroup*> gpus_of(std::string_view vendor) const;
  // "8x A100-SXM4-80GB (8.0)" for every group of the vendor, comma-separated.
  std::string describe_gpus(std::string_view vendor) const;
};

// From a hardware inventory; the software fields stay empty (see read_software()).
Machine machine_from_inventory(const hw::Inventory& inv, const Knowledge& kb);

// From a machine description (`aion hw --json`, optionally with "software"). Errors
// (kInvalidArgument) name `source` and what is wrong: not JSON (with line and column), not an
// object, a field of the wrong type.
Result<Machine> machine_from_json(std::string_view text, const std::string& source,
                                  const Knowledge& kb);

// Fills OS, ROCm, CANN, the NPU driver, CPU architecture and (on the live root only) Python from
// the host.
void read_software(const HostFs& fs, Machine& m);

// One line per AMD GPU of `m` whose gfx target the ROCm release does not list ("Instinct MI300X
// (gfx942) is not supported by ROCm 5.7 (gfx906, ...)"); a GPU without a known target is not
// judged.
std::vector<std::string> rocm_gfx_gaps(const Machine& m, const RocmRelease& rr);

// "Python 3.11.4" or "3.11.4" -> "3.11"; "" when not a version.
std::string python_series(std::string_view text);

}  // namespace aion::envcfg
