#include "aion/tune/attr_value.h"

#include "aion/core/cpu_list.h"
#include "aion/core/strings.h"

namespace aion::tune {
namespace {

// The text without surrounding whitespace; trailing NULs count as whitespace.
std::string attr_text(std::string_view s) {
  s = trim_view(s);
  while (!s.empty() && s.back() == '\0') s = trim_view(s.substr(0, s.size() - 1));
  return std::string(s);
}

}  // namespace

std::string normalize(ValueKind kind, std::string_view text) {
  switch (kind) {
    case ValueKind::kChoice: {
      auto w = split_words(text);
      for (const auto& x : w) {
        if (x.size() > 2 && x.front() == '[' && x.back() == ']') return x.substr(1, x.size() - 2);
      }
      return w.size() == 1 ? w.front() : attr_text(text);
    }
    case ValueKind::kInts: return join(split_words(text), " ");
    case ValueKind::kCpuList: {
      auto l = parse_cpu_list(attr_text(text));
      return l ? format_cpu_list(*l) : attr_text(text);
    }
    case ValueKind::kInt:
    case ValueKind::kWord: return attr_text(text);
  }
  return attr_text(text);
}

}  // namespace aion::tune
