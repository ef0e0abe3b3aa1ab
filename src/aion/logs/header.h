// HeaderFormat: splits a log line into its header fields and its free-text Content, from a
// format in Loghub's notation: "<Date> <Time> <Level> \[<Component>\]: <Content>".
//
// <Name> is a field (matched lazily); the text between fields is a regular expression in RE2
// syntax in which every run of spaces matches any run of whitespace (as in the Loghub
// benchmark's tooling). The format must contain <Content>. Immutable; thread-safe.
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

class HeaderFormat {
 public:
  // kInvalidArgument when the format has no <Content> field or does not compile.
  static Result<HeaderFormat> parse(std::string_view format);

  // nullopt when the line does not have this header.
  std::optional<HeaderFields> split(std::string_view line) const;
  const std::string& format() const { return format_; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::string format_;
  std::vector<std::string> names_;
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace aion::logs
