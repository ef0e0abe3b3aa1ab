// The CUDA rules for one build on one machine: whether every NVIDIA GPU has SASS or PTX it
// can run, and whether the driver meets the build's CUDA at full, minor-version or forward
// compatibility (with the upgrade that would fix it). A pure function of the knowledge
// tables and the machine; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/version.h"

namespace aion::envcfg {

struct CudaCompat {
  bool ok = false;
  std::string mode;  // "full" | "minor" | "forward" | "" (fails)
  std::string detail;
  Version need_driver;  // the lowest driver that would run it natively ("" when no driver can)
  bool needs_jit = false;
  bool arch_ok = true;
  std::string arch_detail;
  std::string forward_package;  // "cuda-compat-12-1"
  std::string forward_detail;   // why forward compatibility does or does not apply
  bool below_floor = false;     // the driver cannot drive a GPU at all (see DriverFloor)
};

// The GPU's own driver floor: the first driver branch that drives each NVIDIA GPU's
// architecture (gpus.toml [[arch]] min_driver). A driver below it cannot run any CUDA program
// on that GPU, whatever the toolkit; forward compatibility does not help either.
struct DriverFloor {
  bool below = false;
  std::string detail;  // "driver 470.256.02 cannot drive NVIDIA L4 (Ada Lovelace, 8.9): ..."
  Version need;        // the lowest driver that drives every GPU; empty when none is recorded
  std::string source;
};
DriverFloor driver_floor(const Knowledge& kb, const Machine& m);

// The CUDA rules for one build (runtime + GPU code) on one machine. Also used by `env scan`.
// A compute capability as nvcc names the architecture: "8.0" -> "sm_80".
std::string sm_arch(const std::string& compute_capability);

CudaCompat check_cuda(const Knowledge& kb, const Machine& m, const Version& runtime,
                      const std::vector<std::string>& archs);

}  // namespace aion::envcfg
