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

// The next <Name> at or after i: [open, close] are its brackets; false when there is none (a
// '<' that does not open a name, such as an escaped "\<", is text).
bool next_field(std::string_view format, std::size_t i, std::size_t& open, std::size_t& close) {
  for (open = format.find('<', i); open != std::string_view::npos;
       open = format.find('<', open + 1)) {
    close = format.find('>', open);
    if (close != std::string_view::npos && close > open + 1 &&
        (open == 0 || format[open - 1] != '\\') &&
        std::all_of(format.begin() + static_cast<std::ptrdiff_t>(open) + 1,
                    format.begin() + static_cast<std::ptrdiff_t>(close), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                    })) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool HeaderFormat::add_literal(std::string_view literal, std::string& pattern,
                               std::vector<std::size_t>& open_groups) {
  bool simple = true;
  auto at = [&literal](std::size_t k) { return k < literal.size() ? literal[k] : '\0'; };
  // A literal byte; with a '?' after it, an optional part of its own.
  auto literal_piece = [this](char c, bool optional) {
    if (optional) {
      const std::size_t begin = pieces_.size();
      pieces_.push_back({Piece::kOptBegin, 0, names_.size(), names_.size(), begin + 2});
    }
    pieces_.push_back({Piece::kLiteral, c});
    if (optional) pieces_.push_back({Piece::kOptEnd});
  };
  for (std::size_t k = 0; k < literal.size();) {
    if (literal[k] == ' ') {
      while (k < literal.size() && literal[k] == ' ') ++k;
      pattern += "\\s+";
      pieces_.push_back({Piece::kSpaces});
    } else if (literal[k] == '\\' && k + 1 < literal.size()) {
      unsigned char e = static_cast<unsigned char>(literal[k + 1]);
      if (std::isalnum(e) || e >= 0x80) simple = false;  // \s, \d, \x41...
      const bool optional = at(k + 2) == '?';
      if (optional && at(k + 3) == '?') simple = false;  // lazy: not for the fast matcher
      pattern += literal.substr(k, optional ? 3 : 2);
      literal_piece(literal[k + 1], optional);
      k += optional ? 3 : 2;
    } else if (literal[k] == '(' && at(k + 1) != '?') {
      pattern += "(?:";  // the format's own groups do not capture: fields are the groups
      open_groups.push_back(pieces_.size());
      pieces_.push_back({Piece::kOptBegin, 0, names_.size()});
      ++k;
    } else if (literal[k] == ')' && !open_groups.empty() && at(k + 1) == '?' && at(k + 2) != '?') {
      pattern += ")?";
      Piece& begin = pieces_[open_groups.back()];
      open_groups.pop_back();
      begin.fields_end = names_.size();
      begin.end = pieces_.size();
      pieces_.push_back({Piece::kOptEnd});
      k += 2;
    } else {
      if (std::strchr(".^$|?*+()[]{}\\", literal[k]) != nullptr ||
          static_cast<unsigned char>(literal[k]) >= 0x80) {
        simple = false;
      }
      literal_piece(literal[k], false);
      pattern += literal[k++];
    }
  }
  return simple;
}

Result<HeaderFormat> HeaderFormat::parse(std::string_view format) {
  HeaderFormat h;
  h.format_ = std::string(format);
  std::string pattern = "^";
  bool simple = true;  // the literal text is plain bytes, escaped punctuation and spaces
  std::vector<std::size_t> open_groups;  // the kOptBegin pieces of "(" not yet closed
  for (std::size_t i = 0; i <= format.size();) {
    std::size_t open = 0, close = 0;
    const bool field = next_field(format, i, open, close);
    simple = h.add_literal(format.substr(i, field ? open - i : std::string_view::npos), pattern,
                           open_groups) &&
             simple;
    if (!field) break;
    h.names_.emplace_back(format.substr(open + 1, close - open - 1));
    pattern += "(.*?)";
    h.pieces_.push_back({Piece::kField, 0, h.names_.size() - 1});
    i = close + 1;
  }
  if (!open_groups.empty()) simple = false;  // a group that is not "(...)?"
  pattern += "$";
  h.content_ = static_cast<std::size_t>(std::find(h.names_.begin(), h.names_.end(), "Content") -
                                        h.names_.begin());
  if (h.content_ == h.names_.size()) {
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
    case Piece::kOptBegin: {
      const int r = fast_match(piece + 1, line, pos, spans, budget);
      if (r != kNoMatch) return r;
      for (std::size_t f = p.field; f < p.fields_end; ++f) spans[f] = {0, 0};  // left out: ""
      return fast_match(p.end + 1, line, pos, spans, budget);
    }
    case Piece::kOptEnd: return fast_match(piece + 1, line, pos, spans, budget);
    case Piece::kField: {
      const std::size_t field = p.field;
      if (piece + 1 == pieces_.size()) {  // the last piece: it takes the rest
        spans[field] = {pos, line.size()};
        return kMatch;
      }
      const Piece& next = pieces_[piece + 1];
      for (std::size_t e = pos; e <= line.size(); ++e) {
        // Only ends the next piece can start at are worth trying: skip to the next one (a
        // sixteenth of a step per byte skipped, so the budget still bounds the bytes read).
        const std::size_t from = e;
        if (next.kind == Piece::kLiteral) {
          const void* hit = std::memchr(line.data() + e, next.c, line.size() - e);
          e = hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - line.data())
                  : line.size();
        } else if (next.kind == Piece::kSpaces) {
          while (e < line.size() && !re2_space(line[e])) ++e;
        }
        budget -= 1 + static_cast<int>((e - from) >> 4);
        if (budget < 0) return kGiveUp;
        if (e == line.size() && (next.kind == Piece::kLiteral || next.kind == Piece::kSpaces)) {
          return kNoMatch;
        }
        spans[field] = {pos, e};
        int r = fast_match(piece + 1, line, e, spans, budget);
        if (r != kNoMatch) return r;
      }
      return kNoMatch;
    }
  }
  return kNoMatch;
}

bool HeaderFormat::split(std::string_view line, HeaderView& out) const {
  const std::size_t n = names_.size();
  if (!pieces_.empty()) {
    thread_local Spans spans;
    spans.assign(n, {0, 0});
    int budget = budget_for(line.size());
    const int r = fast_match(0, line, 0, spans, budget);
    if (r == kNoMatch) return false;
    if (r == kMatch) {
      out.values.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        out.values[i] = line.substr(spans[i].first, spans[i].second - spans[i].first);
      }
      out.content = out.values[content_];
      return true;
    }
  }
  return match_re2(line, out);
}

bool HeaderFormat::match_re2(std::string_view line, HeaderView& out) const {
  const std::size_t n = names_.size();
  out.values.assign(n, std::string_view());
  out.content = {};
  thread_local std::vector<re2::StringPiece> groups;
  groups.assign(n + 1, re2::StringPiece());
  if (!re_->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::ANCHOR_BOTH,
                  groups.data(), static_cast<int>(n + 1))) {
    return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const re2::StringPiece& g = groups[i + 1];
    if (g.data() != nullptr) out.values[i] = std::string_view(g.data(), g.size());
  }
  out.content = out.values[content_];
  return true;
}

HeaderFields HeaderFormat::fields_of(const HeaderView& view) const {
  HeaderFields out;
  out.fields.reserve(names_.size() - 1);
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (i == content_) continue;
    out.fields.emplace_back(names_[i], view.values[i]);
  }
  out.content = view.content;
  return out;
}

std::optional<HeaderFields> HeaderFormat::split(std::string_view line) const {
  thread_local HeaderView view;
  if (!split(line, view)) return std::nullopt;
  return fields_of(view);
}

std::optional<HeaderFields> HeaderFormat::split_reference(std::string_view line) const {
  thread_local HeaderView view;
  if (!match_re2(line, view)) return std::nullopt;
  return fields_of(view);
}

}  // namespace aion::logs
