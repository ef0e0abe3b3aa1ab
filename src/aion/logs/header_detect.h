// HeaderDetector: finds which of a set of known header layouts a log file's lines have, so
// that `aion logs parse FILE` mines only the message part without being told the format.
//
// The layouts come from a data file (data/logs/headers.toml): a name, a header format in
// Loghub's notation (see header.h) and where the layout comes from. Fields with a known name
// are checked by type (Month, Day, Time, Date, Timestamp, Level, Pid and other numbers, Host,
// Program and other single words), so a loose layout ("<Date> <Time> <Content>") claims only
// lines whose fields look right. detect() tries every layout on a sample of lines: the one
// that splits the most wins, ties going to the layout with more checked fields and then to
// the earlier one in the file. Immutable after loading; thread-safe (share freely).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/logs/header.h"

namespace aion {
class DataFile;
}

namespace aion::logs {

struct HeaderLayout {
  std::string name;    // "syslog-rfc3164"
  std::string format;  // Loghub notation
  std::string about;   // what writes it, and the document that defines it
};

struct Detection {
  HeaderLayout layout;
  std::size_t matched = 0;  // sample lines the layout split with valid fields
  std::size_t sampled = 0;  // non-blank sample lines
};

class HeaderDetector {
 public:
  // kCorrupt naming the file and line for a malformed file or a format that does not parse.
  static Result<HeaderDetector> parse(std::string_view toml_text, std::string source);
  static Result<HeaderDetector> load(const std::filesystem::path& file);
  static Result<HeaderDetector> from(const DataFile& file);

  // The best layout for `lines` (the first lines of a file), or nullopt when none splits at
  // least `min_share` of the non-blank ones.
  std::optional<Detection> detect(const std::vector<std::string>& lines,
                                  double min_share = 0.5) const;

  // Splits `line` with layout `index` (as detect() chose it), checking field types; nullopt
  // when the line does not have that header.
  std::optional<HeaderFields> split(std::size_t index, std::string_view line) const;
  std::size_t index_of(std::string_view name) const;  // npos when unknown
  const std::vector<HeaderLayout>& layouts() const { return layouts_; }

  // The field of `fields` that names where a line comes from (Program, Component, Unit,
  // App), or "" when there is none.
  static std::string source_of(const HeaderFields& fields);

 private:
  std::vector<HeaderLayout> layouts_;
  std::vector<HeaderFormat> formats_;
  std::vector<std::size_t> checked_;                // per layout: how many of its fields are typed
  std::vector<std::vector<std::string>> optional_;  // per layout: fields that may be empty
};

// Whether `value` is a valid value for a header field called `name` (true for names without
// a type).
bool valid_header_field(std::string_view name, std::string_view value);

}  // namespace aion::logs
