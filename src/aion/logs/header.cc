#include "aion/logs/header.h"

#include <re2/re2.h>

#include <algorithm>

namespace aion::logs {

Result<HeaderFormat> HeaderFormat::parse(std::string_view format) {
  HeaderFormat h;
  h.format_ = std::string(format);
  std::string pattern = "^";
  std::size_t i = 0;
  while (i < format.size()) {
    std::size_t open = format.find('<', i);
    std::size_t close = open == std::string_view::npos ? open : format.find('>', open);
    bool field = close != std::string_view::npos && close > open + 1 &&
                 std::all_of(format.begin() + static_cast<std::ptrdiff_t>(open) + 1,
                             format.begin() + static_cast<std::ptrdiff_t>(close), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                             });
    std::string_view literal = format.substr(i, field ? open - i : std::string_view::npos);
    for (std::size_t k = 0; k < literal.size();) {
      if (literal[k] == ' ') {
        while (k < literal.size() && literal[k] == ' ') ++k;
        pattern += "\\s+";
      } else if (literal[k] == '\\' && k + 1 < literal.size()) {
        pattern += literal.substr(k, 2);
        k += 2;
      } else if (literal[k] == '(' && (k + 1 == literal.size() || literal[k + 1] != '?')) {
        pattern += "(?:";  // the format's own groups do not capture: fields are the groups
        ++k;
      } else {
        pattern += literal[k++];
      }
    }
    if (!field) break;
    h.names_.emplace_back(format.substr(open + 1, close - open - 1));
    pattern += "(.*?)";
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
  return h;
}

std::optional<HeaderFields> HeaderFormat::split(std::string_view line) const {
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
