// Config: TOML configuration validated against a schema.
//
// Modules describe their keys in a ConfigSchema (type, default, allowed values, range, a
// one-line description). Config::parse checks a file against it and rejects, with
// "file:line:col: key: what was expected, what was found", any syntax error, unknown key
// (with a "did you mean" hint), wrong type, value outside the allowed set or range. A valid
// Config has a value for every key of the schema (the file's, or the default), so readers
// never handle "missing". Values are read by dotted key; asking for a key that is not in the
// schema, or with the wrong type, is a programming error and aborts.
// Thread-safety: ConfigSchema and Config are values. Their const members only read, so a
// built Config may be shared between threads; set_string() is for the owner before sharing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aion/core/error.h"

namespace aion {

class Config;

enum class ConfigType { kString, kInt, kBool, kDouble, kStringArray, kTableArray };

struct ConfigField {
  std::string key;  // dotted path: "api.tcp.listen"
  ConfigType type = ConfigType::kString;
  std::string description;
  std::variant<std::monostate, std::string, std::int64_t, bool, double, std::vector<std::string>>
      default_value;
  std::vector<std::string> allowed;      // for strings: the only accepted values
  std::optional<std::int64_t> min, max;  // for ints
  bool must_be_absolute_path = false;    // for strings
};

class ConfigSchema {
 public:
  ConfigSchema& string(std::string key, std::string def, std::string description,
                       std::vector<std::string> allowed = {});
  ConfigSchema& path(std::string key, std::string def, std::string description);
  ConfigSchema& integer(std::string key, std::int64_t def, std::string description,
                        std::optional<std::int64_t> min = std::nullopt,
                        std::optional<std::int64_t> max = std::nullopt);
  ConfigSchema& boolean(std::string key, bool def, std::string description);
  ConfigSchema& number(std::string key, double def, std::string description);
  ConfigSchema& strings(std::string key, std::vector<std::string> def, std::string description);
  // An array of tables ([[simulate.gpu]]), each element checked against `element`.
  ConfigSchema& table_array(std::string key, ConfigSchema element, std::string description);
  // Adds every field of another schema (modules contribute their sections).
  ConfigSchema& merge(const ConfigSchema& other);

  const ConfigField* find(std::string_view key) const;
  const ConfigSchema* element_schema(std::string_view key) const;
  const std::vector<ConfigField>& fields() const { return fields_; }

  // A commented TOML file with every key at its default: `aiond --print-default-config`.
  std::string render_defaults() const;

 private:
  ConfigSchema& add(ConfigField field);
  std::vector<ConfigField> fields_;
  std::map<std::string, std::shared_ptr<ConfigSchema>, std::less<>> elements_;
};

class Config {
 public:
  // Every key at its default.
  static Config defaults(const ConfigSchema& schema);
  // Parses TOML text; `source` names it in errors (usually the file path).
  static Result<Config> parse(std::string_view text, std::string source,
                              const ConfigSchema& schema);
  // Reads and parses a file; a missing or unreadable file is a kConfig error naming it.
  static Result<Config> load(const std::filesystem::path& file, const ConfigSchema& schema);

  const std::string& source() const { return source_; }

  const std::string& get_string(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  double get_double(std::string_view key) const;
  const std::vector<std::string>& get_strings(std::string_view key) const;
  const std::vector<Config>& get_tables(std::string_view key) const;
  // True when the key was written in the file rather than defaulted.
  bool is_set(std::string_view key) const;

  // Replaces a value after loading (command-line flags override the file). The key must be
  // in the schema and the value of its type.
  void set_string(std::string_view key, std::string value);

 private:
  using Value = std::variant<std::string, std::int64_t, bool, double, std::vector<std::string>,
                             std::vector<Config>>;
  struct Entry {
    Value value;
    bool set = false;
  };
  const Entry& entry(std::string_view key) const;

  std::string source_;
  std::map<std::string, Entry, std::less<>> values_;
  friend class ConfigParser;
};

}  // namespace aion
