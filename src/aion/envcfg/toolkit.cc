#include "aion/envcfg/toolkit.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "aion/core/strings.h"
#include "aion/envcfg/cuda_compat.h"

namespace aion::envcfg {
namespace {

// "cuda" | "rocm" | "cann", or "" for any other name.
std::string toolkit_name(std::string_view name) {
  const std::string n = lower(name);
  if (n == "cuda" || n == "cuda-toolkit" || n == "cudatoolkit") return "cuda";
  if (n == "rocm" || n == "cann") return n;
  return {};
}

std::string toolkit_display(const std::string& tk) {
  return tk == "cuda" ? "CUDA Toolkit" : tk == "rocm" ? "ROCm" : "CANN";
}

struct TkFailure {
  std::string kind;  // "arch" | "driver" | "npu_driver" | "device"
  std::string text;
  Version need;  // the driver that fixes it; empty when none does
};

// One release of the requested toolkit, evaluated on the machine.
struct TkCandidate {
  Version version;
  std::string source;
  std::vector<TkFailure> failures;
  CudaCompat cuda;          // CUDA only
  int rank = 0;             // CUDA: 0 full, 1 minor-version, 2 forward compatibility
  bool installable = true;  // the tables have install commands for it on this OS
  std::vector<std::string> notes;

  bool ok() const { return failures.empty(); }
  bool fails_only_on(std::string_view kind) const {
    return !failures.empty() && std::all_of(failures.begin(), failures.end(),
                                            [&](const TkFailure& f) { return f.kind == kind; });
  }
  std::string failure_text() const {
    std::vector<std::string> t;
    for (const auto& f : failures) t.push_back(f.text);
    return join(t, "; ");
  }
};

TkCandidate tk_eval_cuda(const Knowledge& kb, const Machine& m, const Toolkit& tk) {
  TkCandidate c;
  c.version = tk.version;
  c.source = tk.source;
  std::vector<std::string> archs;
  for (const auto& cc : tk.archs) archs.push_back(sm_arch(cc));
  c.cuda = check_cuda(kb, m, tk.version, archs);
  if (!c.cuda.arch_ok) c.failures.push_back({"arch", c.cuda.arch_detail, {}});
  if (c.cuda.mode.empty()) c.failures.push_back({"driver", c.cuda.detail, c.cuda.need_driver});
  c.rank = c.cuda.mode == "full" ? 0 : c.cuda.mode == "minor" ? 1 : 2;
  return c;
}

TkCandidate tk_eval_rocm(const Machine& m, const RocmRelease& rr) {
  TkCandidate c;
  c.version = rr.version;
  c.source = rr.source;
  const auto gpus = m.gpus_of("amd");
  if (gpus.empty()) c.failures.push_back({"device", "no AMD GPU on this machine for ROCm", {}});
  for (const auto* g : gpus)
    if (g->gfx.empty())
      c.notes.push_back(g->model + ": gfx target unknown, support by ROCm " + rr.version.text() +
                        " not checked");
  for (auto& gap : rocm_gfx_gaps(m, rr)) c.failures.push_back({"arch", std::move(gap), {}});
  return c;
}

// Whether an NPU model is one the release lists; nullopt when the model name says too little
// to tell (a PCI-only name such as "huawei device d801").
std::optional<bool> tk_npu_listed(const CannRelease& cr, const std::string& model) {
  const std::string lm = lower(model);
  for (const auto& n : cr.npus)
    if (lm.find(lower(n)) != std::string::npos) return true;
  if (lm.find("ascend") == std::string::npos) return std::nullopt;
  return false;
}

TkCandidate tk_eval_cann(const Machine& m, const CannRelease& cr) {
  TkCandidate c;
  c.version = cr.version;
  c.source = cr.source;
  const auto npus = m.gpus_of("huawei");
  if (npus.empty()) c.failures.push_back({"device", "no Ascend NPU on this machine for CANN", {}});
  for (const auto* g : npus) {
    auto listed = tk_npu_listed(cr, g->model);
    if (!listed) {
      c.notes.push_back("NPU model '" + g->model + "' not named by the driver: support by CANN " +
                        cr.version.text() + " (" + join(cr.npus, ", ") + ") not checked");
    } else if (!*listed) {
      c.failures.push_back({"arch",
                            g->model + " is not among the NPUs CANN " + cr.version.text() +
                                " supports (" + join(cr.npus, ", ") + ")",
                            {}});
    }
  }
  if (cr.min_driver.is_empty() || npus.empty()) return c;
  if (m.npu_driver.is_empty()) {
    c.notes.push_back("NPU driver version unknown: CANN " + cr.version.text() +
                      " needs >= " + cr.min_driver.text());
  } else if (m.npu_driver < cr.min_driver) {
    c.failures.push_back({"npu_driver",
                          "NPU driver " + m.npu_driver.text() + " is older than " +
                              cr.min_driver.text() + ", the minimum for CANN " + cr.version.text(),
                          cr.min_driver});
  }
  return c;
}

// Every release of the toolkit the spec matches, evaluated; best first (runs, then CUDA's
// full over minor over forward compatibility, then the newest).
std::vector<TkCandidate> tk_search(const Knowledge& kb, const Machine& m, const std::string& tk,
                                   const VersionSpec& spec) {
  std::vector<TkCandidate> all;
  if (tk == "cuda") {
    for (const auto& t : kb.toolkits)
      if (spec.matches(t.version)) all.push_back(tk_eval_cuda(kb, m, t));
  } else if (tk == "rocm") {
    for (const auto& r : kb.rocm)
      if (spec.matches(r.version)) all.push_back(tk_eval_rocm(m, r));
  } else {
    for (const auto& r : kb.cann)
      if (spec.matches(r.version)) all.push_back(tk_eval_cann(m, r));
  }
  for (auto& c : all) c.installable = kb.install_for(tk, m.os_id, c.version) != nullptr;
  // Runs first; then, for CUDA, full over minor over forward compatibility; then a release
  // this OS has install commands for; then the newest.
  std::stable_sort(all.begin(), all.end(), [](const TkCandidate& a, const TkCandidate& b) {
    if (a.ok() != b.ok()) return a.ok();
    if (a.ok() && a.rank != b.rank) return a.rank < b.rank;
    if (a.ok() && a.installable != b.installable) return a.installable;
    return a.version > b.version;
  });
  return all;
}

std::vector<std::string> tk_known(const Knowledge& kb, const std::string& tk) {
  std::vector<std::string> out;
  if (tk == "cuda")
    for (const auto& t : kb.toolkits) out.push_back(t.version.text());
  if (tk == "rocm")
    for (const auto& r : kb.rocm) out.push_back(r.version.text());
  if (tk == "cann")
    for (const auto& r : kb.cann) out.push_back(r.version.text());
  return out;
}

std::map<std::string, std::string> tk_vars(const Knowledge& kb, const Machine& m,
                                           const Version& v) {
  const OsInfo* os = kb.platform(m.os_id, m.os_version);
  const bool arm = m.arch == "aarch64" || m.arch == "arm64";
  return {{"version", v.text()},
          {"major", std::to_string(v.major())},
          {"minor", std::to_string(v.minor())},
          {"repo", os ? os->cuda_repo : ""},
          {"codename", os ? os->codename : ""},
          {"arch", arm ? "sbsa" : "x86_64"},
          {"machine", arm ? "aarch64" : "x86_64"}};
}

// The install commands for this OS, or a warning that the tables have none.
void tk_install(const Knowledge& kb, const Machine& m, const std::string& tk, const TkCandidate& c,
                Plan& p) {
  const ToolkitInstall* in = kb.install_for(tk, m.os_id, c.version);
  const OsInfo* os = kb.platform(m.os_id, m.os_version);
  const bool needs_repo = tk == "cuda"   ? os && !os->cuda_repo.empty()
                          : tk == "rocm" ? os && !os->codename.empty()
                                         : true;
  if (!in || !needs_repo) {
    p.warnings.push_back("no install commands for " + toolkit_display(tk) + " " + c.version.text() +
                         " on " +
                         (m.os_id.empty() ? "an unknown OS" : m.os_id + " " + m.os_version) +
                         " in platforms.toml: use the container image");
    return;
  }
  auto vars = tk_vars(kb, m, c.version);
  for (const auto& line : in->commands) p.install.push_back(fill_placeholders(line, vars));
  if (!c.cuda.forward_package.empty())
    p.install.push_back("sudo apt-get install -y " + c.cuda.forward_package);
  if (!in->after.empty()) p.install.push_back(fill_placeholders(in->after, vars));
  p.reasons.push_back({"install", "commands for " + m.os_id + " " + m.os_version, in->source});
}

// The image with the toolkit inside: the CUDA development image (the runtime image's tag
// with "devel"), the ROCm development image, or the CANN image of the release.
void tk_image(const Knowledge& kb, const Machine& m, const std::string& tk, const TkCandidate& c,
              Plan& p) {
  const Backend kind = tk == "cuda"   ? Backend::kCuda
                       : tk == "rocm" ? Backend::kRocm
                                      : Backend::kNpu;
  // The toolkit alone before an image with a framework inside, then this machine's OS, then
  // the newest release of the series.
  const std::string mine = m.os_id + ":" + m.os_version;
  auto key = [&](const Image& im) {
    return std::make_tuple(im.contains.empty(), im.os == mine, im.runtime);
  };
  const Image* best = nullptr;
  for (const auto& im : kb.images) {
    if (im.kind != kind || im.runtime.major_minor() != c.version.major_minor()) continue;
    if (!best || key(im) > key(*best)) best = &im;
  }
  if (const Access* a = kb.access_for(kind)) {
    p.run_args = a->run_args;
    p.run_note = a->note;
  }
  if (!best) {
    p.warnings.push_back("no " + toolkit_display(tk) + " " + c.version.major_minor() +
                         " image in images.toml");
    return;
  }
  p.image = best->ref;
  p.image_os = best->os;
  if (kind == Backend::kCuda) {
    // nvidia/cuda tags name the flavour: X.Y.Z[-cudnn]-runtime-OS and X.Y.Z[-cudnn]-devel-OS.
    const auto colon = p.image.find(':');
    if (auto at = p.image.find("runtime", colon); at != std::string::npos)
      p.image.replace(at, 7, "devel");
    p.image_disable_require = c.cuda.mode == "minor";
  }
  p.reasons.push_back({"image",
                       p.image + ": " + toolkit_display(tk) + " " + best->runtime.text() +
                           (kind == Backend::kCuda ? " development image (nvcc, headers)" : ""),
                       best->source});
}

// The chosen release's fields, reasons and commands.
void tk_fill(const Knowledge& kb, const Machine& m, const std::string& tk, const VersionSpec& spec,
             const TkCandidate& c, Plan& p) {
  p.ok = true;
  p.version = c.version.text();
  p.variant = "toolkit";
  p.kind = tk == "cuda" ? Backend::kCuda : tk == "rocm" ? Backend::kRocm : Backend::kNpu;
  p.runtime = c.version.text();
  p.compatibility = c.cuda.mode;
  p.forward_package = c.cuda.forward_package;
  p.package = tk == "cuda" ? "cuda-toolkit-" + std::to_string(c.version.major()) + "-" +
                                 std::to_string(c.version.minor())
              : tk == "rocm" ? "rocm"
                             : "Ascend-cann-toolkit";
  p.reasons.push_back({"version",
                       toolkit_display(tk) + " " + c.version.text() + ": " +
                           (spec.empty() ? "the newest release in the tables"
                                         : "the newest release matching '" + spec.text() + "'") +
                           " that runs on this machine (tables as of " + p.kb_as_of + ")",
                       c.source});
  if (tk == "cuda") {
    p.reasons.push_back({"driver", c.cuda.detail, c.source});
    p.reasons.push_back(
        {"gpu", "CUDA " + c.version.major_minor() + " builds for " + m.describe_gpus("nvidia"),
         c.source});
    if (c.cuda.mode == "minor")
      p.warnings.push_back(
          "under minor-version compatibility programs built with this nvcc must carry SASS "
          "for every GPU (-arch=sm_XY): the driver cannot JIT-compile their PTX");
  } else {
    p.reasons.push_back({"gpu",
                         toolkit_display(tk) + " " + c.version.text() + " supports " +
                             m.describe_gpus(tk == "rocm" ? "amd" : "huawei"),
                         c.source});
    if (tk == "rocm" && !m.rocm.is_empty() && m.rocm != c.version)
      p.reasons.push_back({"host",
                           "the host's ROCm " + m.rocm.text() +
                               " is replaced: the commands install the amdgpu driver and ROCm " +
                               c.version.text(),
                           ""});
  }
  for (const auto& n : c.notes) p.warnings.push_back(n);
  tk_install(kb, m, tk, c, p);
  tk_image(kb, m, tk, c, p);
}

// What fails, and the ways out: a driver upgrade (the newest release it unlocks and the
// smallest), and the best release that runs here as it is.
void tk_fail(const Knowledge& kb, const Machine& m, const std::string& tk, const PlanRequest& req,
             const std::vector<TkCandidate>& all, Plan& p) {
  p.ok = false;
  const std::string name = toolkit_display(tk);
  for (const auto& c : all) {
    if (p.failures.size() >= 10) break;
    p.failures.push_back(name + " " + c.version.text() + ": " + c.failure_text());
  }
  const TkCandidate* newest = nullptr;
  const TkCandidate* cheapest = nullptr;
  for (const auto& kind : {"driver", "npu_driver"}) {
    for (const auto& c : all) {
      if (!c.fails_only_on(kind) || c.failures.front().need.is_empty()) continue;
      if (!newest) newest = &c;
      if (!cheapest || c.failures.front().need < cheapest->failures.front().need) cheapest = &c;
    }
  }
  auto upgrade = [&](const TkCandidate& c) {
    const Version need = c.failures.front().need;
    const bool npu = c.failures.front().kind == "npu_driver";
    WayOut w{npu ? "npu_driver" : "driver",
             std::string("upgrade the ") + (npu ? "NPU" : "NVIDIA") + " driver to >= " +
                 need.text() + (npu ? "" : " (branch R" + std::to_string(need.major()) + ")") +
                 ": then " + name + " " + c.version.text() + " runs",
             req};
    w.request.framework = tk + "==" + c.version.text();
    (npu ? w.npu_driver : w.driver) = need;
    p.ways_out.push_back(std::move(w));
  };
  if (newest) upgrade(*newest);
  if (cheapest && cheapest != newest) upgrade(*cheapest);
  for (const auto& c : all) {
    if (c.fails_only_on("driver") && !c.cuda.forward_detail.empty() && !c.cuda.below_floor) {
      p.failures.push_back("forward compatibility for CUDA " + c.version.major_minor() +
                           " does not help: " + c.cuda.forward_detail);
      break;
    }
  }
  auto any = tk_search(kb, m, tk, VersionSpec());
  if (!any.empty() && any.front().ok())
    p.ways_out.push_back({"toolkit",
                          "use " + name + " " + any.front().version.text() +
                              ", the best release that runs here as it is",
                          {tk + "==" + any.front().version.text(), req.python, ""}});
}

}  // namespace

bool is_toolkit_request(std::string_view name) {
  return !toolkit_name(name).empty();
}

Result<Plan> make_toolkit_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req) {
  const Requirement rq = split_requirement(req.framework);
  const std::string tk = toolkit_name(rq.name);
  auto spec = VersionSpec::parse(rq.spec);
  if (!spec) return std::unexpected(spec.error());
  if (auto why = spec->contradiction())
    return fail(ErrorCode::kInvalidArgument,
                "impossible version constraint '" + req.framework + "': " + *why);
  std::vector<TkCandidate> all = tk_search(kb, m, tk, *spec);
  if (all.empty())
    return fail(ErrorCode::kNotFound, "no " + toolkit_display(tk) +
                                          " release in the tables matches '" + rq.spec +
                                          "' (known: " + join(tk_known(kb, tk), ", ") +
                                          "; tables as of " + kb.as_of() + ")");
  Plan p;
  p.request = req.framework;
  p.framework = tk;
  p.display = toolkit_display(tk);
  p.kb_as_of = kb.as_of();
  p.warnings = m.notes;
  if (!req.python.empty() || !req.variant.empty())
    p.warnings.push_back("--python and --variant apply to framework plans; ignored for " +
                         p.display);
  const char* vendor = tk == "cuda" ? "nvidia" : tk == "rocm" ? "amd" : "huawei";
  if (m.gpus_of(vendor).empty()) {
    // Nothing to run on: one line, not one per release.
    p.ok = false;
    p.failures.push_back(std::string("this machine has no ") +
                         (tk == "cuda"   ? "NVIDIA GPU"
                          : tk == "rocm" ? "AMD GPU"
                                         : "Ascend NPU") +
                         " for " + p.display +
                         " to run on (to build code for one elsewhere, use "
                         "the toolkit's development image)");
  } else if (all.front().ok()) {
    tk_fill(kb, m, tk, *spec, all.front(), p);
  } else {
    tk_fail(kb, m, tk, req, all, p);
  }
  return p;
}

}  // namespace aion::envcfg
