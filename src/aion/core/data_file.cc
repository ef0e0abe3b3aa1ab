#include "aion/core/data_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "aion/core/strings.h"

namespace aion {

Error toml_syntax_error(const toml::parse_error& e, std::string_view source, ErrorCode code) {
  const auto& b = e.source().begin;
  return Error(code, std::string(source) + ":" + std::to_string(b.line) + ":" +
                         std::to_string(b.column) +
                         ": TOML syntax error: " + std::string(e.description()));
}

Result<DataFile> DataFile::parse(std::string_view text, std::string source) {
  try {
    toml::table root = toml::parse(text, source);
    return DataFile(std::move(root), std::move(source));
  } catch (const toml::parse_error& e) {
    return std::unexpected(toml_syntax_error(e, source, ErrorCode::kCorrupt));
  }
}

Result<DataFile> DataFile::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(errno_error(errno, "reading " + path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::unexpected(errno_error(errno, "reading " + path.string()));
  return parse(text.str(), path.string());
}

Error DataFile::error_at(const toml::node& at, std::string_view what) const {
  return Error(ErrorCode::kCorrupt,
               source_ + ":" + std::to_string(at.source().begin.line) + ": " + std::string(what));
}

Status DataFile::expect_schema_version(std::int64_t supported) const {
  const toml::node* v = root_.get("schema_version");
  if (!v) return bad(root_, "schema_version is missing");
  auto n = v->value_exact<std::int64_t>();
  if (!n) return bad(*v, "schema_version must be an integer");
  if (*n != supported) {
    return bad(*v, "schema_version " + std::to_string(*n) + " is not supported (this aion reads " +
                       std::to_string(supported) + "); update aion or the file");
  }
  return {};
}

Status DataFile::expect_keys(const toml::table& t, std::initializer_list<std::string_view> known,
                             std::string_view what) const {
  for (const auto& [k, node] : t) {
    const std::string_view key = k.str();
    bool ok = false;
    for (auto want : known) ok = ok || want == key;
    if (ok) continue;
    std::vector<std::string> names(known.begin(), known.end());
    const std::string hint = nearest(key, names, 3);
    return bad(node, "unknown key '" + std::string(key) + "' in " + std::string(what) +
                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                         "; known keys: " + join(names, ", "));
  }
  return {};
}

Result<std::vector<const toml::table*>> DataFile::rows(const toml::table& t,
                                                       std::string_view key) const {
  std::vector<const toml::table*> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const toml::array* arr = n->as_array();
  if (!arr)
    return bad(
        *n, "'" + std::string(key) + "' must be an array of tables ([[" + std::string(key) + "]])");
  for (const auto& row : *arr) {
    const toml::table* tt = row.as_table();
    if (!tt) return bad(row, "'" + std::string(key) + "' must hold tables only");
    out.push_back(tt);
  }
  return out;
}

Result<std::string> DataFile::string(const toml::table& t, std::string_view key) const {
  auto v = t[key].value_exact<std::string>();
  if (!v || v->empty()) {
    const toml::node* n = t.get(key);
    return bad(n ? *n : static_cast<const toml::node&>(t),
               "'" + std::string(key) + "' is missing or not a non-empty string");
  }
  return *v;
}

Result<std::string> DataFile::optional_string(const toml::table& t, std::string_view key,
                                              std::string fallback) const {
  const toml::node* n = t.get(key);
  if (!n) return fallback;
  auto v = n->value_exact<std::string>();
  if (!v) return bad(*n, "'" + std::string(key) + "' must be a string");
  return *v;
}

Result<std::vector<std::string>> DataFile::strings(const toml::table& t, std::string_view key,
                                                   bool required) const {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) return bad(t, "'" + std::string(key) + "' is missing (an array of strings)");
    return out;
  }
  const toml::array* arr = n->as_array();
  if (!arr) return bad(*n, "'" + std::string(key) + "' must be an array of strings");
  for (const auto& e : *arr) {
    auto s = e.value_exact<std::string>();
    if (!s) return bad(e, "'" + std::string(key) + "' must hold strings only");
    out.push_back(*s);
  }
  return out;
}

Result<std::int64_t> DataFile::integer(const toml::table& t, std::string_view key) const {
  const toml::node* n = t.get(key);
  if (!n) return bad(t, "'" + std::string(key) + "' is missing (an integer)");
  auto v = n->value_exact<std::int64_t>();
  if (!v) return bad(*n, "'" + std::string(key) + "' must be an integer");
  return *v;
}

}  // namespace aion
