#include "aion/core/config.h"
#include "aion/core/data_file.h"
#include "aion/core/strings.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace aion {
namespace {

std::string type_name(ConfigType t) {
  switch (t) {
    case ConfigType::kString: return "a string";
    case ConfigType::kInt: return "an integer";
    case ConfigType::kBool: return "a boolean (true or false)";
    case ConfigType::kDouble: return "a number";
    case ConfigType::kStringArray: return "an array of strings";
    case ConfigType::kTableArray: return "an array of tables ([[...]])";
  }
  return "a value";
}

std::string node_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "floating-point number";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::array: return "array";
    case toml::node_type::table: return "table";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

std::string quote_toml(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

// Walks a parsed TOML document against a schema, filling a Config or failing on the first
// problem, reported as "source:line:col: key: problem".
class ConfigParser {
 public:
  ConfigParser(const ConfigSchema& schema, std::string source)
      : schema_(schema), source_(std::move(source)) {}

  Result<Config> run(const toml::table& root) {
    Config cfg = Config::defaults(schema_);
    cfg.source_ = source_;
    if (auto st = walk(root, "", cfg); !st) return std::unexpected(st.error());
    return cfg;
  }

 private:
  std::string where(const toml::node& n) const {
    const auto& b = n.source().begin;
    return source_ + ":" + std::to_string(b.line) + ":" + std::to_string(b.column);
  }

  std::unexpected<Error> bad(const toml::node& n, std::string_view key, std::string msg) const {
    return fail(ErrorCode::kConfig, where(n) + ": " + std::string(key) + ": " + msg);
  }

  bool has_prefix(std::string_view prefix) const {
    for (const auto& f : schema_.fields()) {
      if (f.key.size() > prefix.size() && f.key.compare(0, prefix.size(), prefix) == 0 &&
          f.key[prefix.size()] == '.') {
        return true;
      }
    }
    return false;
  }

  std::string suggestion(std::string_view key) const {
    std::string best;
    std::size_t best_d = 4;
    for (const auto& f : schema_.fields()) {
      std::size_t d = edit_distance(key, f.key);
      if (d < best_d) {
        best_d = d;
        best = f.key;
      }
    }
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
  }

  Status walk(const toml::table& table, const std::string& prefix, Config& cfg) {
    for (auto&& [k, node] : table) {
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (const ConfigField* f = schema_.find(key)) {
        if (auto st = assign(*f, node, cfg); !st) return st;
      } else if (node.is_table() && has_prefix(key)) {
        if (auto st = walk(*node.as_table(), key, cfg); !st) return st;
      } else {
        std::string what =
            node.is_table() ? "unknown section [" + key + "]" : "unknown key '" + key + "'";
        return fail(ErrorCode::kConfig, where(node) + ": " + what + suggestion(key));
      }
    }
    return {};
  }

  Status assign(const ConfigField& f, const toml::node& node, Config& cfg) {
    Config::Entry& e = cfg.values_.find(f.key)->second;
    e.set = true;
    auto wrong = [&] {
      return bad(node, f.key, "expected " + type_name(f.type) + ", found " + node_type_name(node));
    };
    switch (f.type) {
      case ConfigType::kString: {
        if (!node.is_string()) return wrong();
        std::string v = node.as_string()->get();
        if (!f.allowed.empty() &&
            std::find(f.allowed.begin(), f.allowed.end(), v) == f.allowed.end()) {
          return bad(node, f.key,
                     "expected one of " + join(f.allowed, ", ") + ", found '" + v + "'");
        }
        if (f.must_be_absolute_path && (v.empty() || v.front() != '/')) {
          return bad(node, f.key, "expected an absolute path, found '" + v + "'");
        }
        e.value = std::move(v);
        return {};
      }
      case ConfigType::kInt: {
        if (!node.is_integer()) return wrong();
        std::int64_t v = node.as_integer()->get();
        if ((f.min && v < *f.min) || (f.max && v > *f.max)) {
          std::string range = "between " + (f.min ? std::to_string(*f.min) : "-inf") + " and " +
                              (f.max ? std::to_string(*f.max) : "inf");
          return bad(node, f.key, "expected an integer " + range + ", found " + std::to_string(v));
        }
        e.value = v;
        return {};
      }
      case ConfigType::kBool:
        if (!node.is_boolean()) return wrong();
        e.value = node.as_boolean()->get();
        return {};
      case ConfigType::kDouble:
        if (node.is_integer()) {
          e.value = static_cast<double>(node.as_integer()->get());
        } else if (node.is_floating_point()) {
          e.value = node.as_floating_point()->get();
        } else {
          return wrong();
        }
        return {};
      case ConfigType::kStringArray: {
        if (!node.is_array()) return wrong();
        std::vector<std::string> out;
        for (const auto& item : *node.as_array()) {
          if (!item.is_string()) {
            return bad(
                item, f.key,
                "expected an array of strings, found an element of type " + node_type_name(item));
          }
          out.push_back(item.as_string()->get());
        }
        e.value = std::move(out);
        return {};
      }
      case ConfigType::kTableArray: {
        if (!node.is_array_of_tables()) return wrong();
        const ConfigSchema* element = schema_.element_schema(f.key);
        std::vector<Config> out;
        for (const auto& item : *node.as_array()) {
          ConfigParser sub(*element, source_);
          auto c = sub.walk_element(*item.as_table(), f.key);
          if (!c) return std::unexpected(c.error());
          out.push_back(std::move(*c));
        }
        e.value = std::move(out);
        return {};
      }
    }
    return {};
  }

  // Elements of a table array report their keys as "simulate.gpu.memory".
  Result<Config> walk_element(const toml::table& t, const std::string& parent) {
    Config cfg = Config::defaults(schema_);
    cfg.source_ = source_;
    for (auto&& [k, node] : t) {
      std::string key(k.str());
      const ConfigField* f = schema_.find(key);
      if (!f) {
        return fail(ErrorCode::kConfig,
                    where(node) + ": unknown key '" + parent + "." + key + "'" + suggestion(key));
      }
      ConfigField named = *f;
      if (auto st = assign(named, node, cfg); !st) {
        Error e = st.error();
        return fail(ErrorCode::kConfig, [&] {
          std::string m = e.message();
          auto pos = m.find(": " + key + ":");
          if (pos != std::string::npos) m.replace(pos + 2, key.size(), parent + "." + key);
          return m;
        }());
      }
    }
    return cfg;
  }

  const ConfigSchema& schema_;
  std::string source_;
};

ConfigSchema& ConfigSchema::add(ConfigField field) {
  auto it = std::find_if(fields_.begin(), fields_.end(),
                         [&](const ConfigField& f) { return f.key == field.key; });
  if (it != fields_.end()) {
    *it = std::move(field);
  } else {
    fields_.push_back(std::move(field));
  }
  return *this;
}

namespace {
ConfigField make_field(std::string key, ConfigType type, std::string description) {
  ConfigField f;
  f.key = std::move(key);
  f.type = type;
  f.description = std::move(description);
  return f;
}
}  // namespace

ConfigSchema& ConfigSchema::string(std::string key, std::string def, std::string description,
                                   std::vector<std::string> allowed) {
  ConfigField f = make_field(std::move(key), ConfigType::kString, std::move(description));
  f.default_value = std::move(def);
  f.allowed = std::move(allowed);
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::path(std::string key, std::string def, std::string description) {
  ConfigField f = make_field(std::move(key), ConfigType::kString, std::move(description));
  f.default_value = std::move(def);
  f.must_be_absolute_path = true;
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::integer(std::string key, std::int64_t def, std::string description,
                                    std::optional<std::int64_t> min,
                                    std::optional<std::int64_t> max) {
  ConfigField f = make_field(std::move(key), ConfigType::kInt, std::move(description));
  f.default_value = def;
  f.min = min;
  f.max = max;
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::boolean(std::string key, bool def, std::string description) {
  ConfigField f = make_field(std::move(key), ConfigType::kBool, std::move(description));
  f.default_value = def;
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::number(std::string key, double def, std::string description) {
  ConfigField f = make_field(std::move(key), ConfigType::kDouble, std::move(description));
  f.default_value = def;
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::strings(std::string key, std::vector<std::string> def,
                                    std::string description) {
  ConfigField f = make_field(std::move(key), ConfigType::kStringArray, std::move(description));
  f.default_value = std::move(def);
  return add(std::move(f));
}

ConfigSchema& ConfigSchema::table_array(std::string key, ConfigSchema element,
                                        std::string description) {
  elements_[key] = std::make_shared<ConfigSchema>(std::move(element));
  return add(make_field(std::move(key), ConfigType::kTableArray, std::move(description)));
}

ConfigSchema& ConfigSchema::merge(const ConfigSchema& other) {
  for (const auto& f : other.fields_) add(f);
  for (const auto& [k, v] : other.elements_) elements_[k] = v;
  return *this;
}

const ConfigField* ConfigSchema::find(std::string_view key) const {
  for (const auto& f : fields_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

const ConfigSchema* ConfigSchema::element_schema(std::string_view key) const {
  auto it = elements_.find(key);
  return it == elements_.end() ? nullptr : it->second.get();
}

std::string ConfigSchema::render_defaults() const {
  // Group keys by their section (everything before the last dot), in schema order.
  std::vector<std::string> sections;
  for (const auto& f : fields_) {
    auto dot = f.key.rfind('.');
    std::string section = dot == std::string::npos ? "" : f.key.substr(0, dot);
    if (f.type == ConfigType::kTableArray) section = f.key;
    if (std::find(sections.begin(), sections.end(), section) == sections.end())
      sections.push_back(section);
  }
  std::ostringstream out;
  out << "# aion configuration. Every key is shown at its default, commented out.\n";
  for (const auto& section : sections) {
    const ConfigField* array = find(section);
    if (array && array->type == ConfigType::kTableArray) {
      out << "\n# " << array->description << "\n# [[" << section << "]]\n";
      for (const auto& ef : elements_.at(section)->fields_) {
        out << "# " << ef.key << " = ...   # " << ef.description << "\n";
      }
      continue;
    }
    out << "\n";
    if (!section.empty()) out << "[" << section << "]\n";
    for (const auto& f : fields_) {
      auto dot = f.key.rfind('.');
      std::string fs = dot == std::string::npos ? "" : f.key.substr(0, dot);
      if (fs != section || f.type == ConfigType::kTableArray) continue;
      std::string name = dot == std::string::npos ? f.key : f.key.substr(dot + 1);
      out << "# " << f.description;
      if (!f.allowed.empty()) out << " (" << join(f.allowed, ", ") << ")";
      out << "\n#" << name << " = ";
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
              out << quote_toml(v);
            } else if constexpr (std::is_same_v<T, bool>) {
              out << (v ? "true" : "false");
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              out << "[";
              for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << quote_toml(v[i]);
              out << "]";
            } else if constexpr (std::is_same_v<T, std::monostate>) {
              out << "[]";
            } else {
              out << v;
            }
          },
          f.default_value);
      out << "\n";
    }
  }
  return out.str();
}

Config Config::defaults(const ConfigSchema& schema) {
  Config cfg;
  cfg.source_ = "<defaults>";
  for (const auto& f : schema.fields()) {
    Entry e;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            e.value = std::vector<Config>{};
          } else {
            e.value = v;
          }
        },
        f.default_value);
    cfg.values_[f.key] = std::move(e);
  }
  return cfg;
}

Result<Config> Config::parse(std::string_view text, std::string source,
                             const ConfigSchema& schema) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return std::unexpected(toml_syntax_error(e, source, ErrorCode::kConfig));
  }
  return ConfigParser(schema, std::move(source)).run(root);
}

Result<Config> Config::load(const std::filesystem::path& file, const ConfigSchema& schema) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    Error e = errno_error(errno, "cannot read config file " + file.string());
    return fail(ErrorCode::kConfig, e.message());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string(), schema);
}

const Config::Entry& Config::entry(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::fprintf(stderr, "aion: internal error: config key '%.*s' is not in the schema\n",
                 static_cast<int>(key.size()), key.data());
    std::abort();
  }
  return it->second;
}

namespace {
template <class T, class V>
const T& get_as(const V& v, std::string_view key) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  std::fprintf(stderr, "aion: internal error: config key '%.*s' read with the wrong type\n",
               static_cast<int>(key.size()), key.data());
  std::abort();
}
}  // namespace

const std::string& Config::get_string(std::string_view key) const {
  return get_as<std::string>(entry(key).value, key);
}
std::int64_t Config::get_int(std::string_view key) const {
  return get_as<std::int64_t>(entry(key).value, key);
}
bool Config::get_bool(std::string_view key) const {
  return get_as<bool>(entry(key).value, key);
}
double Config::get_double(std::string_view key) const {
  return get_as<double>(entry(key).value, key);
}
const std::vector<std::string>& Config::get_strings(std::string_view key) const {
  return get_as<std::vector<std::string>>(entry(key).value, key);
}
const std::vector<Config>& Config::get_tables(std::string_view key) const {
  return get_as<std::vector<Config>>(entry(key).value, key);
}
bool Config::is_set(std::string_view key) const {
  return entry(key).set;
}

void Config::set_string(std::string_view key, std::string value) {
  entry(key);  // aborts on an unknown key
  auto it = values_.find(key);
  get_as<std::string>(it->second.value, key);
  it->second.value = std::move(value);
  it->second.set = true;
}

}  // namespace aion
