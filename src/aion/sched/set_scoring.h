// Whole-GPU placement: scoring N-GPU sets by their links (worst pair, then the sum), what
// they leave of the free GPUs and their NUMA spread; every set while there are few, else sets
// grown greedily from each free GPU. Internal to placement; pure functions of the search
// context; thread-safe.
#pragma once

#include <string>

#include "aion/sched/placement_search.h"

namespace aion::sched::detail {

// The best `max_candidates` GPU sets for a whole-GPU request, best first, into out.
void place_whole(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                 int max_candidates, PlacementResult& out);
// Why a whole-GPU request does not fit now: "needs 4 GPUs, 2 free (6 in use)".
std::string whole_gpu_shortage(const NodeModel& m, const Search& ctx, const Request& r);

}  // namespace aion::sched::detail
