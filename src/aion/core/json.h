// JSON for aion: nlohmann::json under a short name. This header is heavy; include it from
// .cc files only, never from a widely included header.
#pragma once

#include <nlohmann/json.hpp>

namespace aion {
using Json = nlohmann::json;
}  // namespace aion
