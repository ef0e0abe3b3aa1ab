// The resolver against a table of cases: tests/envcfg/plan_cases.toml holds a machine
// description and a request per case, with the plan expected or the failure and the ways out
// expected, why, and the knowledge-table rows the expectation follows from. The loader
// refuses an unknown key, a missing citation, a citation naming a row the tables do not have
// and a machine fixture that does not exist, so a typo or a changed table fails here with the
// case's line instead of passing silently.
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "aion/envcfg/resolver.h"
#include "test_util.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;
using testing::kb;

struct Expect {
  std::optional<bool> ok;
  std::string error;       // make_plan must return an error whose message contains this
  std::string error_code;  // "invalid_argument" | "not_found"
  std::map<std::string, std::string> fields;  // Plan fields, exact or substring (see below)
  std::optional<bool> disable_require;
  std::vector<std::string> reasons, failures, warnings, ways_out, no_ways_out;
};

struct Case {
  std::string name, where, machine, request, python, variant, why;
  std::string tables;  // "" = data/envcfg; a date = the frozen copy in tests/fixtures/envcfg
  std::vector<std::string> cites;
  Expect expect;
};

// Plan fields compared whole, and those compared by substring ("" there means: empty).
const std::set<std::string> kExactFields = {
    "version",       "variant",         "kind",           "runtime", "cudnn",        "python",
    "compatibility", "forward_package", "requires_torch", "image",   "image_python", "image_os"};
const std::set<std::string> kSubstringFields = {"index", "install", "alternative"};
const std::set<std::string> kWayOutKinds = {
    "driver", "forward_compat", "hardware", "version", "toolkit", "npu_driver", "container",
    "python", "variant",        "cpu",      "rocm",    "cann",    "framework"};

std::string plan_field(const Plan& p, const std::string& key) {
  if (key == "version") return p.version;
  if (key == "variant") return p.variant;
  if (key == "kind") return std::string(to_string(p.kind));
  if (key == "runtime") return p.runtime;
  if (key == "cudnn") return p.cudnn;
  if (key == "python") return p.python;
  if (key == "compatibility") return p.compatibility;
  if (key == "forward_package") return p.forward_package;
  if (key == "requires_torch") return p.requires_torch;
  if (key == "image") return p.image;
  if (key == "image_python") return p.image_python;
  if (key == "image_os") return p.image_os;
  if (key == "index") return p.index;
  if (key == "alternative") return p.alternative_image;
  std::string all;
  for (const auto& line : p.install) all += line + "\n";
  return all;  // "install"
}

std::string node_text(const toml::node& n) {
  if (n.is_string()) return *n.value<std::string>();
  if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  return "";
}

// Checks a citation against the knowledge tables. Forms, each optionally followed by
// "; a note":
//   file.toml: [[array]] key = "value"[, key = value]   a row of the array with those values
//   file.toml: [table] key                               a key of a table
//   file.toml: key = "value"                             a top-level value
// Returns what is wrong, or "" when the row exists.
class CiteChecker {
 public:
  explicit CiteChecker(fs::path dir) : dir_(std::move(dir)) {}

  std::string check(const std::string& cite) {
    auto colon = cite.find(": ");
    if (colon == std::string::npos || !cite.substr(0, colon).ends_with(".toml"))
      return "does not start with 'file.toml: '";
    std::string file = cite.substr(0, colon);
    const toml::table* root = table(file);
    if (!root) return "names " + file + ", which is not a table in data/envcfg";
    std::string rest = cite.substr(colon + 2);
    rest = rest.substr(0, semicolon(rest));
    while (!rest.empty() && rest.back() == ' ') rest.pop_back();
    if (rest.rfind("[[", 0) == 0) {
      auto close = rest.find("]]");
      if (close == std::string::npos) return "has an unclosed [[";
      std::string array = rest.substr(2, close - 2);
      auto pairs = parse_pairs(rest.substr(close + 2));
      if (!pairs) return "has a malformed 'key = value' list";
      const auto* arr = (*root)[array].as_array();
      if (!arr) return file + " has no [[" + array + "]] rows";
      for (const auto& n : *arr) {
        const auto* row = n.as_table();
        if (row && std::all_of(pairs->begin(), pairs->end(), [&](const auto& kv) {
              const toml::node* v = row->get(kv.first);
              return v && node_text(*v) == kv.second;
            }))
          return "";
      }
      return file + " has no [[" + array + "]] row with those values";
    }
    if (rest.rfind("[", 0) == 0) {
      auto close = rest.find(']');
      if (close == std::string::npos) return "has an unclosed [";
      std::string name = rest.substr(1, close - 1);
      std::string key = rest.substr(close + 1);
      key.erase(0, key.find_first_not_of(' '));
      const auto* t = (*root)[name].as_table();
      if (!t) return file + " has no [" + name + "] table";
      if (key.empty() || !t->contains(key))
        return "[" + name + "] in " + file + " has no '" + key + "'";
      return "";
    }
    auto pairs = parse_pairs(rest);
    if (!pairs || pairs->size() != 1)
      return "is not '[[array]] key = value', '[table] key' or 'key = value'";
    const toml::node* v = root->get(pairs->front().first);
    if (!v || node_text(*v) != pairs->front().second)
      return file + " has no top-level " + pairs->front().first + " = " + pairs->front().second;
    return "";
  }

 private:
  static std::size_t semicolon(const std::string& s) {
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"') quoted = !quoted;
      if (s[i] == ';' && !quoted) return i;
    }
    return s.size();
  }

  // ` key = "value", key2 = 12` -> {{key, value}, {key2, 12}}.
  static std::optional<std::vector<std::pair<std::string, std::string>>> parse_pairs(
      std::string s) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t i = 0;
    auto skip = [&] {
      while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    };
    skip();
    while (i < s.size()) {
      auto eq = s.find(" = ", i);
      if (eq == std::string::npos) return std::nullopt;
      std::string key = s.substr(i, eq - i);
      if (key.empty() || key.find_first_of(" \",") != std::string::npos) return std::nullopt;
      i = eq + 3;
      std::string value;
      if (i < s.size() && s[i] == '"') {
        auto end = s.find('"', i + 1);
        if (end == std::string::npos) return std::nullopt;
        value = s.substr(i + 1, end - i - 1);
        i = end + 1;
      } else {
        auto end = s.find(',', i);
        if (end == std::string::npos) end = s.size();
        value = s.substr(i, end - i);
        while (!value.empty() && value.back() == ' ') value.pop_back();
        i = end;
      }
      if (value.empty()) return std::nullopt;
      out.emplace_back(key, value);
      skip();
    }
    if (out.empty()) return std::nullopt;
    return out;
  }

  const toml::table* table(const std::string& file) {
    if (file.find('/') != std::string::npos) return nullptr;
    auto it = tables_.find(file);
    if (it == tables_.end()) {
      std::optional<toml::table> t;
      if (fs::exists(dir_ / file)) {
        try {
          t = toml::parse_file((dir_ / file).string());
        } catch (const toml::parse_error&) {
        }
      }
      it = tables_.emplace(file, std::move(t)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  fs::path dir_;
  std::map<std::string, std::optional<toml::table>> tables_;
};

// The frozen copy of the tables a case names with `tables = "DATE"`.
fs::path frozen_dir(const std::string& date) {
  return fs::path(AION_SOURCE_DIR) / "tests/fixtures/envcfg" / date;
}

class CaseLoader {
 public:
  CaseLoader(std::string source, fs::path fixtures, fs::path tables)
      : source_(std::move(source)), fixtures_(std::move(fixtures)), cites_(std::move(tables)) {}

  // Every case of the text, or "source:line: what is wrong" for the first bad one.
  Result<std::vector<Case>> load(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return fail(ErrorCode::kParse, source_ + ":" + std::to_string(e.source().begin.line) + ": " +
                                         std::string(e.description()));
    }
    for (const auto& [k, v] : root)
      if (k.str() != "schema_version" && k.str() != "case")
        return bad(v, "unknown top-level key '" + std::string(k.str()) + "'");
    if (root["schema_version"].value<std::int64_t>() != 1)
      return bad(root, "schema_version = 1 is missing");
    const auto* arr = root["case"].as_array();
    if (!arr) return bad(root, "no [[case]] rows");
    std::vector<Case> out;
    std::set<std::string> names;
    for (const auto& n : *arr) {
      const auto* row = n.as_table();
      if (!row) return bad(n, "[[case]] must be a table");
      auto c = one(*row);
      if (!c) return std::unexpected(c.error());
      if (!names.insert(c->name).second) return bad(*row, "case '" + c->name + "' is named twice");
      out.push_back(std::move(*c));
    }
    return out;
  }

 private:
  std::unexpected<Error> bad(const toml::node& n, const std::string& what) const {
    return fail(ErrorCode::kConfig,
                source_ + ":" + std::to_string(n.source().begin.line) + ": " + what);
  }

  Result<std::string> str(const toml::table& row, const char* key, bool required) const {
    const toml::node* n = row.get(key);
    if (!n) {
      if (required) return bad(row, std::string("'") + key + "' is missing");
      return std::string();
    }
    auto v = n->value<std::string>();
    if (!v || (required && v->empty()))
      return bad(*n, std::string("'") + key + "' must be a non-empty string");
    return *v;
  }

  Result<std::vector<std::string>> strings(const toml::node& n, const std::string& key) const {
    const auto* arr = n.as_array();
    if (!arr) return bad(n, "'" + key + "' must be an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *arr) {
      auto s = e.value<std::string>();
      if (!s || s->empty()) return bad(e, "'" + key + "' must hold non-empty strings");
      out.push_back(*s);
    }
    return out;
  }

  Result<Case> one(const toml::table& row) {
    static const std::set<std::string> keys = {"name", "machine", "request", "python", "variant",
                                               "why",  "cites",   "expect",  "tables"};
    for (const auto& [k, v] : row)
      if (!keys.contains(std::string(k.str())))
        return bad(v, "unknown key '" + std::string(k.str()) + "' in [[case]]");
    Case c;
    c.where = source_ + ":" + std::to_string(row.source().begin.line);
    const std::pair<const char*, std::string Case::*> text_keys[] = {
        {"name", &Case::name},     {"machine", &Case::machine}, {"request", &Case::request},
        {"python", &Case::python}, {"variant", &Case::variant}, {"why", &Case::why},
        {"tables", &Case::tables}};
    for (const auto& [key, member] : text_keys) {
      bool optional = std::string_view(key) == "python" || std::string_view(key) == "variant" ||
                      std::string_view(key) == "tables";
      auto v = str(row, key, !optional);
      if (!v) return std::unexpected(v.error());
      c.*member = *v;
    }
    if (c.name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
      return bad(row, "case name '" + c.name + "' may hold only letters, digits and '_'");
    if (!fs::exists(fixtures_ / (c.machine + ".json")))
      return bad(row, "case '" + c.name + "': no machine fixture " + c.machine + ".json in " +
                          fixtures_.string());
    const toml::node* cites = row.get("cites");
    if (!cites) return bad(row, "case '" + c.name + "': 'cites' is missing");
    auto cv = strings(*cites, "cites");
    if (!cv) return std::unexpected(cv.error());
    if (cv->empty()) return bad(*cites, "case '" + c.name + "': 'cites' is empty");
    if (!c.tables.empty() && !fs::is_directory(frozen_dir(c.tables)))
      return bad(row, "case '" + c.name + "': no frozen tables " + frozen_dir(c.tables).string());
    for (const auto& cite : *cv) {
      std::string wrong =
          c.tables.empty() ? cites_.check(cite) : frozen_cites(c.tables).check(cite);
      if (!wrong.empty()) return bad(*cites, "case '" + c.name + "': cite '" + cite + "' " + wrong);
    }
    c.cites = std::move(*cv);
    const auto* expect = row["expect"].as_table();
    if (!expect) return bad(row, "case '" + c.name + "': [case.expect] is missing");
    auto e = expectation(*expect, c.name);
    if (!e) return std::unexpected(e.error());
    c.expect = std::move(*e);
    return c;
  }

  Result<Expect> expectation(const toml::table& t, const std::string& name) {
    Expect e;
    std::map<std::string, std::vector<std::string>*> lists = {{"reason", &e.reasons},
                                                              {"failure", &e.failures},
                                                              {"warning", &e.warnings},
                                                              {"way_out", &e.ways_out},
                                                              {"no_way_out", &e.no_ways_out}};
    for (const auto& [k, v] : t) {
      std::string key(k.str());
      auto where = [&](const std::string& what) {
        return bad(v, "case '" + name + "': expect." + key + " " + what);
      };
      if (key == "ok" || key == "disable_require") {
        auto b = v.value<bool>();
        if (!b) return where("must be true or false");
        (key == "ok" ? e.ok : e.disable_require) = *b;
      } else if (key == "error" || key == "error_code" || kExactFields.contains(key) ||
                 kSubstringFields.contains(key)) {
        auto s = v.value<std::string>();
        if (!s) return where("must be a string");
        if (key == "error") {
          e.error = *s;
        } else if (key == "error_code") {
          if (*s != "invalid_argument" && *s != "not_found")
            return where("must be \"invalid_argument\" or \"not_found\"");
          e.error_code = *s;
        } else {
          e.fields[key] = *s;
        }
      } else if (lists.contains(key)) {
        auto l = strings(v, "expect." + key);
        if (!l) return std::unexpected(l.error());
        for (const auto& s : *l) {
          if (key == "no_way_out" && !kWayOutKinds.contains(s))
            return where("'" + s + "' is not a way-out kind");
          if (key == "way_out") {
            auto colon = s.find(": ");
            if (colon == std::string::npos || !kWayOutKinds.contains(s.substr(0, colon)))
              return where("'" + s + "' is not 'kind: text' with a way-out kind");
          }
        }
        *lists[key] = std::move(*l);
      } else {
        return where("is not an expectation (unknown key)");
      }
    }
    if (e.error.empty() == !e.ok.has_value())
      return bad(t, "case '" + name + "': expect needs exactly one of 'ok' and 'error'");
    if (!e.error.empty() &&
        (!e.fields.empty() || e.disable_require || !e.reasons.empty() || !e.failures.empty() ||
         !e.ways_out.empty() || !e.warnings.empty() || !e.no_ways_out.empty()))
      return bad(t, "case '" + name + "': an 'error' case expects nothing but the error");
    if (e.ok == false && (!e.fields.empty() || e.disable_require || !e.reasons.empty()))
      return bad(t, "case '" + name + "': a failing plan has no fields or reasons to expect");
    if (e.ok == true && (!e.failures.empty() || !e.ways_out.empty() || !e.no_ways_out.empty()))
      return bad(t, "case '" + name + "': a plan that works has no failures or ways out");
    return e;
  }

  CiteChecker& frozen_cites(const std::string& date) {
    auto it = frozen_.find(date);
    if (it == frozen_.end()) it = frozen_.emplace(date, CiteChecker(frozen_dir(date))).first;
    return it->second;
  }

  std::string source_;
  fs::path fixtures_;
  CiteChecker cites_;
  std::map<std::string, CiteChecker> frozen_;
};

const std::string kCaseFile = std::string(AION_SOURCE_DIR) + "/tests/envcfg/plan_cases.toml";

Result<std::vector<Case>> load_text(std::string_view text) {
  return CaseLoader("plan_cases.toml", ::aion::testing::fixture_path("machines"),
                    fs::path(AION_SOURCE_DIR) / "data/envcfg")
      .load(text);
}

struct CaseFile {
  std::vector<Case> cases;
  std::string error;
};

const CaseFile& case_file() {
  static const CaseFile f = [] {
    CaseFile out;
    std::ifstream in(kCaseFile);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.empty()) {
      out.error = kCaseFile + " is missing or empty";
      return out;
    }
    auto r = load_text(text);
    if (r)
      out.cases = std::move(*r);
    else
      out.error = r.error().message();
    return out;
  }();
  return f;
}

bool contains(const std::vector<std::string>& all, const std::string& part) {
  return std::any_of(all.begin(), all.end(),
                     [&](const std::string& s) { return s.find(part) != std::string::npos; });
}

// The knowledge of a frozen copy of the tables, loaded once per date.
const Knowledge& frozen_kb(const std::string& date) {
  static std::map<std::string, Knowledge> loaded;
  auto it = loaded.find(date);
  if (it == loaded.end()) {
    auto k = load_knowledge(frozen_dir(date));
    if (!k) ADD_FAILURE() << k.error().message();
    it = loaded.emplace(date, k ? std::move(*k) : Knowledge{}).first;
  }
  return it->second;
}

// Test names come from the case names; failures print the case, not its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name << " (" << c.where << ")";
}

class EnvPlanCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(EnvPlanCaseTest, PlanMatchesTheTables) {
  const Case& c = GetParam();
  std::string context = c.where + ": " + c.machine + " / '" + c.request + "'" +
                        (c.python.empty() ? "" : " --python " + c.python) +
                        (c.variant.empty() ? "" : " --variant " + c.variant) + "\n  why: " + c.why;
  for (const auto& cite : c.cites) context += "\n  cites: " + cite;
  SCOPED_TRACE(context);
  const Knowledge& tables = c.tables.empty() ? testing::current_kb() : frozen_kb(c.tables);
  auto described = machine_from_json(
      ::aion::testing::read_fixture("machines/" + c.machine + ".json"), c.machine, tables);
  ASSERT_TRUE(described) << described.error().message();
  const Machine& m = *described;
  auto r = make_plan(tables, m, {c.request, c.python, c.variant});
  const Expect& e = c.expect;
  if (!e.error.empty()) {
    ASSERT_FALSE(r) << "expected an error, got a plan:\n" << plan_to_json(*r);
    EXPECT_NE(r.error().message().find(e.error), std::string::npos) << r.error().message();
    if (e.error_code == "invalid_argument") {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    } else if (e.error_code == "not_found") {
      EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
    }
    return;
  }
  ASSERT_TRUE(r) << r.error().message();
  const Plan& p = *r;
  const std::string dump = plan_to_json(p);
  ASSERT_EQ(p.ok, *e.ok) << dump;
  for (const auto& [key, want] : e.fields) {
    std::string got = plan_field(p, key);
    if (kExactFields.contains(key) || want.empty()) {
      EXPECT_EQ(got, want) << key << "\n" << dump;
    } else {
      EXPECT_NE(got.find(want), std::string::npos) << key << " lacks '" << want << "'\n" << dump;
    }
  }
  if (e.disable_require) {
    EXPECT_EQ(p.image_disable_require, *e.disable_require) << dump;
  }
  std::vector<std::string> reasons;
  for (const auto& x : p.reasons) reasons.push_back(x.text);
  for (const auto& want : e.reasons) EXPECT_TRUE(contains(reasons, want)) << want << "\n" << dump;
  for (const auto& want : e.failures)
    EXPECT_TRUE(contains(p.failures, want)) << want << "\n" << dump;
  for (const auto& want : e.warnings)
    EXPECT_TRUE(contains(p.warnings, want)) << want << "\n" << dump;
  for (const auto& want : e.ways_out) {
    auto colon = want.find(": ");
    std::string kind = want.substr(0, colon), text = want.substr(colon + 2);
    bool found = std::any_of(p.ways_out.begin(), p.ways_out.end(), [&](const WayOut& w) {
      return w.kind == kind && w.text.find(text) != std::string::npos;
    });
    EXPECT_TRUE(found) << want << "\n" << dump;
  }
  for (const auto& kind : e.no_ways_out) {
    bool found = std::any_of(p.ways_out.begin(), p.ways_out.end(),
                             [&](const WayOut& w) { return w.kind == kind; });
    EXPECT_FALSE(found) << "no '" << kind << "' way out expected\n" << dump;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, EnvPlanCaseTest, ::testing::ValuesIn(case_file().cases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(EnvPlanCaseTableTest, LoadsWithAtLeastFortyCases) {
  ASSERT_EQ(case_file().error, "");
  EXPECT_GE(case_file().cases.size(), 40u);
}

// A minimal valid case, for the loader tests to break one piece at a time.
std::string one_case(const std::string& body) {
  return "schema_version = 1\n[[case]]\n" + body + "\n";
}
const std::string kGood =
    "name = \"n\"\nmachine = \"cpu-vm\"\nrequest = \"torch\"\nwhy = \"w\"\n"
    "cites = ['platforms.toml: [[os]] id = \"debian\", version = \"12\"; python3 3.11']\n"
    "expect = {ok = true}";

TEST(EnvPlanCaseTableTest, LoaderAcceptsAWellFormedCase) {
  auto r = load_text(one_case(kGood));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().where, "plan_cases.toml:2");  // the [[case]] line
}

TEST(EnvPlanCaseTableTest, LoaderRefusesTyposInsteadOfIgnoringThem) {
  struct Bad {
    std::string text, message;
  } bad[] = {
      {one_case(kGood + "\nrequets = \"vllm\""), "unknown key 'requets'"},
      {one_case("name = \"n\"\nmachine = \"cpu-vm\"\nrequest = \"torch\"\nwhy = \"w\"\n"
                "expect = {ok = true}"),
       "'cites' is missing"},
      {one_case(std::string(kGood).replace(kGood.find("cpu-vm"), 6, "cpu-mv")),
       "no machine fixture cpu-mv.json"},
      {one_case(
           std::string(kGood).replace(kGood.find("ok = true"), 9, "ok = true, verison = \"2\"")),
       "expect.verison is not an expectation"},
      {one_case(std::string(kGood).replace(kGood.find("\"12\""), 4, "\"13\"")),
       "no [[os]] row with those values"},
      {one_case(std::string(kGood).replace(kGood.find("platforms.toml"), 14, "platform.toml")),
       "not a table in data/envcfg"},
      {one_case(std::string(kGood).replace(kGood.find("ok = true"), 9,
                                           "ok = false, way_out = [\"upgrade\"]")),
       "not 'kind: text'"},
      {one_case(std::string(kGood).replace(kGood.find("{ok = true}"), 11, "{}")),
       "exactly one of 'ok' and 'error'"},
      {one_case(kGood) + "[[case]]\n" + kGood, "named twice"},
  };
  for (const auto& b : bad) {
    auto r = load_text(b.text);
    ASSERT_FALSE(r) << b.text;
    EXPECT_NE(r.error().message().find(b.message), std::string::npos)
        << b.message << " <- " << r.error().message();
    EXPECT_NE(r.error().message().find("plan_cases.toml:"), std::string::npos)
        << r.error().message();
  }
}

}  // namespace
}  // namespace aion::envcfg
