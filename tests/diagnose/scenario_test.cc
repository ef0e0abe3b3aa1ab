// Hand-written fault scenarios (tests/fixtures/incidents/<name>/, format in its README.md): each
// is fed through the catalog, the matcher and the engine the way aiond feeds them (kernel
// lines as kmsg/journal lines, job output as job:ID lines, telemetry anomalies, NVML and job
// events), in time order, and the incidents are checked against the scenario's expect.toml.
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/logtime.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

namespace fs = std::filesystem;
using testing::shipped;

fs::path scenarios_dir() {
  return testing::fixture_path("incidents");
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(scenarios_dir(), ec))
    if (e.is_directory() && fs::exists(e.path() / "expect.toml"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// One input of a scenario, in the engine's terms.
struct Input {
  std::int64_t time_ms = 0;
  bool event = false;
  std::string source;                // line: kmsg, journal, job:ID
  std::string text;                  // line text or event message
  std::string kind, severity, data;  // event
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t iso_ms(const std::string& text) {
  auto t = parse_log_time(text, 2026, Clock::Wall{});
  EXPECT_TRUE(t) << "not an RFC 3339 time: " << text;
  return t ? to_unix_ms(*t) : 0;
}

// Calls fn(line number, time in ms, the text after the timestamp) for each non-empty line of
// a file whose lines start with an RFC 3339 time and a space.
template <typename Fn>
void for_each_timed_line(const fs::path& file, Fn fn) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto t = parse_log_time(line, 2026, Clock::Wall{});
    ASSERT_TRUE(t) << file << ":" << n << ": no timestamp";
    const std::size_t sp = line.find(' ');
    fn(n, to_unix_ms(*t), sp == std::string::npos ? std::string() : line.substr(sp + 1));
  }
}

// "2026-11-30T10:12:41.123+00:00 dgx01 kernel: MESSAGE" (journalctl -o short-iso[-precise]):
// kernel lines reach the engine as kmsg records' messages, the others as journal messages.
void load_journal(const fs::path& file, std::vector<Input>& out) {
  for_each_timed_line(file, [&](int n, std::int64_t ms, const std::string& rest) {
    const std::size_t ident = rest.find(' ');
    const std::size_t colon = ident == std::string::npos ? ident : rest.find(": ", ident + 1);
    ASSERT_NE(colon, std::string::npos) << file << ":" << n << ": not 'TIME HOST IDENT: MESSAGE'";
    const std::string who = rest.substr(ident + 1, colon - ident - 1);
    Input i;
    i.time_ms = ms;
    i.source = who == "kernel" ? "kmsg" : "journal";
    i.text = rest.substr(colon + 2);
    out.push_back(std::move(i));
  });
}

// "2026-11-30T10:12:43+00:00 TEXT": a job's output, one timestamped line each.
void load_job_log(const fs::path& file, const std::string& job, std::vector<Input>& out) {
  for_each_timed_line(file, [&](int, std::int64_t ms, const std::string& rest) {
    Input i;
    i.time_ms = ms;
    i.source = "job:" + job;
    i.text = rest;
    out.push_back(std::move(i));
  });
}

// Telemetry anomaly events, as Telemetry::detect() emits them.
void load_metrics(const fs::path& file, std::vector<Input>& out) {
  Json all = Json::parse(read_file(file), nullptr, false);
  ASSERT_TRUE(all.is_array()) << file << ": expected a JSON array";
  for (const auto& m : all) {
    std::string key = m.at("series").get<std::string>();
    std::vector<std::pair<std::string, std::string>> labels;
    const Json given = m.value("labels", Json::object());
    for (auto it = given.begin(); it != given.end(); ++it)
      labels.emplace_back(it.key(), it.value().get<std::string>());
    std::sort(labels.begin(), labels.end());
    if (!labels.empty()) {
      key += "{";
      for (std::size_t k = 0; k < labels.size(); ++k)
        key += (k ? "," : "") + labels[k].first + "=\"" + labels[k].second + "\"";
      key += "}";
    }
    char expl[160];
    std::snprintf(expl, sizeof expl, "value %.1f against a baseline of %.1f",
                  m.at("value").get<double>(), m.at("baseline").get<double>());
    Json data = {{"series", key},
                 {"value", m.at("value")},
                 {"baseline", m.at("baseline")},
                 {"score", m.at("score")},
                 {"explanation", expl}};
    Input i;
    i.time_ms = iso_ms(m.at("time").get<std::string>());
    i.event = true;
    i.kind = "anomaly";
    i.severity = "warning";
    i.text = key + ": " + expl;
    i.data = data.dump();
    out.push_back(std::move(i));
  }
}

// Job records: the scheduler announces failed, lost and OOM-killed jobs with their GPUs'
// PCI addresses (sched/job_finish.cc); completed ones are not events.
void load_jobs(const fs::path& file, const std::map<int, std::string>& pci_of_gpu,
               std::vector<Input>& out) {
  Json all = Json::parse(read_file(file), nullptr, false);
  ASSERT_TRUE(all.is_array()) << file << ": expected a JSON array";
  for (const auto& j : all) {
    std::string state = j.at("state").get<std::string>();
    bool oom = j.value("oom_killed", false);
    if (state != "failed" && state != "lost" && !oom) continue;
    Json data = j;
    Json pci = Json::array();
    for (const auto& g : j.value("gpus", Json::array())) {
      auto it = pci_of_gpu.find(g.get<int>());
      ASSERT_NE(it, pci_of_gpu.end()) << file << ": GPU " << g << " is not in [node] gpus";
      pci.push_back(it->second);
    }
    data["gpu_pci"] = pci;
    Input i;
    i.time_ms = iso_ms(j.at("end").get<std::string>());
    i.event = true;
    i.kind = "job";
    i.severity = "warning";
    i.text = "job " + std::to_string(j.at("id").get<int>()) + " (" + j.value("name", "") + ", " +
             j.value("user", "") + "): " + state + ": " + j.value("reason", "");
    i.data = data.dump();
    out.push_back(std::move(i));
  }
}

// Other daemon events (NVML Xid / ECC events, hardware changes), as in the event log.
void load_events(const fs::path& file, std::vector<Input>& out) {
  Json all = Json::parse(read_file(file), nullptr, false);
  ASSERT_TRUE(all.is_array()) << file << ": expected a JSON array";
  for (const auto& e : all) {
    Input i;
    i.time_ms = iso_ms(e.at("time").get<std::string>());
    i.event = true;
    i.kind = e.at("kind").get<std::string>();
    i.severity = e.value("severity", "warning");
    i.text = e.value("message", "");
    i.data = e.value("data", Json::object()).dump();
    out.push_back(std::move(i));
  }
}

std::string describe(const std::vector<Incident>& all) {
  std::ostringstream o;
  o << all.size() << " incident(s):\n";
  for (const auto& i : all) {
    o << "  incident " << i.id << " [" << i.severity << "] " << i.title << "\n    devices:";
    for (const auto& d : i.devices) o << " " << d;
    o << "\n    jobs:";
    for (auto j : i.jobs) o << " " << j;
    o << "\n";
    for (std::size_t k = 0; k < i.hypotheses.size(); ++k) {
      const auto& h = i.hypotheses[k];
      o << "    " << k + 1 << ". " << h.signature << "  confidence " << h.confidence << "  score "
        << h.score << "  events " << h.evidence_count << "\n";
    }
  }
  return o.str();
}

bool has_signature_evidence(const Incident& i, const std::string& sig) {
  return std::any_of(i.evidence.begin(), i.evidence.end(),
                     [&](const Evidence& e) { return e.signature == sig; });
}

std::vector<std::string> strings_of(const toml::table& t, const char* key) {
  std::vector<std::string> out;
  if (const auto* a = t[key].as_array())
    for (const auto& v : *a) out.push_back(v.value_or(std::string()));
  return out;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, TopHypothesisAndActionMatchTheCatalog) {
  const fs::path dir = scenarios_dir() / GetParam();
  toml::table expect;
  try {
    expect = toml::parse_file((dir / "expect.toml").string());
  } catch (const toml::parse_error& e) {
    FAIL() << dir / "expect.toml"
           << ": " << e.description();
  }
  ASSERT_TRUE(expect["summary"].value<std::string>()) << "expect.toml needs a summary";
  ASSERT_FALSE(strings_of(expect, "modeled_on").empty())
      << "expect.toml needs modeled_on: the public sources of its log lines";

  EngineOptions options;
  std::map<int, std::string> pci_of_gpu;
  if (const auto* gpus = expect["node"]["gpus"].as_table()) {
    for (const auto& [pci, index] : *gpus) {
      options.gpu_by_pci[std::string(pci.str())] = static_cast<int>(index.value_or(-1));
      pci_of_gpu[static_cast<int>(index.value_or(-1))] = std::string(pci.str());
    }
  }

  std::vector<Input> inputs;
  ASSERT_TRUE(fs::exists(dir / "kernel.log")) << dir;
  load_journal(dir / "kernel.log", inputs);
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("job-", 0) == 0 && e.path().extension() == ".log")
      load_job_log(e.path(), name.substr(4, name.size() - 8), inputs);
  }
  if (fs::exists(dir / "metrics.json")) load_metrics(dir / "metrics.json", inputs);
  if (fs::exists(dir / "events.json")) load_events(dir / "events.json", inputs);
  if (fs::exists(dir / "jobs.json")) load_jobs(dir / "jobs.json", pci_of_gpu, inputs);
  if (HasFatalFailure()) return;
  std::stable_sort(inputs.begin(), inputs.end(),
                   [](const Input& a, const Input& b) { return a.time_ms < b.time_ms; });

  Engine engine(shipped().catalog, *shipped().matcher, options);
  std::int64_t event_id = 0;
  for (const auto& i : inputs) {
    Clock::Wall t{std::chrono::milliseconds(i.time_ms)};
    if (i.event) {
      engine.on_event(i.kind, i.severity, i.text, i.data, t, ++event_id);
    } else {
      engine.on_log_line(i.source, t, i.text);
    }
  }
  const auto all = engine.incidents();
  SCOPED_TRACE(GetParam() + ": " + describe(all));

  if (auto n = expect["incidents"].value<std::int64_t>()) {
    EXPECT_EQ(static_cast<std::int64_t>(all.size()), *n);
  }
  const toml::array* wanted = expect["incident"].as_array();
  ASSERT_TRUE(wanted && !wanted->empty()) << "expect.toml needs at least one [[incident]]";
  for (const auto& node : *wanted) {
    const toml::table& w = *node.as_table();
    auto device = w["device"].value<std::string>();
    auto with = w["has"].value<std::string>();
    ASSERT_TRUE(device || with) << "[[incident]] needs device or has to select an incident";
    const Incident* inc = nullptr;
    for (const auto& i : all) {
      if (device && std::find(i.devices.begin(), i.devices.end(), *device) == i.devices.end())
        continue;
      if (with && !has_signature_evidence(i, *with)) continue;
      inc = &i;
      break;
    }
    std::string which = device ? "device " + *device : "evidence of " + *with;
    ASSERT_NE(inc, nullptr) << "no incident with " << which;
    ASSERT_FALSE(inc->hypotheses.empty());
    const Hypothesis& top = inc->hypotheses.front();
    const std::string want_top = w["top"].value_or(std::string());
    EXPECT_EQ(top.signature, want_top) << "top hypothesis of the incident with " << which;

    const Signature* sig = shipped().catalog.find(want_top);
    ASSERT_NE(sig, nullptr) << want_top << " is not in the catalog";
    auto playbook = w["playbook"].value<std::string>();
    ASSERT_TRUE(playbook) << "[[incident]] needs playbook (\"\" for none)";
    EXPECT_EQ(sig->playbook, *playbook) << "the catalog's playbook for " << want_top;
    EXPECT_EQ(top.playbook, sig->playbook);
    EXPECT_EQ(top.action, sig->action);
    const std::string action = w["action"].value_or(std::string());
    ASSERT_FALSE(action.empty()) << "[[incident]] needs action (text the action must hold)";
    EXPECT_NE(top.action.find(action), std::string::npos)
        << "the action of " << top.signature << " does not say '" << action << "': " << top.action;
    if (auto sev = w["severity"].value<std::string>()) {
      EXPECT_EQ(inc->severity, *sev);
    }

    for (const auto& s : strings_of(w, "also")) {
      EXPECT_TRUE(std::any_of(inc->hypotheses.begin(), inc->hypotheses.end(),
                              [&](const Hypothesis& h) { return h.signature == s; }))
          << s << " should be a (lower) hypothesis of the incident with " << which;
    }
    for (const auto& s : strings_of(w, "not_top")) {
      EXPECT_NE(top.signature, s) << "red herring " << s << " ranked first";
      EXPECT_TRUE(has_signature_evidence(*inc, s))
          << "the red herring " << s << " should be in the incident, ranked below the cause";
    }
    if (const auto* jobs = w["jobs"].as_array()) {
      std::vector<std::int64_t> want;
      for (const auto& j : *jobs) want.push_back(j.value_or(std::int64_t{0}));
      std::vector<std::int64_t> got = inc->jobs;
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << "jobs linked to the incident with " << which;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HandWritten, ScenarioTest, ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST(ScenarioSuiteTest, HoldsAtLeastFifteenScenariosWithTwoFaultsAndARedHerring) {
  auto names = scenario_names();
  EXPECT_GE(names.size(), 15u);
  bool two_faults = false, red_herring = false;
  for (const auto& n : names) {
    auto t = toml::parse_file((scenarios_dir() / n / "expect.toml").string());
    const toml::array* inc = t["incident"].as_array();
    if (inc && inc->size() >= 2) two_faults = true;
    if (inc)
      for (const auto& i : *inc)
        if (const auto* a = i.as_table(); a && (*a)["not_top"].as_array()) red_herring = true;
  }
  EXPECT_TRUE(two_faults) << "no scenario expects two incidents at once";
  EXPECT_TRUE(red_herring) << "no scenario has a red herring (not_top)";
}

}  // namespace
}  // namespace aion::diagnose
