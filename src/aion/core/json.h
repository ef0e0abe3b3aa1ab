// JSON for aion: nlohmann::json under a short name. This header is heavy; include it from
// .cc files only, never from a widely included header. A Json is a value: not thread-safe to
// change from two threads at once; const reads of one nobody changes are.
#pragma once

#include <nlohmann/json.hpp>

namespace aion {
using Json = nlohmann::json;
}  // namespace aion
