// Attribute values: how a kernel attribute's text is read and compared (a number, a list of
// numbers, a word, a bracketed choice, a CPU list) and the CPU list form "0-3,8". Pure
// functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aion::tune {

// How an attribute's text is read and compared.
enum class ValueKind {
  kInt,      // "60"
  kInts,     // "4096\t131072\t6291456" (compared word by word)
  kWord,     // "performance", "n/a"
  kChoice,   // "always [madvise] never": the bracketed word is the value
  kCpuList,  // "0-3,8" (compared as sets)
};

// The value an attribute's text stands for: the bracketed word of a choice, words of a
// list joined by one space, a CPU list in canonical form ("0-3,8"), else the trimmed text.
std::string normalize(ValueKind kind, std::string_view text);

// CPU lists: "0-3,8" <-> {0,1,2,3,8}. parse fails on anything else.
std::optional<std::vector<int>> parse_cpu_list(std::string_view text);
std::string format_cpu_list(const std::vector<int>& cpus);

}  // namespace aion::tune
