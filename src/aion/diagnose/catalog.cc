#include "aion/diagnose/catalog.h"

#include <re2/re2.h>
#include "aion/core/data_file.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace aion::diagnose {
namespace {

const std::set<std::string, std::less<>> kSeverities = {"info", "warning", "critical"};

Error entry_error(const std::string& file, std::size_t index, const std::string& id,
                  const std::string& what) {
  std::string where = file + ": signature " + std::to_string(index + 1);
  if (!id.empty()) where += " (" + id + ")";
  return Error(ErrorCode::kCorrupt, where + ": " + what);
}

Result<std::string> text(const toml::table& t, std::string_view key, bool required,
                         const std::string& file, std::size_t index, const std::string& id) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) {
      return std::unexpected(
          entry_error(file, index, id, "missing key '" + std::string(key) + "'"));
    }
    return std::string();
  }
  auto v = n->value<std::string>();
  if (!v || (required && v->empty())) {
    return std::unexpected(
        entry_error(file, index, id, "'" + std::string(key) + "' must be a non-empty string"));
  }
  return *v;
}

Result<std::vector<std::string>> strings(const toml::table& t, std::string_view key,
                                         const std::string& file, std::size_t index,
                                         const std::string& id) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a) {
    return std::unexpected(
        entry_error(file, index, id, "'" + std::string(key) + "' must be an array of strings"));
  }
  for (const auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s || s->empty()) {
      return std::unexpected(
          entry_error(file, index, id, "'" + std::string(key) + "' must hold non-empty strings"));
    }
    out.push_back(*s);
  }
  return out;
}

Status check_pattern(const std::string& pattern, const std::string& file, std::size_t index,
                     const std::string& id) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) {
    return std::unexpected(
        entry_error(file, index, id, "bad pattern '" + pattern + "': " + re.error()));
  }
  for (const auto& [name, group] : re.NamedCapturingGroups()) {
    (void)group;
    if (std::find(std::begin(kDeviceGroups), std::end(kDeviceGroups), name) ==
        std::end(kDeviceGroups)) {
      return std::unexpected(entry_error(file, index, id,
                                         "pattern '" + pattern + "' has capture group '" + name +
                                             "'; allowed: pci, gpu, xid, nic, disk, pid, job, "
                                             "elapsed_ms"));
    }
  }
  return {};
}

// Where an entry stands, for its errors.
struct EntryAt {
  const std::string& file;
  std::size_t index;
};

// The text fields: title, component, severity, meaning, action and source required; event
// and playbook optional. The severity must be info, warning or critical.
Status read_texts(const toml::table& t, EntryAt at, Signature& s) {
  auto get = [&](std::string_view key, bool required, std::string& out) -> Status {
    auto v = text(t, key, required, at.file, at.index, s.id);
    if (!v) return std::unexpected(v.error());
    out = *v;
    return {};
  };
  for (auto [key, out] : {std::pair{"title", &s.title}, std::pair{"component", &s.component},
                          std::pair{"severity", &s.severity}, std::pair{"meaning", &s.meaning},
                          std::pair{"action", &s.action}, std::pair{"source", &s.source}}) {
    if (auto st = get(key, true, *out); !st) return std::unexpected(st.error());
  }
  for (auto [key, out] : {std::pair{"event", &s.event}, std::pair{"playbook", &s.playbook}}) {
    if (auto st = get(key, false, *out); !st) return std::unexpected(st.error());
  }
  if (!kSeverities.contains(s.severity)) {
    return std::unexpected(
        entry_error(at.file, at.index, s.id,
                    "severity must be info, warning or critical, found '" + s.severity + "'"));
  }
  return {};
}

// weight (required, 0..1), fallback (a boolean) and xid (a positive integer).
Status read_numbers(const toml::table& t, EntryAt at, Signature& s) {
  if (const toml::node* w = t.get("weight")) {
    auto v = w->value<double>();
    if (!v || *v < 0 || *v > 1) {
      return std::unexpected(
          entry_error(at.file, at.index, s.id, "weight must be a number in 0..1"));
    }
    s.weight = *v;
  } else {
    return std::unexpected(entry_error(at.file, at.index, s.id, "missing key 'weight'"));
  }
  if (const toml::node* f = t.get("fallback")) {
    auto v = f->value<bool>();
    if (!v) {
      return std::unexpected(entry_error(at.file, at.index, s.id, "fallback must be a boolean"));
    }
    s.fallback = *v;
  }
  if (const toml::node* x = t.get("xid")) {
    auto v = x->value<std::int64_t>();
    if (!v || *v <= 0) {
      return std::unexpected(
          entry_error(at.file, at.index, s.id, "xid must be a positive integer"));
    }
    s.xid = static_cast<std::uint64_t>(*v);
  }
  return {};
}

// evidence (at least one), explained_by, and origins (when given, known ones, at least one).
Status read_lists(const toml::table& t, EntryAt at, Signature& s) {
  const std::string& file = at.file;
  const std::size_t index = at.index;
  auto ev = strings(t, "evidence", file, index, s.id);
  if (!ev) return std::unexpected(ev.error());
  s.evidence = std::move(*ev);
  if (s.evidence.empty()) {
    return std::unexpected(
        entry_error(file, index, s.id, "'evidence' must list what to collect (at least one)"));
  }
  auto explained = strings(t, "explained_by", file, index, s.id);
  if (!explained) return std::unexpected(explained.error());
  s.explained_by = std::move(*explained);
  if (t.contains("origins")) {
    auto origins = strings(t, "origins", file, index, s.id);
    if (!origins) return std::unexpected(origins.error());
    if (origins->empty()) {
      return std::unexpected(entry_error(file, index, s.id,
                                         "'origins' must name at least one of kernel, journal, "
                                         "file, job (or be left out: kernel)"));
    }
    for (const auto& o : *origins) {
      if (std::find(std::begin(kLineOrigins), std::end(kLineOrigins), o) ==
          std::end(kLineOrigins)) {
        return std::unexpected(entry_error(
            file, index, s.id, "unknown origin '" + o + "' (kernel, journal, file, job)"));
      }
    }
    s.origins = std::move(*origins);
  }
  return {};
}

// pattern or patterns (not both), each a valid RE2 with known capture groups; an entry
// without any needs an xid or an event to match.
Status read_patterns(const toml::table& t, EntryAt at, Signature& s) {
  const std::string& file = at.file;
  const std::size_t index = at.index;
  auto one = text(t, "pattern", false, file, index, s.id);
  if (!one) return std::unexpected(one.error());
  auto many = strings(t, "patterns", file, index, s.id);
  if (!many) return std::unexpected(many.error());
  if (!one->empty() && !many->empty()) {
    return std::unexpected(
        entry_error(file, index, s.id, "give either 'pattern' or 'patterns', not both"));
  }
  s.patterns = one->empty() ? std::move(*many) : std::vector<std::string>{*one};
  if (s.patterns.empty() && !s.xid && s.event.empty()) {
    return std::unexpected(entry_error(
        file, index, s.id, "needs something to match: 'pattern', 'patterns', 'xid' or 'event'"));
  }
  for (const auto& p : s.patterns) {
    if (auto st = check_pattern(p, file, index, s.id); !st) return std::unexpected(st.error());
  }
  return {};
}

Status check_known_keys(const toml::table& t, EntryAt at, const Signature& s) {
  static const std::set<std::string, std::less<>> known = {
      "id",       "title",    "component", "severity",     "weight",  "pattern",
      "patterns", "fallback", "xid",       "event",        "meaning", "evidence",
      "action",   "playbook", "source",    "explained_by", "origins"};
  for (const auto& [k, v] : t) {
    (void)v;
    if (!known.contains(k.str())) {
      return std::unexpected(
          entry_error(at.file, at.index, s.id, "unknown key '" + std::string(k.str()) + "'"));
    }
  }
  return {};
}

Result<Signature> parse_entry(const toml::table& t, const std::string& file, std::size_t index) {
  Signature s;
  s.file = file;
  auto id = text(t, "id", true, file, index, "");
  if (!id) return std::unexpected(id.error());
  s.id = *id;
  const EntryAt at{file, index};
  for (auto step : {read_texts, read_numbers, read_lists, read_patterns}) {
    if (auto st = step(t, at, s); !st) return std::unexpected(st.error());
  }
  if (auto st = check_known_keys(t, at, s); !st) return std::unexpected(st.error());
  return s;
}

}  // namespace

Result<Catalog> Catalog::parse(std::string_view text, const std::string& file) {
  auto data = DataFile::parse(text, file);
  if (!data) return std::unexpected(data.error());
  if (auto st = data->expect_schema_version(kCatalogSchemaVersion); !st) {
    return std::unexpected(st.error());
  }
  const toml::table& root = data->root();
  for (const auto& [k, v] : root) {
    (void)v;
    if (k.str() != "schema_version" && k.str() != "signature") {
      return fail(ErrorCode::kCorrupt, file + ": unknown top-level key '" + std::string(k.str()) +
                                           "' (expected schema_version and [[signature]])");
    }
  }
  Catalog c;
  const toml::array* entries = root["signature"].as_array();
  if (!entries) return c;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const toml::table* t = (*entries)[i].as_table();
    if (!t) return std::unexpected(entry_error(file, i, "", "must be a table"));
    auto s = parse_entry(*t, file, i);
    if (!s) return std::unexpected(s.error());
    if (c.find(s->id)) {
      return std::unexpected(entry_error(file, i, s->id, "duplicate id"));
    }
    c.signatures_.push_back(std::move(*s));
  }
  return c;
}

Result<Catalog> Catalog::load_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(ErrorCode::kNotFound,
                "signature catalog directory " + dir.string() +
                    " does not exist (set diagnose.signatures_dir or AION_DATA_DIR)");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  Catalog all;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) return fail(ErrorCode::kIo, "cannot read " + f.string());
    std::stringstream ss;
    ss << in.rdbuf();
    auto c = parse(ss.str(), f.string());
    if (!c) return c;
    if (auto st = all.merge(std::move(*c)); !st) return std::unexpected(st.error());
  }
  if (all.signatures_.empty()) {
    return fail(ErrorCode::kCorrupt, "no signatures in " + dir.string() + " (no *.toml files)");
  }
  return all;
}

Status Catalog::merge(Catalog other) {
  for (auto& s : other.signatures_) {
    if (const Signature* d = find(s.id)) {
      return fail(ErrorCode::kCorrupt,
                  s.file + ": signature " + s.id + " is already defined in " + d->file);
    }
    signatures_.push_back(std::move(s));
  }
  return {};
}

const Signature* Catalog::find(std::string_view id) const {
  for (const auto& s : signatures_)
    if (s.id == id) return &s;
  return nullptr;
}

const Signature* Catalog::find_xid(std::uint64_t xid) const {
  for (const auto& s : signatures_)
    if (s.xid && *s.xid == xid) return &s;
  return find_event("gpu_xid");
}

const Signature* Catalog::find_event(std::string_view event) const {
  for (const auto& s : signatures_)
    if (s.event == event) return &s;
  return nullptr;
}

}  // namespace aion::diagnose
