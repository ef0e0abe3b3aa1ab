#include "aion/privacy/detectors.h"
#include "aion/core/strings.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

#include "aion/core/config.h"
#include "aion/privacy/validators.h"

namespace aion::privacy {
namespace {

constexpr std::array<std::string_view, kCategoryCount> kNames = {
    "secret", "national_id", "card", "email", "phone", "ip", "mac", "serial", "user", "host"};
constexpr std::array<std::string_view, kCategoryCount> kTokens = {
    "SECRET", "NATIONAL_ID", "CARD", "EMAIL", "PHONE", "IP", "MAC", "SERIAL", "USER", "HOST"};

ConfigSchema file_schema() {
  ConfigSchema d;
  d.string("id", "", "Unique id of the detector")
      .string("category", "",
              "secret, email, ip, mac, host, user, phone, national_id, card, serial")
      .string("regex", "", "RE2 expression")
      .integer("group", -1,
               "Capture group holding the value; 0 = the whole match; default: 1 when the "
               "expression has a group, else 0",
               -1, 9)
      .string("validate", "", "Validator run on each candidate (validators.h)")
      .number("min_entropy", 0, "For validate = entropy: minimum bits per character")
      .number("confidence", 0.5, "How sure a match is, 0..1")
      .boolean("multiline", false, "Match over the whole text instead of line by line")
      .strings("prefilter", {}, "Literals one of which every match contains (any case)")
      .string("source", "", "Public description of the format (URL or document)");
  ConfigSchema l;
  l.string("name", "", "List name")
      .strings("values", {}, "Values (compared case-insensitively)")
      .string("source", "", "Where the values come from");
  ConfigSchema s;
  s.integer("schema_version", 0, "Version of this file's layout", kDetectorSchemaVersion,
            kDetectorSchemaVersion)
      .table_array("detector", d, "Detectors")
      .table_array("list", l, "Word lists the validators consult");
  return s;
}

// Line numbers (1-based) of each "[[name]]" header in `text`, in order: Config keeps no
// positions for array elements, and an entry's error should still cite file:line.
std::vector<int> header_lines(std::string_view text, std::string_view header) {
  std::vector<int> out;
  int line = 1;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(pos, eol - pos);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.starts_with(header)) out.push_back(line);
    ++line;
    pos = eol + 1;
  }
  return out;
}

}  // namespace

std::string_view category_name(Category c) {
  return kNames[static_cast<int>(c)];
}
std::string_view category_token(Category c) {
  return kTokens[static_cast<int>(c)];
}

std::optional<Category> category_from(std::string_view name) {
  for (int i = 0; i < kCategoryCount; ++i) {
    if (kNames[i] == name) return static_cast<Category>(i);
  }
  return std::nullopt;
}

Result<DetectorSet> DetectorSet::parse(std::string_view text, const std::string& file) {
  auto cfg = Config::parse(text, file, file_schema());
  // A shipped data file that does not fit its schema is broken data, not a usage error.
  if (!cfg) return fail(ErrorCode::kCorrupt, cfg.error().message());
  if (!cfg->is_set("schema_version")) {
    return fail(ErrorCode::kCorrupt, file + ": schema_version: missing (add schema_version = " +
                                         std::to_string(kDetectorSchemaVersion) + " at the top)");
  }
  const std::vector<int> lines = header_lines(text, "[[detector]]");
  DetectorSet set;
  const auto& entries = cfg->get_tables("detector");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Config& t = entries[i];
    const std::string where =
        file + ":" + (i < lines.size() ? std::to_string(lines[i]) : std::string("?"));
    auto bad = [&](std::string_view field, const std::string& why) {
      return fail(ErrorCode::kCorrupt, where + ": detector '" + t.get_string("id") +
                                           "': " + std::string(field) + ": " + why);
    };
    Detector d;
    d.id = t.get_string("id");
    d.file = where;
    for (std::string_view key : {"id", "category", "regex", "source"}) {
      if (t.get_string(key).empty()) return bad(key, "missing (every detector needs it)");
    }
    auto cat = category_from(t.get_string("category"));
    if (!cat) {
      return bad("category", "unknown category '" + t.get_string("category") +
                                 "' (expected secret, email, ip, mac, host, user, phone, "
                                 "national_id, card or serial)");
    }
    d.category = *cat;
    d.regex = t.get_string("regex");
    d.group = static_cast<int>(t.get_int("group"));
    d.validate = t.get_string("validate");
    d.min_entropy = t.get_double("min_entropy");
    d.confidence = t.get_double("confidence");
    d.multiline = t.get_bool("multiline");
    d.source = t.get_string("source");
    d.prefilter = t.get_strings("prefilter");
    for (const auto& lit : d.prefilter) {
      if (lit.empty()) return bad("prefilter", "an empty literal matches everywhere; remove it");
    }
    if (!is_validator(d.validate)) {
      return bad("validate", "unknown validator '" + d.validate + "' (see validators.h)");
    }
    if (d.confidence <= 0 || d.confidence > 1) return bad("confidence", "must be in (0, 1]");
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(d.regex, opts);
    if (!re.ok()) return bad("regex", "RE2 rejects it: " + re.error());
    if (d.group < 0) d.group = re.NumberOfCapturingGroups() > 0 ? 1 : 0;
    if (d.group > re.NumberOfCapturingGroups()) {
      return bad("group", "the expression has only " +
                              std::to_string(re.NumberOfCapturingGroups()) + " groups");
    }
    for (const Detector& o : set.detectors_) {
      if (o.id == d.id) return bad("id", "duplicate (first at " + o.file + ")");
    }
    set.detectors_.push_back(std::move(d));
  }
  const std::vector<int> list_lines = header_lines(text, "[[list]]");
  const auto& lists = cfg->get_tables("list");
  for (std::size_t i = 0; i < lists.size(); ++i) {
    const Config& t = lists[i];
    if (t.get_string("name").empty() || t.get_string("source").empty()) {
      return fail(ErrorCode::kCorrupt,
                  file + ":" + (i < list_lines.size() ? std::to_string(list_lines[i]) : "?") +
                      ": list: 'name' and 'source' are required");
    }
    auto& into = set.lists_[t.get_string("name")];
    for (const auto& v : t.get_strings("values")) into.insert(lower(v));
  }
  return set;
}

Status DetectorSet::merge(DetectorSet other) {
  for (auto& d : other.detectors_) {
    for (const Detector& o : detectors_) {
      if (o.id == d.id) {
        return fail(ErrorCode::kCorrupt, d.file + ": detector '" + d.id +
                                             "': id: duplicate (first at " + o.file +
                                             "); give the site detector another id");
      }
    }
    detectors_.push_back(std::move(d));
  }
  for (auto& [name, values] : other.lists_) lists_[name].merge(values);
  return {};
}

const std::set<std::string, std::less<>>& DetectorSet::list(std::string_view name) const {
  static const std::set<std::string, std::less<>> kEmpty;
  auto it = lists_.find(name);
  return it == lists_.end() ? kEmpty : it->second;
}

Result<DetectorSet> DetectorSet::load_dir(const std::filesystem::path& dir,
                                          const std::filesystem::path& extra_dir) {
  DetectorSet all;
  for (const auto& d : {dir, extra_dir}) {
    if (d.empty()) continue;
    std::error_code ec;
    if (!std::filesystem::is_directory(d, ec)) {
      return fail(ErrorCode::kNotFound,
                  "privacy detector directory " + d.string() +
                      " does not exist (set privacy.detectors_dir or AION_DATA_DIR)");
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(d, ec)) {
      if (e.path().extension() == ".toml") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f);
      if (!in) return fail(ErrorCode::kIo, "cannot read " + f.string());
      std::stringstream ss;
      ss << in.rdbuf();
      auto one = parse(ss.str(), f.string());
      if (!one) return std::unexpected(one.error());
      if (auto st = all.merge(std::move(*one)); !st) return std::unexpected(st.error());
    }
  }
  if (all.detectors_.empty()) {
    return fail(ErrorCode::kNotFound, "no privacy detectors in " + dir.string() +
                                          " (no *.toml files with [[detector]] entries)");
  }
  return all;
}

}  // namespace aion::privacy
