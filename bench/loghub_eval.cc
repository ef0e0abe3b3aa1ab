// loghub_eval: aion's log template miner (aion/logs/miner.h) on Loghub-2k, the log parsing
// benchmark (Zhu et al., ICSE-SEIP 2019), scored against the corrected templates of
// Loghub-2.0 (Jiang et al., ISSTA 2024; Khan et al., ICSE 2022).
// Per data set: split each raw line's header with the set's format, mine the Content online
// in file order, then score each line's final template against <Name>_2k.log_structured.csv
// with Loghub-2.0's four metrics:
//   GA  grouping accuracy: share of lines whose group holds exactly the lines of one true
//       template;
//   PA  parsing accuracy: share of lines whose template text equals the true one;
//   FGA F1 of template-level grouping: a found group is right when it holds exactly the lines
//       of one true template (precision over found groups, recall over true templates);
//   FTA F1 of template-level accuracy: a group that is right and whose text is the true one.
// The only per-data-set setting is the header format (bench/loghub_settings.toml). The sets
// are split into two fixed halves there; --cv chooses the miner's global knobs on one half
// by a grid search (best mean GA, then PA), reports them on the other half, and the same the
// other way round: the held-out halves are the figures to quote. It also scores the shipped
// defaults on all twelve, and writes bench/results/loghub.json.
//   loghub_eval [--loghub DIR] [--settings FILE] [--masks FILE] [--only A,B,...|--half A|B]
//               [--out FILE] [--min-ga X] [--min-pa X] [--errors N] [--set knob=value ...] [--cv]
// --min-ga / --min-pa make the exit status 3 when the average GA / PA is below X; with --cv
// they check the mean of the held-out halves (the CI smoke test).
// --errors N prints up to N wrongly grouped true templates per data set with their groups;
// --pa-errors prints every template whose text differs from the truth.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/config.h"
#include "aion/core/json.h"
#include "aion/core/version.h"
#include "aion/logs/header.h"
#include "aion/logs/masks.h"
#include "aion/logs/miner.h"

namespace {

namespace fs = std::filesystem;
using aion::logs::HeaderFormat;
using aion::logs::MaskSet;
using aion::logs::MinerOptions;
using aion::logs::TemplateMiner;

// Drain's GA on Loghub-2k as published (Zhu et al. 2019, original templates); see the data
// set's README. For comparison only.
const std::map<std::string, double> kDrainGa = {
    {"HDFS", 0.998},      {"Hadoop", 0.948}, {"Spark", 0.920},   {"Zookeeper", 0.967},
    {"OpenStack", 0.733}, {"BGL", 0.963},    {"HPC", 0.887},     {"Thunderbird", 0.955},
    {"Windows", 0.997},   {"Linux", 0.690},  {"Mac", 0.787},     {"Android", 0.911},
    {"HealthApp", 0.780}, {"Apache", 1.000}, {"OpenSSH", 0.788}, {"Proxifier", 0.527}};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One CSV record (RFC 4180 quoting) starting at `pos`; advances `pos` past its line end.
std::vector<std::string> csv_record(const std::string& s, std::size_t& pos) {
  std::vector<std::string> out(1);
  bool quoted = false;
  while (pos < s.size()) {
    char c = s[pos++];
    if (quoted) {
      if (c == '"' && pos < s.size() && s[pos] == '"') {
        out.back() += '"';
        ++pos;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    std::string line = s.substr(i, j - i);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    i = j + 1;
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

struct Settings {
  std::string format;
  std::string half;  // "A" or "B": the fixed cross-validation split
};

struct Score {
  std::string name;
  std::size_t lines = 0;
  std::size_t templates_true = 0;
  std::size_t templates_found = 0;
  double ga = 0, pa = 0, fga = 0, fta = 0;
  double seconds = 0;
};

// The miner's global knobs and the values --cv searches. Every data set is mined with the
// same values; nothing here is per data set.
struct Knob {
  const char* name;
  std::vector<double> grid;
};
const std::vector<Knob> kKnobs = {
    {"similarity", {0.4, 0.5, 0.6, 0.7, 0.8}},
    {"min_frequent", {2, 3, 5}},
    {"slot_words", {2, 3, 4, 6}},
    {"first_token", {0, 1}},
};

bool set_knob(MinerOptions& o, const std::string& key, double v) {
  if (key == "similarity") {
    o.similarity = v;
  } else if (key == "min_frequent") {
    o.min_frequent = static_cast<std::uint64_t>(v);
  } else if (key == "slot_words") {
    o.slot_words = static_cast<std::size_t>(v);
  } else if (key == "first_token") {
    o.first_token = v != 0;
  } else {
    return false;
  }
  return true;
}

aion::Json knobs_json(const MinerOptions& o) {
  return {{"similarity", o.similarity},
          {"min_frequent", o.min_frequent},
          {"slot_words", o.slot_words},
          {"first_token", o.first_token}};
}

struct Args {
  fs::path loghub = fs::path(AION_SOURCE_DIR) / ".." / "shared" / "data" / "loghub-2k";
  fs::path settings = fs::path(AION_SOURCE_DIR) / "bench" / "loghub_settings.toml";
  fs::path masks = fs::path(AION_SOURCE_DIR) / "data" / "logs" / "masks.toml";
  fs::path out = fs::path(AION_BENCH_RESULTS_DIR) / "loghub.json";
  std::set<std::string> only;
  std::string half;
  double min_ga = -1;
  double min_pa = -1;
  int errors = 0;
  bool pa_errors = false;
  bool cv = false;
  MinerOptions options;
};

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loghub_eval: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--loghub") {
      a.loghub = next();
    } else if (k == "--settings") {
      a.settings = next();
    } else if (k == "--masks") {
      a.masks = next();
    } else if (k == "--out") {
      a.out = next();
    } else if (k == "--min-ga") {
      a.min_ga = std::atof(next().c_str());
    } else if (k == "--errors") {
      a.errors = std::atoi(next().c_str());
    } else if (k == "--min-pa") {
      a.min_pa = std::atof(next().c_str());
    } else if (k == "--pa-errors") {
      a.pa_errors = true;
    } else if (k == "--cv") {
      a.cv = true;
    } else if (k == "--half") {
      a.half = next();
      if (a.half != "A" && a.half != "B") {
        std::fprintf(stderr, "loghub_eval: --half takes A or B\n");
        return false;
      }
    } else if (k == "--only") {
      std::stringstream ss(next());
      for (std::string n; std::getline(ss, n, ',');) a.only.insert(n);
    } else if (k == "--set") {
      std::string kv = next();
      auto eq = kv.find('=');
      std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      double v = value == "true" ? 1 : value == "false" ? 0 : std::atof(value.c_str());
      if (!set_knob(a.options, key, v)) {
        std::fprintf(stderr,
                     "loghub_eval: unknown knob '%s' (similarity, min_frequent, slot_words, "
                     "first_token)\n",
                     key.c_str());
        return false;
      }
    } else {
      std::fprintf(stderr,
                   "usage: loghub_eval [--loghub DIR] [--settings FILE] [--masks FILE] "
                   "[--only A,B|--half A|B] [--out FILE] [--min-ga X] [--min-pa X] [--errors N] "
                   "[--pa-errors] "
                   "[--set knob=value] [--cv]\n");
      return false;
    }
  }
  return true;
}

std::map<std::string, Settings> load_settings(const fs::path& file) {
  aion::ConfigSchema element;
  element.string("name", "", "data set").string("format", "", "header").string("half", "", "A|B");
  aion::ConfigSchema schema;
  schema.integer("schema_version", 1, "", 1, 1).table_array("dataset", element, "");
  auto cfg = aion::Config::load(file, schema);
  if (!cfg) {
    std::fprintf(stderr, "loghub_eval: %s\n", cfg.error().message().c_str());
    std::exit(2);
  }
  std::map<std::string, Settings> out;
  for (const auto& t : cfg->get_tables("dataset")) {
    std::string half = t.get_string("half");
    if (half != "A" && half != "B") {
      std::fprintf(stderr, "loghub_eval: %s: data set %s: half must be \"A\" or \"B\"\n",
                   file.string().c_str(), t.get_string("name").c_str());
      std::exit(2);
    }
    out[t.get_string("name")] = {t.get_string("format"), half};
  }
  return out;
}

// One data set's raw lines and true templates, read once.
struct Data {
  std::string name;
  std::string half;
  std::optional<HeaderFormat> format;
  std::vector<std::string> raw;
  std::vector<std::string> truth;
};

Data load_data(const std::string& name, const Settings& st, const fs::path& dir) {
  Data d;
  d.name = name;
  d.half = st.half;
  auto format = HeaderFormat::parse(st.format);
  if (!format) {
    std::fprintf(stderr, "loghub_eval: %s: %s\n", name.c_str(), format.error().message().c_str());
    std::exit(2);
  }
  d.format = std::move(*format);
  std::string csv = read_file(dir / (name + "_2k.log_structured.csv"));
  std::size_t pos = 0;
  auto header = csv_record(csv, pos);
  auto it = std::find(header.begin(), header.end(), "EventTemplate");
  if (it == header.end()) {
    std::fprintf(stderr, "loghub_eval: %s: no column EventTemplate\n", name.c_str());
    std::exit(2);
  }
  const auto tcol = static_cast<std::size_t>(it - header.begin());
  while (pos < csv.size()) {
    auto r = csv_record(csv, pos);
    if (r.size() <= tcol) continue;
    d.truth.push_back(trim(r[tcol]));
  }
  d.raw = split_lines(read_file(dir / (name + "_2k.log")));
  while (!d.raw.empty() && d.raw.back().empty()) d.raw.pop_back();
  if (d.raw.size() != d.truth.size()) {
    std::fprintf(stderr, "loghub_eval: %s: %zu log lines but %zu labelled rows\n", name.c_str(),
                 d.raw.size(), d.truth.size());
    std::exit(2);
  }
  return d;
}

double f1(double p, double r) {
  return p + r == 0 ? 0 : 2 * p * r / (p + r);
}

Score evaluate(const Data& d, const MaskSet& masks, const MinerOptions& options, int errors,
               bool pa_errors) {
  Score score;
  score.name = d.name;
  const auto& raw = d.raw;
  const auto& truth = d.truth;
  TemplateMiner miner(masks.combined(MaskSet()), options);
  std::vector<std::uint64_t> ids(raw.size());
  std::size_t unsplit = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto f = d.format->split(raw[i]);
    if (!f) ++unsplit;
    ids[i] = miner.add(f ? f->content : raw[i]).template_id;
  }
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (unsplit && errors > 0)
    std::fprintf(stderr, "%s: %zu lines did not match the header format\n", d.name.c_str(),
                 unsplit);

  for (auto& id : ids) id = miner.resolve(id);
  std::map<std::uint64_t, std::string> text;
  for (const auto& t : miner.templates()) text[t.id] = t.text;
  std::map<std::uint64_t, std::vector<std::size_t>> found;
  std::map<std::string, std::vector<std::size_t>> expected;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    found[ids[i]].push_back(i);
    expected[truth[i]].push_back(i);
  }
  std::size_t grouped = 0, parsed = 0, right_groups = 0, right_templates = 0;
  for (const auto& [id, members] : found) {
    const auto& g = expected[truth[members[0]]];
    if (g != members) continue;
    grouped += members.size();
    ++right_groups;
    if (text[id] == truth[members[0]]) ++right_templates;
  }
  for (std::size_t i = 0; i < raw.size(); ++i) parsed += text[ids[i]] == truth[i];
  score.lines = raw.size();
  score.templates_true = expected.size();
  score.templates_found = found.size();
  const auto n = static_cast<double>(raw.size());
  const auto nf = static_cast<double>(found.size()), nt = static_cast<double>(expected.size());
  score.ga = static_cast<double>(grouped) / n;
  score.pa = static_cast<double>(parsed) / n;
  score.fga = f1(static_cast<double>(right_groups) / nf, static_cast<double>(right_groups) / nt);
  score.fta =
      f1(static_cast<double>(right_templates) / nf, static_cast<double>(right_templates) / nt);

  if (pa_errors) {
    std::map<std::pair<std::string, std::string>, int> wrong;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (text[ids[i]] != truth[i]) ++wrong[{text[ids[i]], truth[i]}];
    }
    for (const auto& [k, count] : wrong) {
      std::printf("  PA[%s] %d lines\n    ours:  %s\n    truth: %s\n", d.name.c_str(), count,
                  k.first.c_str(), k.second.c_str());
    }
  }
  int shown = 0;
  for (const auto& [tmpl, members] : expected) {
    if (shown >= errors) break;
    std::set<std::uint64_t> got;
    for (auto i : members) got.insert(ids[i]);
    bool ok = got.size() == 1 && found[*got.begin()] == members;
    if (ok) continue;
    ++shown;
    std::printf("  [%s] true (%zu lines): %s\n", d.name.c_str(), members.size(), tmpl.c_str());
    for (auto id : got) {
      std::size_t inside = 0;
      for (auto i : found[id]) inside += truth[i] == tmpl;
      std::printf("      got #%llu (%zu of %zu lines): %s\n", static_cast<unsigned long long>(id),
                  inside, found[id].size(), text[id].c_str());
    }
  }
  return score;
}

struct Summary {
  double ga = 0, pa = 0, fga = 0, fta = 0;
  double lines_per_second = 0;
};

Summary summarize(const std::vector<Score>& scores) {
  Summary m;
  double seconds = 0, lines = 0;
  for (const auto& s : scores) {
    m.ga += s.ga;
    m.pa += s.pa;
    m.fga += s.fga;
    m.fta += s.fta;
    seconds += s.seconds;
    lines += static_cast<double>(s.lines);
  }
  const auto n = static_cast<double>(std::max<std::size_t>(1, scores.size()));
  m.ga /= n;
  m.pa /= n;
  m.fga /= n;
  m.fta /= n;
  m.lines_per_second = seconds > 0 ? lines / seconds : 0;
  return m;
}

std::vector<Score> run(const std::vector<Data>& sets, const MaskSet& masks,
                       const MinerOptions& options, const std::string& half, int errors = 0,
                       bool pa_errors = false) {
  std::vector<Score> out;
  for (const auto& d : sets) {
    if (half.empty() || d.half == half)
      out.push_back(evaluate(d, masks, options, errors, pa_errors));
  }
  return out;
}

void print_table(const std::vector<Score>& scores) {
  std::printf("%-10s %6s %6s %6s %6s %6s %6s %6s %8s\n", "dataset", "GA", "PA", "FGA", "FTA",
              "Drain", "true", "found", "klines/s");
  for (const auto& s : scores) {
    auto d = kDrainGa.find(s.name);
    std::string dtext = d == kDrainGa.end() ? "-" : std::to_string(d->second).substr(0, 5);
    std::printf("%-10s %6.3f %6.3f %6.3f %6.3f %6s %6zu %6zu %8.0f\n", s.name.c_str(), s.ga, s.pa,
                s.fga, s.fta, dtext.c_str(), s.templates_true, s.templates_found,
                static_cast<double>(s.lines) / s.seconds / 1000);
  }
  Summary m = summarize(scores);
  std::printf("%-10s %6.3f %6.3f %6.3f %6.3f\n", "average", m.ga, m.pa, m.fga, m.fta);
}

aion::Json scores_json(const std::vector<Score>& scores) {
  aion::Json per = aion::Json::array();
  for (const auto& s : scores) {
    aion::Json j{{"dataset", s.name},
                 {"ga", s.ga},
                 {"pa", s.pa},
                 {"fga", s.fga},
                 {"fta", s.fta},
                 {"lines", s.lines},
                 {"templates_true", s.templates_true},
                 {"templates_found", s.templates_found}};
    if (auto d = kDrainGa.find(s.name); d != kDrainGa.end()) j["drain_ga_published"] = d->second;
    per.push_back(std::move(j));
  }
  Summary m = summarize(scores);
  return {{"datasets", std::move(per)},
          {"average_ga", m.ga},
          {"average_pa", m.pa},
          {"average_fga", m.fga},
          {"average_fta", m.fta}};
}

// Every combination of the knobs' grid values, on top of `base`.
std::vector<MinerOptions> grid(const MinerOptions& base) {
  std::vector<MinerOptions> out{base};
  for (const auto& k : kKnobs) {
    std::vector<MinerOptions> next;
    for (const auto& o : out) {
      for (double v : k.grid) {
        MinerOptions x = o;
        set_knob(x, k.name, v);
        next.push_back(x);
      }
    }
    out = std::move(next);
  }
  return out;
}

// The grid point with the best mean GA on `half` ("" for every set), then PA, then the
// earlier point; its scores go to `best_m`.
std::size_t best_point(const std::vector<Data>& sets, const MaskSet& masks,
                       const std::vector<MinerOptions>& points, const std::string& half,
                       Summary& best_m) {
  std::size_t best = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    Summary m = summarize(run(sets, masks, points[i], half));
    if (i == 0 || m.ga > best_m.ga + 1e-12 ||
        (std::abs(m.ga - best_m.ga) <= 1e-12 && m.pa > best_m.pa + 1e-12)) {
      best = i;
      best_m = m;
    }
  }
  return best;
}

// Cross-validation: for each half, the grid point with the best mean GA there (then PA, then
// the earlier point), scored on the other half.
aion::Json cross_validate(const std::vector<Data>& sets, const MaskSet& masks,
                          const MinerOptions& base) {
  auto points = grid(base);
  std::printf("cross-validation: %zu grid points per half\n", points.size());
  aion::Json folds = aion::Json::array();
  double held_ga = 0, held_pa = 0, held_fga = 0, held_fta = 0;
  for (const std::string tune : {"A", "B"}) {
    const std::string test = tune == "A" ? "B" : "A";
    Summary best_m;
    const std::size_t best = best_point(sets, masks, points, tune, best_m);
    auto held = run(sets, masks, points[best], test);
    Summary hm = summarize(held);
    std::printf(
        "\nknobs chosen on half %s (GA %.3f there): similarity=%.2f min_frequent=%llu "
        "slot_words=%zu first_token=%d; held-out half %s:\n",
        tune.c_str(), best_m.ga, points[best].similarity,
        static_cast<unsigned long long>(points[best].min_frequent), points[best].slot_words,
        points[best].first_token ? 1 : 0, test.c_str());
    print_table(held);
    held_ga += hm.ga / 2;
    held_pa += hm.pa / 2;
    held_fga += hm.fga / 2;
    held_fta += hm.fta / 2;
    aion::Json fold = scores_json(held);
    fold["tuned_on"] = tune;
    fold["tuned_ga"] = best_m.ga;
    fold["held_out"] = test;
    fold["knobs"] = knobs_json(points[best]);
    folds.push_back(std::move(fold));
  }
  std::printf(
      "\ncross-validated (mean of the two held-out halves): GA %.3f PA %.3f FGA %.3f "
      "FTA %.3f\n",
      held_ga, held_pa, held_fga, held_fta);
  // What a product ships: the same search on all twelve (MinerOptions' defaults should be it).
  Summary all_m;
  const std::size_t best = best_point(sets, masks, points, "", all_m);
  const MinerOptions defaults;
  std::printf(
      "knobs chosen on all twelve: similarity=%.2f min_frequent=%llu slot_words=%zu "
      "first_token=%d (MinerOptions' defaults: %.2f %llu %zu %d)\n",
      points[best].similarity, static_cast<unsigned long long>(points[best].min_frequent),
      points[best].slot_words, points[best].first_token ? 1 : 0, defaults.similarity,
      static_cast<unsigned long long>(defaults.min_frequent), defaults.slot_words,
      defaults.first_token ? 1 : 0);
  aion::Json grid_json = aion::Json::object();
  for (const auto& k : kKnobs) grid_json[k.name] = k.grid;
  return {{"method",
           "knobs chosen by grid search on one half (best mean GA, then PA), scored on the "
           "other half, both ways round; the only per-set setting is the header format"},
          {"grid", std::move(grid_json)},
          {"folds", std::move(folds)},
          {"heldout_ga", held_ga},
          {"heldout_pa", held_pa},
          {"heldout_fga", held_fga},
          {"heldout_fta", held_fta},
          {"chosen_on_all_sets", knobs_json(points[best])}};
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, a)) return 2;
  auto masks = MaskSet::load(a.masks);
  if (!masks) {
    std::fprintf(stderr, "loghub_eval: %s\n", masks.error().message().c_str());
    return 2;
  }
  std::vector<Data> sets;
  for (const auto& [name, st] : load_settings(a.settings)) {
    if (!a.only.empty() && !a.only.count(name)) continue;
    if (!a.half.empty() && st.half != a.half) continue;
    if (!fs::exists(a.loghub / name)) {
      std::fprintf(stderr, "loghub_eval: %s not found under %s\n", name.c_str(),
                   a.loghub.string().c_str());
      return 2;
    }
    sets.push_back(load_data(name, st, a.loghub / name));
  }
  if (sets.empty()) {
    std::fprintf(stderr, "loghub_eval: no data set selected\n");
    return 2;
  }
  aion::Json out{{"benchmark", "loghub-2k"},
                 {"ground_truth", "Loghub-2.0 corrected templates"},
                 {"aion_version", aion::kVersion}};
  double checked_ga = -1, checked_pa = -1;
  if (a.cv) {
    out["cross_validation"] = cross_validate(sets, *masks, a.options);
    checked_ga = out["cross_validation"]["heldout_ga"].get<double>();
    checked_pa = out["cross_validation"]["heldout_pa"].get<double>();
  }

  auto scores = run(sets, *masks, a.options, "", a.errors, a.pa_errors);
  if (a.cv) std::printf("\nshipped defaults on every set (tuning and test data mixed):\n");
  print_table(scores);
  Summary m = summarize(scores);
  std::printf("throughput: %.0f lines/s (masking and mining, one thread)\n", m.lines_per_second);
  aion::Json all = scores_json(scores);
  all["knobs"] = knobs_json(a.options);
  out[a.cv ? "all_sets_shipped_defaults" : "results"] = std::move(all);
  out["lines_per_second"] = m.lines_per_second;
  fs::create_directories(a.out.parent_path());
  std::ofstream(a.out) << out.dump(2) << "\n";
  if (!a.cv) {
    checked_ga = m.ga;
    checked_pa = m.pa;
  }
  const char* what = a.cv ? "held-out" : "average";
  if (a.min_ga >= 0 && checked_ga < a.min_ga) {
    std::fprintf(stderr, "loghub_eval: %s GA %.3f is below --min-ga %.3f\n", what, checked_ga,
                 a.min_ga);
    return 3;
  }
  if (a.min_pa >= 0 && checked_pa < a.min_pa) {
    std::fprintf(stderr, "loghub_eval: %s PA %.3f is below --min-pa %.3f\n", what, checked_pa,
                 a.min_pa);
    return 3;
  }
  return 0;
}
