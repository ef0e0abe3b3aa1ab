// GPU-share placement: a fractional job goes to the GPU that already has shares and still
// fits it (best fit), or to the GPU a cluster placement policy picks with this node seen as a
// one-node cluster (PlaceOptions::share_policy), so whole GPUs stay free for whole-GPU jobs.
// Internal to placement; pure functions of the search context; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "aion/sched/placement_search.h"

namespace aion::sched::detail {

// Whether a share fits on GPU g now. A GPU of unknown memory (0) is not limited by memory.
bool share_fits(const NodeModel& m, const NodeState& st, const Request& r, int g);
// The best `max_candidates` GPUs for a share, best first, into out.
void place_share(const NodeModel& m, const NodeState& st, const Search& ctx, const Request& r,
                 int max_candidates, const PlaceOptions& po, PlacementResult& out);
// Why no GPU takes the share: "no GPU has 0.50 of its capacity free for a share (...)".
std::string share_shortage(const NodeState& st, const Search& ctx, const Request& r);

// How placement messages write sizes and shares: "12.0 GiB", "0.25".
std::string gib(std::uint64_t bytes);
std::string fraction_text(double f);

}  // namespace aion::sched::detail
