#include "aion/logs/header.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>

namespace aion::logs {
namespace {

// RE2's \s.
bool re2_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

// Steps (pieces tried and bytes a field scans) the fast matcher may take on a line of n bytes
// before it leaves the line to RE2: a few passes over the line.
int budget_for(std::size_t n) {
  return static_cast<int>(std::min<std::size_t>(8 * n + 256, 1 << 24));
}
constexpr int kNoMatch = 0, kMatch = 1, kGiveUp = 2;

}  // namespace

Result<HeaderFormat> HeaderFormat::parse(std::string_view format) {
  HeaderFormat h;
  h.format_ = std::string(format);
  std::string pattern = "^";
  bool simple = true;  // the literal text is plain bytes, escaped punctuation and spaces
  std::size_t i = 0;
  while (i < format.size()) {
    // The next <Name> (a '<' that does not open a name, such as an escaped "\<", is text).
    std::size_t open = i, close = std::string_view::npos;
    bool field = false;
    for (open = format.find('<', i); open != std::string_view::npos && !field;) {
      close = format.find('>', open);
      field = close != std::string_view::npos && close > open + 1 &&
              (open == 0 || format[open - 1] != '\\') &&
              std::all_of(format.begin() + static_cast<std::ptrdiff_t>(open) + 1,
                          format.begin() + static_cast<std::ptrdiff_t>(close), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                          });
      if (!field) open = format.find('<', open + 1);
    }
    std::string_view literal = format.substr(i, field ? open - i : std::string_view::npos);
    for (std::size_t k = 0; k < literal.size();) {
      if (literal[k] == ' ') {
        while (k < literal.size() && literal[k] == ' ') ++k;
        pattern += "\\s+";
        h.pieces_.push_back({Piece::kSpaces});
      } else if (literal[k] == '\\' && k + 1 < literal.size()) {
        pattern += literal.substr(k, 2);
        unsigned char e = static_cast<unsigned char>(literal[k + 1]);
        if (std::isalnum(e) || e >= 0x80) simple = false;  // \s, \d, \x41...
        h.pieces_.push_back({Piece::kLiteral, literal[k + 1]});
        k += 2;
      } else if (literal[k] == '(' && (k + 1 == literal.size() || literal[k + 1] != '?')) {
        pattern += "(?:";  // the format's own groups do not capture: fields are the groups
        simple = false;
        ++k;
      } else {
        if (std::strchr(".^$|?*+()[]{}\\", literal[k]) != nullptr ||
            static_cast<unsigned char>(literal[k]) >= 0x80) {
          simple = false;
        }
        h.pieces_.push_back({Piece::kLiteral, literal[k]});
        pattern += literal[k++];
      }
    }
    if (!field) break;
    h.names_.emplace_back(format.substr(open + 1, close - open - 1));
    pattern += "(.*?)";
    h.pieces_.push_back({Piece::kField, 0, h.names_.size() - 1});
    i = close + 1;
  }
  pattern += "$";
  if (std::find(h.names_.begin(), h.names_.end(), "Content") == h.names_.end()) {
    return fail(ErrorCode::kInvalidArgument,
                "header format '" + h.format_ + "' has no <Content> field");
  }
  RE2::Options opt;
  opt.set_encoding(RE2::Options::EncodingLatin1);
  opt.set_log_errors(false);
  opt.set_dot_nl(true);
  auto re = std::make_shared<const RE2>(pattern, opt);
  if (!re->ok()) {
    return fail(ErrorCode::kInvalidArgument,
                "header format '" + h.format_ + "' does not compile: " + re->error());
  }
  if (re->NumberOfCapturingGroups() != static_cast<int>(h.names_.size())) {
    return fail(ErrorCode::kInvalidArgument,
                "header format '" + h.format_ + "': literal text must not hold named groups");
  }
  h.re_ = std::move(re);
  if (!simple) h.pieces_.clear();
  return h;
}

// Backtracking in the order of Perl's (and RE2's leftmost-first) semantics: a field tries
// its shortest extent first, a whitespace run its longest. Returns kGiveUp when the budget
// is spent, so a pathological line costs a bounded amount before RE2 takes it.
int HeaderFormat::fast_match(std::size_t piece, std::string_view line, std::size_t pos,
                             Spans& spans, int& budget) const {
  if (--budget < 0) return kGiveUp;
  if (piece == pieces_.size()) return pos == line.size() ? kMatch : kNoMatch;
  const Piece& p = pieces_[piece];
  switch (p.kind) {
    case Piece::kLiteral:
      if (pos >= line.size() || line[pos] != p.c) return kNoMatch;
      return fast_match(piece + 1, line, pos + 1, spans, budget);
    case Piece::kSpaces: {
      std::size_t end = pos;
      while (end < line.size() && re2_space(line[end])) ++end;
      for (std::size_t e = end; e > pos; --e) {
        int r = fast_match(piece + 1, line, e, spans, budget);
        if (r != kNoMatch) return r;
      }
      return kNoMatch;
    }
    case Piece::kField: {
      const std::size_t field = p.field;
      if (piece + 1 == pieces_.size()) {  // the last piece: it takes the rest
        spans[field] = {pos, line.size()};
        return kMatch;
      }
      const Piece& next = pieces_[piece + 1];
      for (std::size_t e = pos; e <= line.size(); ++e) {
        if (--budget < 0) return kGiveUp;
        // Only ends the next piece can start at are worth trying.
        if (next.kind == Piece::kLiteral && (e >= line.size() || line[e] != next.c)) continue;
        if (next.kind == Piece::kSpaces && (e >= line.size() || !re2_space(line[e]))) continue;
        spans[field] = {pos, e};
        int r = fast_match(piece + 1, line, e, spans, budget);
        if (r != kNoMatch) return r;
      }
      return kNoMatch;
    }
  }
  return kNoMatch;
}

std::optional<HeaderFields> HeaderFormat::fields(std::string_view line, const Spans& spans) const {
  HeaderFields out;
  out.fields.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    std::string value(line.substr(spans[i].first, spans[i].second - spans[i].first));
    if (names_[i] == "Content") {
      out.content = std::move(value);
    } else {
      out.fields.emplace_back(names_[i], std::move(value));
    }
  }
  return out;
}

std::optional<HeaderFields> HeaderFormat::split(std::string_view line) const {
  if (!pieces_.empty()) {
    thread_local Spans spans;
    spans.assign(names_.size(), {0, 0});
    int budget = budget_for(line.size());
    int r = fast_match(0, line, 0, spans, budget);
    if (r == kMatch) return fields(line, spans);
    if (r == kNoMatch) return std::nullopt;
  }
  return split_reference(line);
}

std::optional<HeaderFields> HeaderFormat::split_reference(std::string_view line) const {
  std::size_t n = names_.size();
  std::vector<re2::StringPiece> groups(n + 1);
  if (!re_->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::ANCHOR_BOTH,
                  groups.data(), static_cast<int>(n + 1))) {
    return std::nullopt;
  }
  HeaderFields out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string value(groups[i + 1].data() ? std::string(groups[i + 1]) : std::string());
    if (names_[i] == "Content") {
      out.content = std::move(value);
    } else {
      out.fields.emplace_back(names_[i], std::move(value));
    }
  }
  return out;
}

}  // namespace aion::logs
