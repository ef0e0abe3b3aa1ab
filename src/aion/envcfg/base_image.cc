#include "aion/envcfg/base_image.h"

#include <algorithm>
#include <vector>

#include "aion/envcfg/cuda_compat.h"

namespace aion::envcfg {
namespace {

std::string os_of(const std::string& image_os, std::string* version) {
  auto colon = image_os.find(':');
  *version = colon == std::string::npos ? "" : image_os.substr(colon + 1);
  return image_os.substr(0, colon);
}

// The Python an image gives: its own, or its OS's python3.
std::string image_python_of(const Knowledge& kb, const Image& im) {
  if (!im.python.empty()) return im.python;
  std::string ver;
  std::string id = os_of(im.os, &ver);
  const OsInfo* os = kb.platform(id, ver);
  return os ? os->python : "";
}

// An image and why it was picked; image null when none fits.
struct Pick {
  const Image* image = nullptr;
  std::string why;
};

// Orders equally good images: same Python as the plan first, then the machine's OS, then the
// newer OS.
struct Preference {
  const Knowledge& kb;
  const Machine& m;
  const std::string& python;
  bool operator()(const Image* a, const Image* b) const {
    bool pa = image_python_of(kb, *a) == python, pb = image_python_of(kb, *b) == python;
    if (pa != pb) return pa;
    std::string mo = m.os_id + ":" + m.os_version;
    if ((a->os == mo) != (b->os == mo)) return a->os == mo;
    return a->os > b->os;
  }
};

Pick cuda_image(const Knowledge& kb, const Machine& m, const Framework& fw, const ChosenBuild& c,
                const std::vector<const Image*>& pool, const Preference& prefer, Plan& p) {
  const Variant& var = c.var;
  Pick pick;
  const Image*& best = pick.image;
  const Toolkit* driver_tk =
      m.nvidia_driver.is_empty() ? nullptr : kb.newest_toolkit_for(m.nvidia_driver);
  bool bundles = fw.name != "onnxruntime";
  if (bundles && driver_tk && c.cuda.mode != "forward") {
    // Wheels bring their own CUDA runtime: the image only needs to start on this driver.
    Version limit = std::min(var.runtime, driver_tk->version);
    for (const auto* im : pool) {
      if (im->runtime.major() != var.runtime.major() ||
          Version::parse(im->runtime.major_minor()) > Version::parse(limit.major_minor()))
        continue;
      if (!best || im->runtime > best->runtime ||
          (im->runtime == best->runtime && prefer(im, best)))
        best = im;
    }
    if (best)
      pick.why = "the newest CUDA " + std::to_string(var.runtime.major()) + ".x image the driver " +
                 m.nvidia_driver.text() + " starts at full compatibility (CUDA " +
                 best->runtime.major_minor() + " <= " + driver_tk->version.text() +
                 "); the wheel brings its own CUDA " + var.runtime.major_minor() + " runtime";
  }
  if (best) return pick;
  for (const auto* im : pool) {
    if (im->runtime.major_minor() != var.runtime.major_minor()) continue;
    if (!bundles && !var.cudnn.empty() && !im->cudnn.empty() &&
        Version::parse(im->cudnn).major() != Version::parse(var.cudnn).major())
      continue;
    if (!best || prefer(im, best)) best = im;
  }
  if (!best) return pick;
  pick.why = "CUDA " + best->runtime.major_minor() + " image matching the build's runtime";
  if (c.cuda.mode == "minor") {
    p.image_disable_require = true;
    pick.why +=
        "; the driver is older than the image's CUDA, so the image's own driver check "
        "(NVIDIA_REQUIRE_CUDA) is switched off: the build runs under minor-version "
        "compatibility";
  } else if (c.cuda.mode == "forward") {
    pick.why += "; " + c.cuda.forward_package + " is installed in it (forward compatibility)";
  }
  return pick;
}

Pick rocm_image(const Variant& var, const std::vector<const Image*>& pool,
                const Preference& prefer) {
  Pick pick;
  for (const auto* im : pool) {
    if (Version::parse(im->runtime.major_minor()) > Version::parse(var.runtime.major_minor()))
      continue;
    if (!pick.image || im->runtime > pick.image->runtime ||
        (im->runtime == pick.image->runtime && prefer(im, pick.image)))
      pick.image = im;
  }
  if (pick.image)
    pick.why = "ROCm " + pick.image->runtime.major_minor() +
               " user space, the newest not above the build's ROCm " + var.runtime.major_minor();
  return pick;
}

// OpenVINO's own runtime image of the release, else the official Python image.
Pick openvino_image(const Knowledge& kb, const ChosenBuild& c) {
  Pick pick;
  for (const auto& im : kb.images) {
    if (im.kind == Backend::kOpenVino &&
        Version::parse(im.contains.substr(im.contains.find(' ') + 1)) == c.rel.version)
      pick.image = &im;
  }
  if (pick.image) {
    pick.why = "OpenVINO's own runtime image for " + c.rel.version.text();
    return pick;
  }
  for (const auto& im : kb.images)
    if (im.kind == Backend::kCpu && im.python == c.python) pick.image = &im;
  if (pick.image)
    pick.why = "Docker's official Python image (no OpenVINO image of this release in the table)";
  return pick;
}

// CPU and NPU builds: the official Python image, or an Ascend CANN image not above the build's.
Pick plain_image(const Variant& var, const std::vector<const Image*>& pool,
                 const Preference& prefer) {
  Pick pick;
  for (const auto* im : pool) {
    if (var.kind == Backend::kNpu &&
        Version::parse(im->runtime.major_minor()) > Version::parse(var.runtime.major_minor()))
      continue;
    if (!pick.image || prefer(im, pick.image)) pick.image = im;
  }
  if (pick.image)
    pick.why = var.kind == Backend::kNpu ? "Ascend CANN image" : "Docker's official Python image";
  return pick;
}

}  // namespace

void choose_image(const Knowledge& kb, const Machine& m, const Framework& fw, const ChosenBuild& c,
                  Plan& p) {
  const Variant& var = c.var;
  std::vector<const Image*> pool;
  for (const auto& im : kb.images)
    if (im.kind == var.kind && im.contains.empty()) pool.push_back(&im);
  const Preference prefer{kb, m, c.python};
  Pick pick;
  if (var.kind == Backend::kCuda) {
    pick = cuda_image(kb, m, fw, c, pool, prefer, p);
  } else if (var.kind == Backend::kRocm) {
    pick = rocm_image(var, pool, prefer);
  } else if (var.kind == Backend::kOpenVino) {
    pick = openvino_image(kb, c);
  } else {
    pick = plain_image(var, pool, prefer);
  }
  const Image* best = pick.image;
  if (!best) {
    const char* runtime = var.kind == Backend::kCuda   ? "CUDA "
                          : var.kind == Backend::kRocm ? "ROCm "
                          : var.kind == Backend::kNpu  ? "CANN "
                                                       : "";
    p.warnings.push_back("no base image in images.toml fits a " + std::string(to_string(var.kind)) +
                         " build" + (*runtime ? std::string(" of ") + runtime : "") +
                         var.runtime.text() + "; the Dockerfile needs a base chosen by hand");
    return;
  }
  p.image = best->ref;
  p.image_os = best->os;
  std::string ip = image_python_of(kb, *best);
  p.image_python = ip == c.python ? (best->python.empty() ? "apt" : "image") : "uv";
  if (p.image_python == "uv")
    pick.why += "; Python " + c.python + " is installed with uv (the image's is " +
                (ip.empty() ? "none" : ip) + ")";
  p.reasons.push_back({"image", best->ref + ": " + pick.why, best->source});
  if (const Access* a = kb.access_for(var.kind)) {
    p.run_args = a->run_args;
    p.run_note = a->note;
  }
}

void choose_alternative(const Knowledge& kb, const Machine& m, const ChosenBuild& c, Plan& p) {
  if (c.var.kind != Backend::kCuda) return;
  std::vector<std::string> archs;
  for (const auto* g : m.gpus_of("nvidia"))
    if (!g->cc.empty()) archs.push_back(sm_arch(g->cc));
  for (auto it = kb.images.rbegin(); it != kb.images.rend(); ++it) {
    // Only an image holding the same release series as the plan is an alternative to it.
    if (it->kind != Backend::kCuda || it->contains.rfind(c.rel.framework + " ", 0) != 0) continue;
    Version inside = Version::parse(it->contains.substr(c.rel.framework.size() + 1));
    if (inside.major_minor() != c.rel.version.major_minor()) continue;
    CudaCompat cc = check_cuda(kb, m, it->runtime, archs);
    if (!cc.ok) continue;
    p.alternative_image =
        it->ref + " (" + it->contains + ", CUDA " + it->runtime.text() +
        (cc.mode == "full" ? ""
                           : ", runs here via " + (cc.mode == "minor" ? "minor-version" : cc.mode) +
                                 " compatibility") +
        ")";
    return;
  }
}

}  // namespace aion::envcfg
