#include "aion/api/params.h"

#include <charconv>
#include <string>

namespace aion::api {

Result<std::int64_t> positive_id_param(const Request& r, std::string_view what) {
  auto it = r.params.find("id");
  std::int64_t id = 0;
  if (it != r.params.end()) {
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), id);
    if (ec == std::errc() && p == it->second.data() + it->second.size() && id > 0) return id;
  }
  return fail(ErrorCode::kInvalidArgument, std::string(what) + " id is a positive integer");
}

Result<std::int64_t> int_query(const Request& r, std::string_view key, std::int64_t def,
                               std::int64_t lo, std::int64_t hi) {
  auto it = r.query.find(key);
  if (it == r.query.end()) return def;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || v < lo || v > hi) {
    return fail(ErrorCode::kInvalidArgument, "query parameter '" + std::string(key) +
                                                 "' must be an integer from " + std::to_string(lo) +
                                                 " to " + std::to_string(hi));
  }
  return v;
}

}  // namespace aion::api
