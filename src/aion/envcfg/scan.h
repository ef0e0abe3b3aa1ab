// Scanning an installed Python environment (a venv, a conda env or a site-packages
// directory) for builds that will not work on a machine, before anything runs.
//
// Reads each *.dist-info/METADATA (Name, Version, Requires-Dist) and the frameworks' own
// build records (torch/version.py: cuda/hip; tensorflow/python/platform/build_info.py;
// paddle/version/__init__.py; onnxruntime/capi/build_and_package_info.py), then checks: the
// build's CUDA against the driver and the GPUs' architectures (the resolver's rules), ROCm
// builds against the gfx targets, CPU-only builds on GPU machines, Python outside a release's
// range, exact pins (Requires-Dist: x==v) that the installed x does not meet, CUDA 11 and 12
// wheels mixed, and packages installed twice. Files are read directly (they are the user's
// files, not host state). Thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"

namespace aion::envcfg {

struct InstalledPackage {
  std::string name;  // as in METADATA
  std::string version;
  std::vector<std::string> requires_dist;
  std::string dist_info;  // directory name
};

// A framework build found in the environment.
struct InstalledBuild {
  std::string framework;  // "torch", "tensorflow", "paddle", "onnxruntime"
  std::string version;
  std::string cuda;  // "" for none
  std::string rocm;
  std::string cudnn;
  std::string record;  // the file it was read from
};

struct ScanFinding {
  std::string severity;  // "error" | "warning" | "info"
  std::string package;
  std::string text;
  std::string fix;
};

struct ScanReport {
  std::string path;
  std::vector<std::string> site_packages;
  std::string python;  // "3.11", from lib/python3.11 or pyvenv.cfg
  std::vector<InstalledPackage> packages;
  std::vector<InstalledBuild> builds;
  std::vector<ScanFinding> findings;
  bool ok() const;  // no error findings
};

// Errors: kNotFound when `path` does not exist or holds no site-packages (naming what was
// looked for).
Result<ScanReport> scan_environment(const std::filesystem::path& path, const Knowledge& kb,
                                    const Machine& m);

std::string scan_to_json(const ScanReport& r, int indent = 2);

}  // namespace aion::envcfg
