#include "aion/core/cpu_list.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

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

Result<std::vector<int>> parse_cpu_mask(std::string_view text) {
  std::vector<std::string_view> words;
  std::string_view rest = text;
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  if (rest.empty()) return fail(ErrorCode::kParse, "empty CPU mask");
  for (std::size_t start = 0;;) {
    std::size_t comma = rest.find(',', start);
    words.push_back(rest.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::vector<int> out;
  const int n = static_cast<int>(words.size());
  for (int w = 0; w < n; ++w) {
    std::string_view word = words[static_cast<std::size_t>(n - 1 - w)];  // least significant
    std::uint32_t bits = 0;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), bits, 16);
    if (word.empty() || word.size() > 8 || ec != std::errc() || end != word.data() + word.size())
      return fail(ErrorCode::kParse,
                  "'" + std::string(text) + "' is not a CPU mask (hex words separated by commas)");
    for (int b = 0; b < 32; ++b) {
      if (!(bits & (1u << b))) continue;
      const int cpu = w * 32 + b;
      if (cpu > kMaxCpuId)
        return fail(ErrorCode::kParse, "CPU mask sets CPU " + std::to_string(cpu) +
                                           ", above the largest supported id " +
                                           std::to_string(kMaxCpuId));
      out.push_back(cpu);
    }
  }
  return out;
}

}  // namespace aion
