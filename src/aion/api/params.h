// How route handlers read numbers from a request: a positive {id} path parameter and an
// integer query parameter within bounds, each refused with a kInvalidArgument that says what
// was expected. Internal to the api module's route files. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "aion/api/http.h"
#include "aion/core/error.h"

namespace aion::api {

// The {id} path parameter; `what` names it in the error: "a job" -> "a job id is a positive
// integer".
Result<std::int64_t> positive_id_param(const Request& r, std::string_view what);

// The query parameter `key`, or `def` when absent; an error when it is not an integer from
// `lo` to `hi`.
Result<std::int64_t> int_query(const Request& r, std::string_view key, std::int64_t def,
                               std::int64_t lo, std::int64_t hi);

}  // namespace aion::api
