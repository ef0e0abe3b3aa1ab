#include "aion/envcfg/cuda_compat.h"

#include "aion/core/strings.h"

#include <algorithm>

namespace aion::envcfg {
namespace {

// "sm_90a" / "compute_120" -> {9, 0} / {12, 0}; {-1, -1} when not an architecture.
std::pair<int, int> arch_cc(std::string_view a, bool* ptx) {
  std::string_view num;
  if (a.rfind("sm_", 0) == 0) {
    num = a.substr(3);
    *ptx = false;
  } else if (a.rfind("compute_", 0) == 0) {
    num = a.substr(8);
    *ptx = true;
  } else {
    return {-1, -1};
  }
  std::string digits;
  for (char c : num) {
    if (c < '0' || c > '9') break;
    digits += c;
  }
  if (digits.size() < 2) return {-1, -1};
  return {std::stoi(digits.substr(0, digits.size() - 1)), digits.back() - '0'};
}

std::string cuda_label(const Version& v) {
  return "CUDA " + v.major_minor();
}

struct GpuCode {
  std::string how;  // "sass" | "ptx" | ""
  std::string target;
};

// SASS runs on the same major architecture at an equal or higher minor; PTX is JIT-compiled
// for any GPU at least as new as its target.
GpuCode code_for(const std::string& cc, const std::vector<std::string>& archs) {
  Version c = Version::parse(cc);
  GpuCode sass, ptx;
  int sass_minor = -1;
  std::pair<int, int> ptx_cc{-1, -1};
  for (const auto& a : archs) {
    bool is_ptx = false;
    auto [maj, min] = arch_cc(a, &is_ptx);
    if (maj < 0) continue;
    if (!is_ptx && maj == c.major() && min <= c.minor() && min > sass_minor) {
      sass_minor = min;
      sass = {"sass", a};
    }
    if (is_ptx && (maj < c.major() || (maj == c.major() && min <= c.minor())) &&
        std::make_pair(maj, min) > ptx_cc) {
      ptx_cc = {maj, min};
      ptx = {"ptx", a};
    }
  }
  if (!sass.how.empty()) return sass;
  return ptx;
}

std::string branch_list(const ForwardCompat& fc) {
  std::vector<std::string> out;
  for (const auto& b : fc.branches) out.push_back("R" + std::to_string(b.major()));
  return join(out, ", ");
}

using Gpus = std::vector<const GpuGroup*>;

// The build's GPU code against every GPU: arch_ok, needs_jit and arch_detail; the GPUs that
// need PTX JIT go to `jit_gpus`. Every GPU in the box must run the build; a mixed box names
// the ones that need PTX JIT.
void check_gpu_code(const Gpus& gpus, const std::vector<std::string>& archs, CudaCompat& r,
                    std::vector<std::string>& jit_gpus) {
  std::vector<std::string> arch_lines;
  // A CUDA build needs an NVIDIA GPU: without one no driver upgrade or forward compatibility
  // can make it run, so none is offered.
  if (gpus.empty()) {
    r.arch_ok = false;
    arch_lines.push_back("no NVIDIA GPU on this machine for a CUDA build to run on");
  }
  for (const auto* g : gpus) {
    if (g->cc.empty()) continue;
    GpuCode code = code_for(g->cc, archs);
    if (code.how.empty()) {
      r.arch_ok = false;
      arch_lines.push_back("no code for " + g->model + " (" + sm_arch(g->cc) +
                           ") in this build, which carries " + join(archs, " "));
    } else if (code.how == "ptx") {
      r.needs_jit = true;
      jit_gpus.push_back(g->model + " (" + g->cc + ")");
      arch_lines.push_back(g->model + " (" + g->cc + ") has no SASS here and JIT-compiles " +
                           code.target + " PTX");
    } else {
      arch_lines.push_back(g->model + " (" + g->cc + ") runs the build's " + code.target + " SASS");
    }
  }
  r.arch_detail = join(arch_lines, "; ");
}

// The toolkit itself must know the architecture (CUDA 12 dropped Kepler, for one).
void check_toolkit_archs(const Knowledge& kb, const Gpus& gpus, const Toolkit& tk,
                         const Version& runtime, CudaCompat& r) {
  for (const auto* g : gpus) {
    if (g->cc.empty() || std::find(tk.archs.begin(), tk.archs.end(), g->cc) != tk.archs.end())
      continue;
    r.arch_ok = false;
    const ArchInfo* a = kb.arch(g->cc);
    r.arch_detail += std::string(r.arch_detail.empty() ? "" : "; ") + cuda_label(runtime) +
                     " does not support compute capability " + g->cc +
                     (a ? " (" + a->name + ")" : "");
  }
}

// The lowest driver that runs the build natively (need_driver); "" when the GPUs' last driver
// branch is below it, and then returns why no upgrade helps.
std::string set_needed_driver(const Knowledge& kb, const Gpus& gpus, const Toolkit& tk,
                              const MinorCompat* mc, CudaCompat& r) {
  r.need_driver = (r.needs_jit || !mc) ? tk.min_driver : std::min(mc->min_driver, tk.min_driver);
  if (gpus.empty()) r.need_driver = Version();
  // Architectures whose last driver branch is below what is needed cannot be upgraded there.
  std::string limit;
  for (const auto* g : gpus) {
    const ArchInfo* a = kb.arch(g->cc);
    if (a && !a->last_driver_branch.empty() &&
        r.need_driver.major() > std::stoi(a->last_driver_branch)) {
      limit = a->name + " GPUs stop at driver branch R" + a->last_driver_branch;
      r.need_driver = Version();
    }
  }
  return limit;
}

// The driver against the toolkit: full or minor-version compatibility (mode), or why not.
void check_driver(const Version& d, bool no_gpu, const Toolkit& tk, const MinorCompat* mc,
                  const std::string& cuda, const std::vector<std::string>& jit_gpus,
                  CudaCompat& r) {
  if (d.is_empty() && no_gpu) {
    r.detail = "no NVIDIA GPU and no NVIDIA driver on this machine";
  } else if (d.is_empty()) {
    r.detail = "no NVIDIA driver version known (is the driver loaded?); " + cuda +
               " needs >= " + tk.min_driver.text();
  } else if (d >= tk.min_driver) {
    r.mode = "full";
    r.detail = "driver " + d.text() + " >= " + tk.min_driver.text() + ", the minimum for " + cuda +
               " (full compatibility)";
  } else if (mc && d >= mc->min_driver && !r.needs_jit) {
    r.mode = "minor";
    r.detail = "driver " + d.text() + " is older than " + tk.min_driver.text() + " (" + cuda +
               ") but >= " + mc->min_driver.text() + ": runs under CUDA " +
               std::to_string(mc->major) +
               ".x minor-version compatibility (no PTX JIT needed: the build carries SASS for "
               "every GPU)";
  } else if (mc && d >= mc->min_driver) {
    r.detail = "driver " + d.text() + " runs " + cuda +
               " only under minor-version compatibility, which cannot JIT-compile PTX, and " +
               join(jit_gpus, ", ") + (jit_gpus.size() == 1 ? " needs" : " need") +
               " PTX JIT; full compatibility needs driver >= " + tk.min_driver.text();
  } else {
    r.detail = "driver " + d.text() + " is older than " +
               (mc ? mc->min_driver.text() + " (" + cuda + " under minor-version compatibility)"
                   : tk.min_driver.text() + " (" + cuda + ")");
  }
}

// Forward compatibility: data-center GPUs on a listed driver branch, with the cuda-compat
// package of the build's CUDA.
void check_forward_compat(const Knowledge& kb, const Gpus& gpus, const Version& d,
                          const Version& runtime, const std::string& cuda, CudaCompat& r) {
  const ForwardCompat* fc = nullptr;
  Version mm = Version::parse(runtime.major_minor());
  for (const auto& f : kb.forward_compat)
    if (mm >= f.cuda_min && mm <= f.cuda_max) fc = &f;
  bool all_dc = !gpus.empty() && std::all_of(gpus.begin(), gpus.end(),
                                             [](const GpuGroup* g) { return g->datacenter; });
  std::string pkg =
      "cuda-compat-" + std::to_string(runtime.major()) + "-" + std::to_string(runtime.minor());
  if (!fc) {
    r.forward_detail = "no forward-compatibility support is listed for " + cuda;
  } else if (!all_dc) {
    std::string who;
    for (const auto* g : gpus)
      if (!g->datacenter) who = g->model;
    r.forward_detail = "forward compatibility (" + pkg + ") works on data-center GPUs only; " +
                       who + " is not one";
  } else {
    const Version* branch = nullptr;
    for (const auto& b : fc->branches)
      if (b.major() == d.major()) branch = &b;
    if (branch && d >= *branch) {
      r.mode = "forward";
      r.forward_package = pkg;
      r.forward_detail = "driver branch R" + std::to_string(d.major()) + " (>= " + branch->text() +
                         ") supports forward compatibility to " + cuda +
                         " on data-center GPUs: install " + pkg;
      r.detail += "; " + r.forward_detail;
    } else {
      r.forward_detail = "driver branch R" + std::to_string(d.major()) +
                         " is not among the branches supporting " + cuda +
                         " forward compatibility (" + branch_list(*fc) + ")";
    }
  }
}

}  // namespace

DriverFloor driver_floor(const Knowledge& kb, const Machine& m) {
  DriverFloor f;
  std::vector<std::string> lines;
  for (const auto* g : m.gpus_of("nvidia")) {
    const ArchInfo* a = g->cc.empty() ? nullptr : kb.arch(g->cc);
    if (!a || a->min_driver.is_empty()) continue;
    // A model released after its architecture's first GPUs may need a later driver.
    const GpuModel* model = kb.gpu_model("nvidia", g->model);
    const bool by_model = model && a->min_driver < model->min_driver;
    const Version floor = by_model ? model->min_driver : a->min_driver;
    if (f.need < floor) {
      f.need = floor;
      f.source = by_model ? model->source : a->min_driver_source;
    }
    if (m.nvidia_driver.is_empty() || m.nvidia_driver >= floor) continue;
    f.below = true;
    lines.push_back("driver " + m.nvidia_driver.text() + " cannot drive " + g->model + " (" +
                    a->name + ", compute capability " + g->cc + "): the first driver for " +
                    (by_model ? "this model" : a->name + " GPUs") + " is " + floor.text() +
                    "; install branch R" + std::to_string(floor.major()) + " or later");
  }
  f.detail = join(lines, "; ");
  return f;
}

std::string sm_arch(const std::string& compute_capability) {
  Version v = Version::parse(compute_capability);
  return "sm_" + std::to_string(v.major()) + std::to_string(v.minor());
}

CudaCompat check_cuda(const Knowledge& kb, const Machine& m, const Version& runtime,
                      const std::vector<std::string>& archs) {
  CudaCompat r;
  auto gpus = m.gpus_of("nvidia");
  std::vector<std::string> jit_gpus;
  check_gpu_code(gpus, archs, r, jit_gpus);
  const Toolkit* tk = kb.toolkit(runtime);
  if (!tk) {
    r.detail = "CUDA " + runtime.text() + " is not in cuda.toml";
    return r;
  }
  check_toolkit_archs(kb, gpus, *tk, runtime, r);
  const MinorCompat* mc = kb.minor(runtime.major());
  std::string limit = set_needed_driver(kb, gpus, *tk, mc, r);
  const Version& d = m.nvidia_driver;
  std::string cuda = cuda_label(runtime);
  check_driver(d, gpus.empty(), *tk, mc, cuda, jit_gpus, r);
  // Below the GPU's own floor nothing runs, at any compatibility level.
  if (DriverFloor floor = driver_floor(kb, m); !floor.need.is_empty()) {
    if (!r.need_driver.is_empty() && r.need_driver < floor.need) r.need_driver = floor.need;
    if (floor.below) {
      r.below_floor = true;
      r.mode.clear();
      r.detail = "driver " + d.text() + " cannot drive this GPU (its first driver is " +
                 floor.need.text() + "); " + cuda + " itself needs >= " + tk->min_driver.text();
    }
  }
  if (!limit.empty() && r.mode.empty()) r.detail += "; " + limit + ", so no driver upgrade helps";
  // Forward compatibility cannot help a GPU the build (or its CUDA) has no code for.
  if (r.mode.empty() && !d.is_empty() && r.arch_ok && !r.below_floor)
    check_forward_compat(kb, gpus, d, runtime, cuda, r);
  r.ok = !r.mode.empty() && r.arch_ok;
  return r;
}

}  // namespace aion::envcfg
