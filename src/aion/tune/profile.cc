#include "aion/tune/profile.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include "aion/core/data_file.h"

#include "aion/core/paths.h"
#include "aion/tune/plan.h"

namespace aion::tune {
namespace fs = std::filesystem;

namespace {

std::string where(const std::string& file, const toml::node& n) {
  return file + ":" + std::to_string(n.source().begin.line);
}

std::unexpected<Error> bad(const std::string& at, std::string_view key, const std::string& msg) {
  return fail(ErrorCode::kCorrupt, at + ": " + std::string(key) + ": " + msg);
}

Result<std::string> required_string(const toml::table& t, std::string_view field,
                                    const std::string& at, std::string_view key) {
  const toml::node* n = t.get(field);
  if (!n) return bad(at, key, "missing '" + std::string(field) + "'");
  auto s = n->value<std::string>();
  if (!s || s->empty())
    return bad(at, key, "'" + std::string(field) + "' must be a non-empty string");
  return *s;
}

Result<ProfileSetting> parse_setting(const toml::table& t, const std::string& file) {
  // Errors point at the key's line, the one a reader looks for.
  std::string at = where(file, t.get("key") ? *t.get("key") : static_cast<const toml::node&>(t));
  ProfileSetting s;
  s.file = at;
  auto key = required_string(t, "key", at, "setting");
  if (!key) return std::unexpected(key.error());
  s.key = *key;
  for (const auto& [k, v] : t) {
    std::string_view name = k.str();
    if (name != "key" && name != "value" && name != "reason" && name != "source")
      return bad(at, s.key, "unknown field '" + std::string(name) + "'");
  }
  if (!known_setting_key(s.key))
    return bad(at, s.key, "unknown setting key (known: " + known_setting_keys_help() + ")");
  const toml::node* v = t.get("value");
  if (!v) return bad(at, s.key, "missing 'value'");
  if (auto str = v->value_exact<std::string>()) {
    s.value = *str;
  } else if (auto i = v->value_exact<std::int64_t>()) {
    s.value = std::to_string(*i);
  } else {
    return bad(at, s.key, "'value' must be a string or an integer");
  }
  auto reason = required_string(t, "reason", at, s.key);
  if (!reason) return std::unexpected(reason.error());
  s.reason = *reason;
  auto source = required_string(t, "source", at, s.key);
  if (!source) return std::unexpected(source.error());
  s.source = *source;
  return s;
}

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::unexpected(errno_error(errno, "reading profile " + p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<Profile> parse_profile(std::string_view text, const std::string& file) {
  auto data = DataFile::parse(text, file);
  if (!data) return std::unexpected(data.error());
  const toml::table& root = data->root();
  Profile p;
  p.file = file;
  for (const auto& [k, v] : root) {
    std::string_view name = k.str();
    if (name != "schema_version" && name != "name" && name != "summary" && name != "inherits" &&
        name != "setting") {
      return bad(where(file, v), name, "unknown field");
    }
  }
  auto version = root["schema_version"].value_exact<std::int64_t>();
  if (!version)
    return bad(file, "schema_version",
               "missing (this aion reads version " + std::to_string(kProfileSchemaVersion) + ")");
  if (*version != kProfileSchemaVersion) {
    return bad(where(file, *root.get("schema_version")), "schema_version",
               "version " + std::to_string(*version) + " is not supported (this aion reads " +
                   std::to_string(kProfileSchemaVersion) + ")");
  }
  auto name = root["name"].value_exact<std::string>();
  if (!name || name->empty()) return bad(file, "name", "missing or not a string");
  if (name->find_first_of("/ \t") != std::string::npos)
    return bad(file, "name", "'" + *name + "' must not contain '/' or spaces");
  p.name = *name;
  p.summary = root["summary"].value_or(std::string());
  if (const toml::node* inh = root.get("inherits")) {
    if (auto s = inh->value_exact<std::string>()) {
      p.inherits.push_back(*s);
    } else if (const toml::array* arr = inh->as_array()) {
      for (const auto& e : *arr) {
        auto s2 = e.value_exact<std::string>();
        if (!s2) return bad(where(file, e), "inherits", "entries must be profile names");
        p.inherits.push_back(*s2);
      }
    } else {
      return bad(where(file, *inh), "inherits", "must be a profile name or a list of them");
    }
  }
  if (const toml::node* settings = root.get("setting")) {
    const toml::array* arr = settings->as_array();
    if (!arr) return bad(where(file, *settings), "setting", "must be an array of tables");
    std::set<std::string> seen;
    for (const auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) return bad(where(file, e), "setting", "must be a table ([[setting]])");
      auto s = parse_setting(*t, file);
      if (!s) return std::unexpected(s.error());
      if (!seen.insert(s->key).second) return bad(s->file, s->key, "set twice in the same profile");
      p.settings.push_back(std::move(*s));
    }
  }
  return p;
}

Result<ProfileCatalog> ProfileCatalog::from(std::vector<Profile> profiles) {
  std::map<std::string, Profile> by_name;
  for (auto& p : profiles) by_name[p.name] = std::move(p);
  ProfileCatalog c;
  for (auto& [n, p] : by_name) c.profiles_.push_back(std::move(p));
  return c;
}

Result<ProfileCatalog> ProfileCatalog::load(const fs::path& builtin_dir, const HostFs& host) {
  std::vector<Profile> all;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(builtin_dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  if (ec) {
    return fail(ErrorCode::kNotFound, "cannot list the shipped profiles in " +
                                          builtin_dir.string() + ": " + ec.message() +
                                          " (set AION_DATA_DIR to aion's data directory)");
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto text = read_file(f);
    if (!text) return std::unexpected(text.error());
    auto p = parse_profile(*text, f.string());
    if (!p) return std::unexpected(p.error());
    p->origin = "builtin";
    all.push_back(std::move(*p));
  }
  if (host.is_dir(kUserProfileDir)) {
    auto names = host.list(kUserProfileDir);
    if (!names) return std::unexpected(names.error());
    for (const auto& n : *names) {
      if (!n.ends_with(".toml")) continue;
      std::string path = std::string(kUserProfileDir) + "/" + n;
      auto text = host.read(path, 1 << 20);
      if (!text) return std::unexpected(text.error());
      auto p = parse_profile(*text, host.resolve(path).string());
      if (!p) return std::unexpected(p.error());
      p->origin = "user";
      all.push_back(std::move(*p));
    }
  }
  return from(std::move(all));
}

const Profile* ProfileCatalog::find(std::string_view name) const {
  for (const auto& p : profiles_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

Status merge_into(const ProfileCatalog& cat, const Profile& p, std::vector<std::string>& stack,
                  std::vector<std::string>& chain, std::vector<ProfileSetting>& out) {
  if (std::find(stack.begin(), stack.end(), p.name) != stack.end()) {
    std::string cycle;
    for (const auto& s : stack) cycle += s + " -> ";
    return fail(ErrorCode::kCorrupt, p.file + ": inherits: inheritance cycle through '" + p.name +
                                         "' (" + cycle + p.name + ")");
  }
  stack.push_back(p.name);
  chain.push_back(p.name);
  for (const auto& parent_name : p.inherits) {
    const Profile* parent = cat.find(parent_name);
    if (!parent) {
      return fail(ErrorCode::kNotFound, p.file + ": inherits: no profile named '" + parent_name +
                                            "' (see `aion tune list`)");
    }
    if (auto st = merge_into(cat, *parent, stack, chain, out); !st) return st;
  }
  for (const auto& s : p.settings) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const ProfileSetting& o) { return o.key == s.key; });
    if (it != out.end()) {
      *it = s;
    } else {
      out.push_back(s);
    }
  }
  stack.pop_back();
  return {};
}

}  // namespace

Result<ResolvedProfile> ProfileCatalog::resolve(std::string_view name) const {
  const Profile* p = find(name);
  if (!p) {
    std::string names;
    for (const auto& q : profiles_) names += (names.empty() ? "" : ", ") + q.name;
    return fail(ErrorCode::kNotFound,
                "no profile named '" + std::string(name) + "' (known: " + names + ")");
  }
  ResolvedProfile r;
  r.name = p->name;
  r.summary = p->summary;
  std::vector<std::string> stack;
  if (auto st = merge_into(*this, *p, stack, r.chain, r.settings); !st)
    return std::unexpected(st.error());
  return r;
}

fs::path builtin_profile_dir() {
  return data_dir() / "profiles";
}

}  // namespace aion::tune
