// HeaderFormat: splits a log line into its header fields and its free-text Content, from a
// format in Loghub's notation: "<Date> <Time> <Level> \[<Component>\]: <Content>".
//
// <Name> is a field (matched lazily); the text between fields is a regular expression in RE2
// syntax in which every run of spaces matches any run of whitespace (as in the Loghub
// benchmark's tooling). The format must contain <Content>. Immutable; thread-safe.
//
// Speed: a format whose literal text is plain characters, escaped punctuation, spaces and
// optional parts ("(\\[<Pid>\\])?", "\\[?") is also compiled to a small backtracking matcher that
// gives RE2's leftmost-first fields and runs without RE2; other formats (and lines that would make
// it backtrack a lot) use RE2.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace re2 {
class RE2;
}

namespace aion::logs {

struct HeaderFields {
  std::vector<std::pair<std::string, std::string>> fields;  // in format order, without Content
  std::string content;
};

// A line's fields as views into the line, in HeaderFormat::names() order (<Content> among
// them, and also in `content`). Reused from line to line it costs no allocation per line.
struct HeaderView {
  std::vector<std::string_view> values;
  std::string_view content;
};

class HeaderFormat {
 public:
  // kInvalidArgument when the format has no <Content> field or does not compile.
  static Result<HeaderFormat> parse(std::string_view format);

  // nullopt when the line does not have this header.
  std::optional<HeaderFields> split(std::string_view line) const;
  // As split(), into views of `line`; false when the line does not have this header.
  bool split(std::string_view line, HeaderView& out) const;
  // As split(), always through RE2: the definition the fast matcher must equal.
  std::optional<HeaderFields> split_reference(std::string_view line) const;
  // Whether split() runs the fast matcher (else every line goes through RE2).
  bool fast() const { return !pieces_.empty(); }
  const std::string& format() const { return format_; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  // One step of the fast matcher: a field (lazy, any text), a literal byte, a run of
  // whitespace (greedy, at least one), or the bounds of an optional part ("(...)?", "\\[?";
  // greedy: tried before it is left out).
  struct Piece {
    enum Kind : unsigned char { kField, kLiteral, kSpaces, kOptBegin, kOptEnd } kind;
    char c = 0;                  // kLiteral
    std::size_t field = 0;       // kField: its index in names_; kOptBegin: the first field inside
    std::size_t fields_end = 0;  // kOptBegin: one past the last field inside
    std::size_t end = 0;         // kOptBegin: the index of its kOptEnd
  };
  using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
  // Compiles literal text (between fields) into `pattern` and pieces_; false when the fast
  // matcher cannot run it. `open_groups`: the kOptBegin pieces of groups not closed yet.
  bool add_literal(std::string_view literal, std::string& pattern,
                   std::vector<std::size_t>& open_groups);
  // The whole line through RE2 (the definition of a split), into views of `line`.
  bool match_re2(std::string_view line, HeaderView& out) const;
  HeaderFields fields_of(const HeaderView& view) const;
  int fast_match(std::size_t piece, std::string_view line, std::size_t pos, Spans& spans,
                 int& budget) const;

  std::string format_;
  std::vector<std::string> names_;
  std::size_t content_ = 0;  // the index of <Content> in names_
  std::shared_ptr<const re2::RE2> re_;
  std::vector<Piece> pieces_;  // empty: RE2 only
};

}  // namespace aion::logs
