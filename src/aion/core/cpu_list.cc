#include "aion/core/cpu_list.h"

#include <algorithm>

#include "aion/core/strings.h"

namespace aion {
namespace {

Error not_a_list(std::string_view text) {
  return Error(ErrorCode::kParse,
               "'" + std::string(text) + "' is not a list of numbers and ranges (e.g. 0-3,8)");
}

}  // namespace

Result<std::vector<int>> parse_int_ranges(std::string_view text) {
  std::vector<int> out;
  const std::string_view t = trim_view(text);
  if (t.empty()) return out;
  for (const auto& part : split(t, ',')) {
    const auto dash = part.find('-');
    const auto a = parse_int<int>(std::string_view(part).substr(0, dash));
    const auto b =
        dash == std::string::npos ? a : parse_int<int>(std::string_view(part).substr(dash + 1));
    if (!a || !b || *a < 0 || *b < *a || *b - *a > (1 << 20)) {
      return std::unexpected(not_a_list(t));
    }
    for (int v = *a; v <= *b; ++v) out.push_back(v);
  }
  return out;
}

Result<std::vector<int>> parse_cpu_list(std::string_view text) {
  auto values = parse_int_ranges(text);
  if (!values) return values;
  std::sort(values->begin(), values->end());
  values->erase(std::unique(values->begin(), values->end()), values->end());
  if (!values->empty() && values->back() > kMaxCpuId) {
    return std::unexpected(not_a_list(trim_view(text)));
  }
  return values;
}

std::string format_cpu_list(std::vector<int> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string out;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(values[i]);
    if (j > i) out += '-' + std::to_string(values[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace aion
