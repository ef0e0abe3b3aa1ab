// The container base image of a plan: for the chosen build, the image of images.toml that
// starts on this machine's driver (or carries the build's ROCm, CANN, OpenVINO or Python),
// how the Dockerfile gets its Python, the run arguments for device access, and an NGC/vendor
// image with the framework inside as an alternative. Pure functions of the knowledge tables
// and the machine; thread-safe.
#pragma once

#include <string>

#include "aion/envcfg/cuda_compat.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/resolver.h"

namespace aion::envcfg {

// The build a plan chose, as the image choice reads it.
struct ChosenBuild {
  const Release& rel;
  const Variant& var;
  const std::string& python;  // the plan's Python
  const CudaCompat& cuda;     // its CUDA verdict (CUDA builds)
};

// Sets the plan's image fields and adds an "image" reason; a warning when no image fits.
void choose_image(const Knowledge& kb, const Machine& m, const Framework& fw, const ChosenBuild& c,
                  Plan& p);
// Sets Plan::alternative_image for a CUDA build when an image holds the same release series.
void choose_alternative(const Knowledge& kb, const Machine& m, const ChosenBuild& c, Plan& p);

}  // namespace aion::envcfg
