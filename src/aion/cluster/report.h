// Output formats for simulation results: JSON for scripts, CSV with one row per recorded point
// of every run, and an SVG line chart (unallocated GPU % against arrived workload, one line per
// policy, mean over seeds) in the style of the FGD paper's figures. Pure functions; thread-safe.
#pragma once

#include <string>

#include "aion/cluster/simulator.h"

namespace aion::cluster {

// {"nodes", "gpus", ..., "policies": [{"policy", "unallocated_gpu_pct_at_100": {mean, sd},
// "curve": [{arrived_pct, allocated_pct, unallocated_pct, frag_gpus, frag_rate_pct}]}],
// "runs": [{policy, seed, pods, failed{kind: n}, unallocated_gpu_pct_at_100, decision_ns}]}
std::string to_json(const SimResult& r);

// Header: policy,seed,arrived_pct,allocated_pct,unallocated_pct,frag_gpus,frag_rate_pct,
// failed_cpu,failed_share,failed_1-gpu,failed_2-gpu,failed_4-gpu,failed_8-gpu,failed_other
std::string to_csv(const SimResult& r);

// A self-contained SVG document. `title` goes above the chart; x spans [x_from, the last
// recorded percent].
std::string to_svg(const SimResult& r, const std::string& title, int x_from = 50);

}  // namespace aion::cluster
