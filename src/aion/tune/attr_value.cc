#include "aion/tune/attr_value.h"

#include "aion/core/strings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <sstream>

namespace aion::tune {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '\0'))
    s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

std::string normalize(ValueKind kind, std::string_view text) {
  switch (kind) {
    case ValueKind::kChoice: {
      auto w = words(text);
      for (const auto& x : w) {
        if (x.size() > 2 && x.front() == '[' && x.back() == ']') return x.substr(1, x.size() - 2);
      }
      return w.size() == 1 ? w.front() : trim(text);
    }
    case ValueKind::kInts: return join(words(text), " ");
    case ValueKind::kCpuList: {
      auto l = parse_cpu_list(trim(text));
      return l ? format_cpu_list(*l) : trim(text);
    }
    case ValueKind::kInt:
    case ValueKind::kWord: return trim(text);
  }
  return trim(text);
}

std::optional<std::vector<int>> parse_cpu_list(std::string_view text) {
  std::vector<int> out;
  std::string t = trim(text);
  if (t.empty()) return out;
  std::istringstream in(t);
  for (std::string part; std::getline(in, part, ',');) {
    auto dash = part.find('-');
    auto a = parse_int(std::string_view(part).substr(0, dash));
    auto b = dash == std::string::npos ? a : parse_int(std::string_view(part).substr(dash + 1));
    if (!a || !b || *a < 0 || *b < *a || *b > 65535) return std::nullopt;
    for (auto c = *a; c <= *b; ++c) out.push_back(static_cast<int>(c));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace aion::tune
