// Toolkit plans: "can I install CUDA 12.1 (ROCm 6.2, CANN 8.0) on this machine, and how?".
// For a request naming a toolkit ("cuda", "cuda==12.1", "rocm==6.2", "cann>=8.0") the newest
// matching release that runs here: the driver it needs (present, or the upgrade), whether
// every GPU or NPU is supported, the container image with the toolkit inside, and the
// install commands for this OS (platforms.toml [[install]]). When none runs: what fails and
// the ways out (a driver upgrade, another release), in the structured form make_plan()
// re-plans before offering them. Pure functions of the tables and the machine; thread-safe.
#pragma once

#include <string_view>

#include "aion/core/error.h"
#include "aion/envcfg/knowledge.h"
#include "aion/envcfg/machine.h"
#include "aion/envcfg/resolver.h"

namespace aion::envcfg {

// "cuda", "cuda-toolkit", "cudatoolkit", "rocm", "cann" (any case).
bool is_toolkit_request(std::string_view name);

// The plan for a toolkit request (make_plan() calls it). Errors (kInvalidArgument) for an
// unreadable or impossible version constraint; kNotFound when no release in the tables
// matches it (naming the known ones).
Result<Plan> make_toolkit_plan(const Knowledge& kb, const Machine& m, const PlanRequest& req);

}  // namespace aion::envcfg
