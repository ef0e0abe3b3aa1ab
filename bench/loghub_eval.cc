// loghub_eval: aion's log template miner (aion/logs/miner.h) on Loghub-2k, the log parsing
// benchmark (Zhu et al., ICSE-SEIP 2019; templates as revised in Loghub, 2023).
// Per data set: split each raw line's header with the set's format, mine the Content online
// in file order, then score each line's final template against <Name>_2k.log_structured.csv:
// grouping accuracy (GA: the line's group holds exactly the lines of one true template) and
// parsing accuracy (PA: the template text equals the true one). Prints GA and PA beside
// Drain's published GA, the averages and the throughput, and writes bench/results/loghub.json.
//   loghub_eval [--loghub DIR] [--settings FILE] [--masks FILE] [--only A,B,...]
//               [--out FILE] [--min-ga X] [--errors N] [--set knob=value ...]
// --min-ga makes the exit status 3 when the average GA is below X (the CI smoke test).
// --errors N prints up to N wrongly grouped true templates per data set with their groups.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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
  std::vector<std::string> masks;
};

struct Score {
  std::string name;
  std::size_t lines = 0;
  std::size_t templates_true = 0;
  std::size_t templates_found = 0;
  double ga = 0, pa = 0;
  double seconds = 0;
};

struct Args {
  fs::path loghub = fs::path(AION_SOURCE_DIR) / ".." / "shared" / "data" / "loghub-2k";
  fs::path settings = fs::path(AION_SOURCE_DIR) / "bench" / "loghub_settings.toml";
  fs::path masks = fs::path(AION_SOURCE_DIR) / "data" / "logs" / "masks.toml";
  fs::path out = fs::path(AION_BENCH_RESULTS_DIR) / "loghub.json";
  std::set<std::string> only;
  double min_ga = -1;
  int errors = 0;
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
    } else if (k == "--only") {
      std::stringstream ss(next());
      for (std::string n; std::getline(ss, n, ',');) a.only.insert(n);
    } else if (k == "--set") {
      std::string kv = next();
      auto eq = kv.find('=');
      std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "similarity") {
        a.options.similarity = std::atof(value.c_str());
      } else if (key == "slot_words") {
        a.options.slot_words = std::strtoull(value.c_str(), nullptr, 10);
      } else if (key == "first_token") {
        a.options.first_token = value == "1" || value == "true";
      } else if (key == "min_frequent") {
        a.options.min_frequent = std::strtoull(value.c_str(), nullptr, 10);
      } else {
        std::fprintf(stderr, "loghub_eval: unknown knob '%s' (similarity, min_frequent)\n",
                     key.c_str());
        return false;
      }
    } else {
      std::fprintf(stderr,
                   "usage: loghub_eval [--loghub DIR] [--settings FILE] [--masks FILE] "
                   "[--only A,B] [--out FILE] [--min-ga X] [--errors N] [--set knob=value]\n");
      return false;
    }
  }
  return true;
}

std::map<std::string, Settings> load_settings(const fs::path& file) {
  aion::ConfigSchema element;
  element.string("name", "", "data set").string("format", "", "header").strings("masks", {}, "");
  aion::ConfigSchema schema;
  schema.integer("schema_version", 1, "", 1, 1).table_array("dataset", element, "");
  auto cfg = aion::Config::load(file, schema);
  if (!cfg) {
    std::fprintf(stderr, "loghub_eval: %s\n", cfg.error().message().c_str());
    std::exit(2);
  }
  std::map<std::string, Settings> out;
  for (const auto& t : cfg->get_tables("dataset")) {
    out[t.get_string("name")] = {t.get_string("format"), t.get_strings("masks")};
  }
  return out;
}

Score evaluate(const std::string& name, const Settings& st, const MaskSet& base, const Args& a) {
  Score score;
  score.name = name;
  fs::path dir = a.loghub / name;
  auto format = HeaderFormat::parse(st.format);
  if (!format) {
    std::fprintf(stderr, "loghub_eval: %s: %s\n", name.c_str(), format.error().message().c_str());
    std::exit(2);
  }
  std::vector<aion::logs::MaskRule> extra;
  for (std::size_t i = 0; i < st.masks.size(); ++i) {
    extra.push_back({name + "-" + std::to_string(i), st.masks[i], "<*>"});
  }
  auto extra_set = MaskSet::from_rules(extra, "bench/loghub_settings.toml: " + name);
  if (!extra_set) {
    std::fprintf(stderr, "loghub_eval: %s\n", extra_set.error().message().c_str());
    std::exit(2);
  }
  // Ground truth: LineId -> EventTemplate.
  std::string csv = read_file(dir / (name + "_2k.log_structured.csv"));
  std::size_t pos = 0;
  auto header = csv_record(csv, pos);
  auto col = [&](const std::string& c) {
    auto it = std::find(header.begin(), header.end(), c);
    if (it == header.end()) {
      std::fprintf(stderr, "loghub_eval: %s: no column %s\n", name.c_str(), c.c_str());
      std::exit(2);
    }
    return static_cast<std::size_t>(it - header.begin());
  };
  std::size_t tcol = col("EventTemplate"), ccol = col("Content");
  std::vector<std::string> truth, truth_content;
  while (pos < csv.size()) {
    auto r = csv_record(csv, pos);
    if (r.size() <= std::max(tcol, ccol)) continue;
    truth.push_back(trim(r[tcol]));
    truth_content.push_back(r[ccol]);
  }
  std::vector<std::string> raw = split_lines(read_file(dir / (name + "_2k.log")));
  while (!raw.empty() && raw.back().empty()) raw.pop_back();
  if (raw.size() != truth.size()) {
    std::fprintf(stderr, "loghub_eval: %s: %zu log lines but %zu labelled rows\n", name.c_str(),
                 raw.size(), truth.size());
    std::exit(2);
  }

  TemplateMiner miner(base.combined(*extra_set), a.options);
  std::vector<std::uint64_t> ids(raw.size());
  std::size_t unsplit = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto f = format->split(raw[i]);
    if (!f) ++unsplit;
    ids[i] = miner.add(f ? f->content : raw[i]).template_id;
  }
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (unsplit)
    std::fprintf(stderr, "%s: %zu lines did not match the header format\n", name.c_str(), unsplit);

  for (auto& id : ids) id = miner.resolve(id);
  std::map<std::uint64_t, std::string> text;
  for (const auto& t : miner.templates()) text[t.id] = t.text;
  std::map<std::uint64_t, std::vector<std::size_t>> found;
  std::map<std::string, std::vector<std::size_t>> expected;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    found[ids[i]].push_back(i);
    expected[truth[i]].push_back(i);
  }
  std::size_t grouped = 0, parsed = 0;
  for (const auto& [id, members] : found) {
    const auto& g = expected[truth[members[0]]];
    if (g == members) grouped += members.size();
  }
  for (std::size_t i = 0; i < raw.size(); ++i) parsed += text[ids[i]] == truth[i];
  score.lines = raw.size();
  score.templates_true = expected.size();
  score.templates_found = found.size();
  score.ga = static_cast<double>(grouped) / static_cast<double>(raw.size());
  score.pa = static_cast<double>(parsed) / static_cast<double>(raw.size());

  int shown = 0;
  for (const auto& [tmpl, members] : expected) {
    if (shown >= a.errors) break;
    std::set<std::uint64_t> got;
    for (auto i : members) got.insert(ids[i]);
    bool ok = got.size() == 1 && found[*got.begin()] == members;
    if (ok) continue;
    ++shown;
    std::printf("  [%s] true (%zu lines): %s\n", name.c_str(), members.size(), tmpl.c_str());
    for (auto id : got) {
      std::size_t inside = 0;
      for (auto i : found[id]) inside += truth[i] == tmpl;
      std::printf("      got #%llu (%zu of %zu lines): %s\n", static_cast<unsigned long long>(id),
                  inside, found[id].size(), text[id].c_str());
    }
  }
  return score;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, a)) return 2;
  auto base = MaskSet::load(a.masks);
  if (!base) {
    std::fprintf(stderr, "loghub_eval: %s\n", base.error().message().c_str());
    return 2;
  }
  auto settings = load_settings(a.settings);
  std::vector<Score> scores;
  for (const auto& [name, st] : settings) {
    if (!a.only.empty() && !a.only.count(name)) continue;
    if (!fs::exists(a.loghub / name)) {
      std::fprintf(stderr, "loghub_eval: %s not found under %s\n", name.c_str(),
                   a.loghub.string().c_str());
      return 2;
    }
    scores.push_back(evaluate(name, st, *base, a));
  }
  if (scores.empty()) {
    std::fprintf(stderr, "loghub_eval: no data set selected\n");
    return 2;
  }
  std::printf("%-10s %6s %6s %6s %6s %6s %6s\n", "dataset", "GA", "PA", "Drain", "true", "found",
              "klines/s");
  double ga = 0, pa = 0, drain = 0, seconds = 0;
  std::size_t lines = 0, with_drain = 0;
  aion::Json per = aion::Json::array();
  for (const auto& s : scores) {
    auto d = kDrainGa.find(s.name);
    std::string dtext = d == kDrainGa.end() ? "-" : std::to_string(d->second).substr(0, 5);
    std::printf("%-10s %6.3f %6.3f %6s %6zu %6zu %8.0f\n", s.name.c_str(), s.ga, s.pa,
                dtext.c_str(), s.templates_true, s.templates_found, s.lines / s.seconds / 1000);
    ga += s.ga;
    pa += s.pa;
    if (d != kDrainGa.end()) {
      drain += d->second;
      ++with_drain;
    }
    seconds += s.seconds;
    lines += s.lines;
    aion::Json j{{"dataset", s.name},
                 {"ga", s.ga},
                 {"pa", s.pa},
                 {"lines", s.lines},
                 {"templates_true", s.templates_true},
                 {"templates_found", s.templates_found}};
    if (d != kDrainGa.end()) j["drain_ga_published"] = d->second;
    per.push_back(std::move(j));
  }
  double n = static_cast<double>(scores.size());
  double rate = static_cast<double>(lines) / seconds;
  std::printf("%-10s %6.3f %6.3f %6.3f\n", "average", ga / n, pa / n,
              with_drain ? drain / static_cast<double>(with_drain) : 0.0);
  std::printf("throughput: %.0f lines/s (masking and mining, one thread)\n", rate);
  aion::Json out{
      {"benchmark", "loghub-2k"},
      {"aion_version", aion::kVersion},
      {"datasets", std::move(per)},
      {"average_ga", ga / n},
      {"average_pa", pa / n},
      {"drain_average_ga_published_same_sets",
       with_drain ? drain / static_cast<double>(with_drain) : 0.0},
      {"lines_per_second", rate},
      {"options",
       {{"similarity", a.options.similarity}, {"min_frequent", a.options.min_frequent}}}};
  fs::create_directories(a.out.parent_path());
  std::ofstream(a.out) << out.dump(2) << "\n";
  if (a.min_ga >= 0 && ga / n < a.min_ga) {
    std::fprintf(stderr, "loghub_eval: average GA %.3f is below --min-ga %.3f\n", ga / n, a.min_ga);
    return 3;
  }
  return 0;
}
