// Slurm's view of this node's GPUs: gres.conf lines and the matching slurm.conf NodeName line,
// built from the discovered inventory, and a reader for existing gres.conf files (to check a
// node against the file it runs with). Pure functions over values; thread-safe.
//
// Numbering: gres.conf's Cores= takes Slurm's core indices, not Linux CPU ids. Slurm numbers
// the node's cores 0..N-1 socket by socket (hwloc's logical order), counting each physical core
// once however many hyperthreads it has. read_core_map() rebuilds that numbering from
// /sys/devices/system/cpu/cpuN/topology (physical_package_id, core_id), sorted by
// (package, core id); a GPU's Cores= are the cores with at least one thread in its PCI
// local_cpulist.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"

namespace aion::cluster {

// One device as a gres.conf line describes it.
struct GresDevice {
  std::string name = "gpu";
  std::string type;        // "a100_sxm4_80gb"; "" when the line has none
  std::string file;        // "/dev/nvidia0"; "" when the line has none
  std::vector<int> cores;  // Slurm core indices; empty: any core
  std::vector<int> links;  // connections to each device in file order, -1 for itself
  int gpu = -1;            // accelerator index (inventory), -1 when read from a file
  int line = 0;            // gres.conf line it came from, 0 when generated
};

// Linux CPU id -> Slurm core index, for the online CPUs.
struct CoreMap {
  std::map<int, int> core_of_cpu;
  int cores = 0;
};

// Reads the CPU topology below fs's root. Errors name the unreadable sysfs file.
Result<CoreMap> read_core_map(const HostFs& fs);

struct GresOptions {
  // The directory File= points into; the node's name (/dev/nvidia3 -> nvidia3) is kept.
  std::string dev_dir = "/dev";
  // When set, every File= must exist below this root as a character device; a missing one is
  // an error (kNotFound) naming the GPU and the path.
  std::filesystem::path check_root;
  bool check_devices = false;
};

// One GresDevice per accelerator, in inventory order (vendor index order, which is
// CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES order). NVIDIA File= is /dev/nvidia<minor>, or
// /dev/nvidia<index> when the driver's minor is unknown (the driver numbers minors in PCI
// order, as aion numbers indices); AMD and Intel use their DRM render node (card node when
// there is none); Ascend /dev/davinciN. Links= counts NVLink (directly or through NVSwitch)
// or XGMI links to every other device, and is left out when there are none.
Result<std::vector<GresDevice>> gres_devices(const hw::Inventory& inventory, const CoreMap& cores,
                                             const GresOptions& options);

// "a100_sxm4_80gb" from "GA100 [A100 SXM4 80GB]" or "NVIDIA A100-SXM4-80GB": the bracketed
// marketing name when there is one, vendor and family words dropped, the first of
// alternatives ("MI250X/MI250"), lowercase, separators folded to '_'.
std::string gpu_type(std::string_view model);

// gres.conf text: a header comment and one line per device
// ("NodeName=n1 Name=gpu Type=a100_sxm4_80gb File=/dev/nvidia0 Cores=0-3 Links=-1,12,...").
// node_name "" leaves NodeName= out.
std::string format_gres_conf(const std::vector<GresDevice>& devices, const std::string& node_name);

// The slurm.conf NodeName line, in `slurmd -C`'s form plus Gres=:
// "NodeName=n1 CPUs=32 Boards=1 SocketsPerBoard=2 CoresPerSocket=8 ThreadsPerCore=2
//  RealMemory=1048576 Gres=gpu:a100_sxm4_80gb:8". RealMemory is MemTotal in MiB.
std::string format_node_line(const hw::Inventory& inventory, const std::vector<GresDevice>& devices,
                             const std::string& node_name);

// Reads a gres.conf: the Name=gpu devices that apply to node_name (lines without NodeName=
// apply to every node), with File= ranges ("/dev/nvidia[0-3]") expanded. AutoDetect lines are
// accepted and ignored. Errors (kParse) read "FILE:LINE: field 'F': what is wrong".
Result<std::vector<GresDevice>> parse_gres_conf(std::string_view text, const std::string& file,
                                                const std::string& node_name);

// Slurm host lists and ranges: "n[01-03,7],m" -> n01 n02 n03 n7 m.
Result<std::vector<std::string>> expand_hostlist(std::string_view text);

}  // namespace aion::cluster
