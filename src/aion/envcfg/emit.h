// Writing a resolved plan (resolver.h) as files users run: a Dockerfile on a pinned vendor
// base image, a conda environment.yml, a pip requirements.txt, a VS Code devcontainer
// (devcontainer.json + Dockerfile), or a shell script (install.sh: a venv and the pip lines,
// or a toolkit's install commands). Toolkit plans (`cuda==12.4`) have no Python packages:
// they are written as a Dockerfile on the toolkit's development image, a devcontainer or a
// script. Pure functions of the plan; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/resolver.h"

namespace aion::envcfg {

enum class EmitFormat { kDockerfile, kConda, kRequirements, kDevcontainer, kScript };

// "dockerfile" | "conda" | "requirements" | "devcontainer" | "script"; kInvalidArgument
// otherwise.
Result<EmitFormat> parse_emit_format(std::string_view name);

struct EmittedFile {
  std::string name;  // "Dockerfile", "environment.yml", "requirements.txt", "devcontainer.json"
  std::string content;
};

// The pip view of a plan's install lines: one primary index (or PyPI), extra indexes, and the
// requirements ("torch==2.4.1", or a wheel URL).
struct PipSpec {
  std::string index_url;
  std::vector<std::string> extra_index_urls;
  std::vector<std::string> requirements;
};
PipSpec pip_spec(const Plan& p);

// Errors: kInvalidArgument for a plan that is not ok (nothing fits: there is nothing to write),
// for Dockerfiles one without a base image, and conda/requirements for a toolkit plan.
Result<std::vector<EmittedFile>> emit(const Plan& p, EmitFormat format, const Knowledge& kb);

}  // namespace aion::envcfg
