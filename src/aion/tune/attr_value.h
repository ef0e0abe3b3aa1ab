// Attribute values: how a kernel attribute's text is read and compared (a number, a list of
// numbers, a word, a bracketed choice, a CPU list). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

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
// list joined by one space, a CPU list in canonical form ("0-3,8", see core/cpu_list.h),
// else the trimmed text (trailing NULs count as whitespace).
std::string normalize(ValueKind kind, std::string_view text);

}  // namespace aion::tune
