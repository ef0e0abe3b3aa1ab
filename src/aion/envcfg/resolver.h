// The environment resolver: for a framework request ("pytorch", "torch==2.4", "vllm") and a
// machine, the best build that runs there (framework version and variant, runtime, cuDNN,
// Python, container base image, pip lines), with the reason for every choice; or, when
// nothing fits, which constraint fails and the nearest ways out.
//
// The rules, all from the knowledge tables:
// - CUDA builds: every NVIDIA GPU needs SASS of its major architecture (sm_XY, Y <= its minor)
//   or PTX it can JIT (compute_XY <= its capability). The driver must meet the build's CUDA at
//   full compatibility; or, for CUDA 11+, the major release's minor-compatibility minimum when
//   no PTX JIT is needed; or, on data-center GPUs on a listed branch, forward compatibility
//   (cuda-compat package). Plans prefer native over forward compatibility, then the newest
//   release, then the release's default build (the one its project tests and publishes on
//   PyPI), then full over minor compatibility.
// - ROCm builds: every gfx target must be supported by the build's ROCm release, and the host's
//   ROCm must be at least the build's (major.minor).
// - Ascend builds: the host's CANN must be at least the build's.
// - Python: --python must be in the release's range; the machine's python3 is used when it is;
//   otherwise the newest supported Python up to platforms.toml's python_default_cap.
// Thread-safe: plan() reads the Knowledge and the Machine only.
#pragma once

#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/envcfg/backend.h"
#include "aion/envcfg/cuda_compat.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"

namespace aion::envcfg {

struct PlanRequest {
  std::string framework;  // "pytorch", "torch==2.4", "tensorflow>=2.16"
  std::string python;     // "3.11": a hard constraint; "" = machine's or automatic
  std::string variant;    // "cu121", "rocm6.2.4", or a kind: "cuda", "rocm", "cpu", "npu"
};

// Why a choice was made, with the table row it rests on.
struct Reason {
  std::string topic;  // "version", "variant", "driver", "gpu", "python", "image", ...
  std::string text;
  std::string source;
};

// A way to make a failing request work: what to change on the host (if anything) and the
// request to make then. make_plan() offers a way out only after planning that request on the
// changed machine succeeded.
struct WayOut {
  std::string kind;  // "driver", "version", "python", "variant", "cpu", "rocm", "cann",
                     // "npu_driver", "framework", "toolkit", "container"
  std::string text;
  PlanRequest request;  // what to ask for after the change
  Version driver;       // NVIDIA driver to upgrade to; empty: unchanged
  Version rocm, cann;   // host ROCm / CANN to upgrade to (or, for "container", the CANN the
                        // image brings); empty: unchanged
  Version npu_driver;   // Ascend NPU driver to upgrade to; empty: unchanged
  std::string image;    // "container": the image to run the job in
};

// The machine after taking a way out (its host upgrades applied).
Machine apply_way_out(const Machine& m, const WayOut& w);

struct Plan {
  bool ok = false;
  std::string request;    // as the user wrote it
  std::string framework;  // canonical name
  std::string display;
  std::string package;
  std::string version;
  std::string variant;
  Backend kind = Backend::kCpu;  // the chosen build's (when ok)
  std::string runtime;
  std::string cudnn;
  std::string python;
  std::string compatibility;  // "full" | "minor" | "forward" | "" (not CUDA)
  std::string forward_package;
  std::string requires_torch;
  std::string index;
  std::vector<std::string> companions;
  std::vector<std::string> install;  // pip command lines
  std::string image;
  std::string image_python;            // "image" | "apt" | "uv": how the Dockerfile gets its Python
  bool image_disable_require = false;  // CUDA image older-driver check to switch off
  std::string image_os;
  std::vector<std::string> run_args;
  std::string run_note;
  std::string alternative_image;  // an NGC/vendor image with the framework inside
  std::vector<Reason> reasons;
  std::vector<std::string> warnings;
  std::vector<std::string> failures;  // when !ok: what fails, per build considered
  std::vector<WayOut> ways_out;
  std::size_t ways_out_dropped = 0;  // offered by the rules but not resolving when re-planned
  std::string kb_as_of;
};

// FRAMEWORK may also name a toolkit: "cuda", "cuda==12.1", "rocm==6.2", "cann==8.0" plan the
// toolkit itself (the driver it needs, the container image, the install commands for this
// OS); see toolkit.h.
// `today` ("YYYY-MM-DD", default today_utc()) dates the staleness warning of old tables.
// Errors (kInvalidArgument): unknown framework (naming the known ones), unreadable or
// contradictory version constraint, a variant the framework never had, a malformed --python,
// a constraint no release in the table matches (naming the known versions).
// A request nothing on this machine satisfies is not an error: Plan::ok is false.
Result<Plan> make_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req);
Result<Plan> make_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req,
                       std::string_view today);

std::string plan_to_json(const Plan& p, int indent = 2);

}  // namespace aion::envcfg
