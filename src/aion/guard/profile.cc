#include "aion/guard/profile.h"

#include <algorithm>

#include "aion/core/data_file.h"
#include "aion/core/paths.h"

namespace aion::guard {

namespace fs = std::filesystem;

namespace {

// A boolean field; `fallback` when absent.
Result<bool> flag(const DataFile& d, const toml::table& t, std::string_view key, bool fallback) {
  const toml::node* n = t.get(key);
  if (!n) return fallback;
  auto v = n->value_exact<bool>();
  if (!v) return d.bad(*n, "'" + std::string(key) + "' must be true or false");
  return *v;
}

// A path of a file list: absolute, or starting with a placeholder.
Status check_paths(const DataFile& d, const toml::table& t, std::string_view key,
                   const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (p.starts_with('/') || p == "{workdir}" || p == "{home}") continue;
    return std::unexpected(d.error_at(*t.get(key), "'" + std::string(key) + "' holds '" + p +
                                                       "': paths must be absolute, or {workdir} "
                                                       "or {home}"));
  }
  return {};
}

Result<NetworkMode> network_mode(const DataFile& d, const toml::table& t) {
  auto text = d.optional_string(t, "network", "host");
  if (!text) return std::unexpected(text.error());
  for (NetworkMode m :
       {NetworkMode::kHost, NetworkMode::kNone, NetworkMode::kLoopback, NetworkMode::kAllow}) {
    if (*text == to_string(m)) return m;
  }
  return d.bad(*t.get("network"),
               "network = '" + *text + "': use \"host\", \"none\", \"loopback\" or \"allow\"");
}

Result<SandboxProfile> parse_row(const DataFile& d, const toml::table& t) {
  if (auto st =
          d.expect_keys(t,
                        {"name", "summary", "on_unenforceable", "no_new_privileges", "private_tmp",
                         "read_exec", "read_only", "read_write", "job_devices", "deny_syscalls",
                         "deny_new_namespaces", "network", "allow", "record_egress"},
                        "profile");
      !st) {
    return std::unexpected(st.error());
  }
  SandboxProfile p;
  auto name = d.string(t, "name");
  auto summary = d.string(t, "summary");
  auto on = d.optional_string(t, "on_unenforceable", "refuse");
  if (!name || !summary || !on) {
    return std::unexpected(!name ? name.error() : !summary ? summary.error() : on.error());
  }
  p.name = *name;
  p.summary = *summary;
  if (*on != "refuse" && *on != "warn")
    return d.bad(*t.get("on_unenforceable"), "on_unenforceable must be \"refuse\" or \"warn\"");
  p.on_unenforceable = *on == "refuse" ? Unenforceable::kRefuse : Unenforceable::kWarn;
  for (auto [key, out] : {std::pair{"read_exec", &p.read_exec},
                          {"read_only", &p.read_only},
                          {"read_write", &p.read_write},
                          {"deny_syscalls", &p.deny_syscalls},
                          {"allow", &p.allow}}) {
    auto v = d.strings(t, key, false);
    if (!v) return std::unexpected(v.error());
    *out = std::move(*v);
    if (std::string_view(key).starts_with("read_")) {
      if (auto st = check_paths(d, t, key, *out); !st) return std::unexpected(st.error());
    }
  }
  for (auto [key, out, def] : {std::tuple{"no_new_privileges", &p.no_new_privileges, true},
                               {"private_tmp", &p.private_tmp, true},
                               {"job_devices", &p.job_devices, true},
                               {"deny_new_namespaces", &p.deny_new_namespaces, true},
                               {"record_egress", &p.record_egress, true}}) {
    auto v = flag(d, t, key, def);
    if (!v) return std::unexpected(v.error());
    *out = *v;
  }
  auto net = network_mode(d, t);
  if (!net) return std::unexpected(net.error());
  p.network = *net;
  if (p.network != NetworkMode::kAllow && !p.allow.empty())
    return d.bad(*t.get("allow"), "'allow' is for network = \"allow\" only");
  p.file = d.error_at(t, "").message();
  if (auto c = p.file.rfind(": "); c != std::string::npos) p.file.resize(c);
  return p;
}

}  // namespace

std::string_view to_string(NetworkMode m) {
  switch (m) {
    case NetworkMode::kHost: return "host";
    case NetworkMode::kNone: return "none";
    case NetworkMode::kLoopback: return "loopback";
    case NetworkMode::kAllow: return "allow";
  }
  return "host";
}

Status ProfileCatalog::add_file(const Result<DataFile>& d) {
  if (!d) return std::unexpected(d.error());
  if (auto st = d->expect_schema_version(kProfileSchemaVersion); !st) return st;
  if (auto st = d->expect_keys(d->root(), {"schema_version", "profile"}, "profile file"); !st)
    return st;
  auto rows = d->rows(d->root(), "profile");
  if (!rows) return std::unexpected(rows.error());
  std::vector<std::string> seen;
  for (const toml::table* row : *rows) {
    auto p = parse_row(*d, *row);
    if (!p) return std::unexpected(p.error());
    if (std::find(seen.begin(), seen.end(), p->name) != seen.end())
      return std::unexpected(d->error_at(*row, "profile '" + p->name + "' is defined twice"));
    seen.push_back(p->name);
    std::erase_if(profiles_, [&](const SandboxProfile& q) { return q.name == p->name; });
    profiles_.push_back(std::move(*p));
  }
  return {};
}

Result<ProfileCatalog> ProfileCatalog::parse(std::string_view text, const std::string& file) {
  ProfileCatalog c;
  if (auto st = c.add_file(DataFile::parse(text, file)); !st) return std::unexpected(st.error());
  return c;
}

Result<ProfileCatalog> ProfileCatalog::load(const fs::path& shipped, const fs::path& site_dir) {
  ProfileCatalog c;
  std::vector<fs::path> files = {shipped};
  std::error_code ec;
  if (!site_dir.empty() && fs::is_directory(site_dir, ec)) {
    std::vector<fs::path> site;
    for (const auto& e : fs::directory_iterator(site_dir, ec))
      if (e.path().extension() == ".toml") site.push_back(e.path());
    std::sort(site.begin(), site.end());
    files.insert(files.end(), site.begin(), site.end());
  }
  for (const auto& f : files) {
    if (auto st = c.add_file(DataFile::read(f)); !st) return std::unexpected(st.error());
  }
  return c;
}

Result<SandboxProfile> ProfileCatalog::find(std::string_view name) const {
  std::vector<std::string> names;
  for (const auto& p : profiles_) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return fail(ErrorCode::kNotFound, "no sandbox profile '" + std::string(name) +
                                        "'; there are: " + list + " (aion guard profiles)");
}

Result<ProfileCatalog> load_profiles(const fs::path& site_dir) {
  return ProfileCatalog::load(data_dir() / "guard" / "profiles.toml", site_dir);
}

}  // namespace aion::guard
