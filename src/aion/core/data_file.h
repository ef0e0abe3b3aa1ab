// DataFile: one parsed TOML data file (signature catalogs, playbooks, environment tables,
// tuning profiles), and the one way their problems are reported: "file:line: what", code
// kCorrupt (a broken data file is neither a usage error nor something a retry fixes; the
// message says which file, line and field to correct). A syntax error reads
// "file:line:col: TOML syntax error: ...". Include only from the .cc files that load data:
// it brings in toml++. A DataFile is a value whose const members only read: thread-safe to
// read from several threads, though each loader uses its own from one thread.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion {

// The error for a TOML syntax error in `source`: "source:line:col: TOML syntax error: why".
Error toml_syntax_error(const toml::parse_error& e, std::string_view source, ErrorCode code);

class DataFile {
 public:
  // Parses `text`, named `source` in messages.
  static Result<DataFile> parse(std::string_view text, std::string source);
  // Reads and parses `path`; an unreadable file is an errno error naming it.
  static Result<DataFile> read(const std::filesystem::path& path);

  const toml::table& root() const { return root_; }
  const std::string& source() const { return source_; }

  // "source:line: what" (kCorrupt), the line being where `at` begins.
  Error error_at(const toml::node& at, std::string_view what) const;
  std::unexpected<Error> bad(const toml::node& at, std::string_view what) const {
    return std::unexpected(error_at(at, what));
  }

  // The top-level schema_version, which must be present and equal `supported`.
  Status expect_schema_version(std::int64_t supported) const;

  // Fails on the first key of `t` not in `known`, naming it, the nearest known key and `what`
  // the table is ("signature 'xid-79'").
  Status expect_keys(const toml::table& t, std::initializer_list<std::string_view> known,
                     std::string_view what) const;

  // The rows of an array of tables at `key` of `t`; absent gives none, anything but tables
  // is an error.
  Result<std::vector<const toml::table*>> rows(const toml::table& t, std::string_view key) const;

  // Field readers: `required` string fields must be present and non-empty; optional ones give
  // "" (or the fallback) when absent, and an error when present with another type.
  Result<std::string> string(const toml::table& t, std::string_view key) const;
  Result<std::string> optional_string(const toml::table& t, std::string_view key,
                                      std::string fallback = {}) const;
  Result<std::vector<std::string>> strings(const toml::table& t, std::string_view key,
                                           bool required) const;
  Result<std::int64_t> integer(const toml::table& t, std::string_view key) const;

 private:
  DataFile(toml::table root, std::string source)
      : root_(std::move(root)), source_(std::move(source)) {}

  toml::table root_;
  std::string source_;
};

}  // namespace aion
