// Small text helpers every module uses: trimming, case folding, splitting, joining, whole-string
// integer parsing and edit distance. ASCII only: the texts are sysfs attributes, config keys,
// command names and log words, never user prose. Pure functions; thread-safe.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace aion {

// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view trim_view(std::string_view s);
std::string trim(std::string_view s);

// `s` with A-Z folded to a-z.
std::string lower(std::string_view s);

// The pieces of `text` between `sep`s, in order. "a,,b" gives {"a", "", "b"}; "" gives {}.
// With skip_empty, empty pieces (after trimming, when trim_pieces is set) are left out.
struct SplitOptions {
  bool trim_pieces = false;
  bool skip_empty = false;
};
std::vector<std::string> split(std::string_view text, char sep, SplitOptions opts = {});

// The words of `text`: the pieces between runs of ASCII whitespace, none of them empty.
// "4096\t131072  6291456\n" gives {"4096", "131072", "6291456"}; "" and "  " give {}.
std::vector<std::string> split_words(std::string_view text);

// The items joined with `sep` between them: join({"a","b"}, ", ") is "a, b". Items are
// anything a std::string_view can be made from, or integers (written in decimal).
template <class Range>
std::string join(const Range& items, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += sep;
    first = false;
    using Item = std::remove_cvref_t<decltype(item)>;
    if constexpr (std::is_integral_v<Item>) {
      out += std::to_string(item);
    } else {
      out += std::string_view(item);
    }
  }
  return out;
}

// The whole of `s` as a base-10 integer of type T (optional leading '-'); nullopt when `s` is
// empty, has anything else in it, or does not fit T.
template <std::integral T = std::int64_t>
std::optional<T> parse_int(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// `text` with every "{name}" of a name in `vars` replaced by its value, left to right; an
// inserted value is not scanned again, and "{other}" names not in `vars` stay as they are.
std::string fill_placeholders(std::string text, const std::map<std::string, std::string>& vars);

// Levenshtein distance: the fewest single-character inserts, deletes and substitutions that
// turn `a` into `b`. O(|a|*|b|) time, O(|b|) memory; for "did you mean" hints on short names.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` by edit distance (ties: the first), or "" when `candidates`
// is empty or the nearest is more than max_distance edits away.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates,
                    std::size_t max_distance);

}  // namespace aion
