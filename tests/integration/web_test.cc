// The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
// puppeteer-core (tests/web/dashboard.test.mjs) against the real aiond on a recorded DGX A100
// (8 simulated GPUs through the fake NVML) with a job and an incident whose texts carry HTML
// and script. This side starts the daemon, makes the tokens and the hostile records, keeps the
// GPUs' readings moving (the live view must follow them) and checks the browser's report.
// Skips, saying why, where node, Chromium or the npm packages are missing.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"
#include "support/sockets.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string find_program(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

// The token `aion admin token create` printed (the line that starts with "aion_").
std::string token_from(const std::string& out) {
  auto at = out.find("aion_");
  if (at == std::string::npos) return "";
  auto end = out.find_first_of(" \n", at);
  return out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// Rewrites the fake NVML's readings every 700 ms (atomically: the library reads the file at
// every call) so that utilization, temperature and power keep changing.
class MovingReadings {
 public:
  explicit MovingReadings(fs::path nvml) : nvml_(std::move(nvml)) {
    thread_ = std::thread([this] {
      for (int tick = 0; !stop_; ++tick) {
        write(tick);
        for (int i = 0; i < 7 && !stop_; ++i) std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~MovingReadings() {
    stop_ = true;
    thread_.join();
  }
  void write(int tick) {
    Json j;
    std::ifstream(nvml_) >> j;
    for (std::size_t i = 0; i < j["gpus"].size(); ++i) {
      int k = static_cast<int>(i);
      j["gpus"][i]["telemetry"] = {{"util", (10 + 11 * k + 7 * tick) % 100},
                                   {"mem_util", (5 + 3 * k + tick) % 100},
                                   {"temp", 45 + k + tick % 9},
                                   {"power_mw", 150000 + 9000 * k + 4000 * (tick % 11)},
                                   {"power_limit_mw", 400000},
                                   {"memory_used", (1ull + k) * (3ull << 30)},
                                   {"sm_mhz", 1410}};
    }
    // One Xid 79 (fallen off the bus) on the sixth GPU: a GPU incident besides the job's.
    if (tick == 2) j["gpus"][5]["telemetry"]["xids"] = {79};
    fs::path tmp = nvml_.string() + ".tmp";
    std::ofstream(tmp) << j.dump();
    fs::rename(tmp, nvml_);
  }

 private:
  fs::path nvml_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(WebTest, DashboardInHeadlessChromium) {
  const std::string node = find_program({"/usr/bin/node", "/usr/local/bin/node"});
  const std::string chromium = find_program({"/usr/bin/chromium", "/usr/bin/chromium-browser"});
  const fs::path web_tests = fs::path(AION_SOURCE_DIR) / "tests" / "web";
  if (node.empty()) GTEST_SKIP() << "node is not installed (scripts/setup.sh installs nodejs)";
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  if (!fs::exists(web_tests / "node_modules" / "puppeteer-core")) {
    GTEST_SKIP() << "puppeteer-core is not installed: run `npm ci` in tests/web (scripts/setup.sh "
                    "does)";
  }
  auto user = ensure_user("aionweb");
  if (!user) GTEST_SKIP() << "needs root to create the account the operator's jobs run as";

  DaemonHarness h;
  fs::path fx = h.dir() / "fx";
  copy_fixture("hw/dgx-a100", fx);
  const fs::path nvml = fx / "nvml.json";
  MovingReadings readings(nvml);
  const int port = free_port();
  ASSERT_GT(port, 0);
  h.write_config(
      "[sched]\ncgroups = false\ncgroup_parent = \"aion-webtest\"\n"
      "[telemetry]\nhost_interval_s = 1\ngpu_interval_s = 1\n"
      "[diagnose]\npoll_interval_ms = 100\n"
      "[logs]\nkmsg = false\njournal = false\n"
      "[api.tcp]\nenabled = true\nlisten = \"127.0.0.1:" +
      std::to_string(port) + "\"\n");
  h.set_env("AION_NVML_LIBRARY", FAKE_NVML_PATH);
  h.set_env("AION_FAKE_NVML", nvml.string());
  h.set_env("AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data");
  auto started = h.start({"--host-root", (fx / "root").string()});
  ASSERT_TRUE(started) << started.error().message() << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h.socket().string()});
    return run_program(args);
  };

  std::map<std::string, std::string> tokens;
  for (auto [role, extra] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"admin", {}}, {"operator", {"--run-as", user->name}}, {"viewer", {}}}) {
    std::vector<std::string> args = {"admin", "token", "create", "--role", role};
    args.insert(args.end(), extra.begin(), extra.end());
    Exit made = aion(args);
    ASSERT_EQ(made.code, 0) << made.out;
    tokens[role] = token_from(made.out);
    ASSERT_FALSE(tokens[role].empty()) << made.out;
  }

  // A job whose name, command and output carry markup and script; its failure opens an
  // incident whose evidence quotes its name.
  const std::string payload =
      "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
  Exit xss =
      aion({"--json", "run", "--name", "xss " + payload, "--", "sh", "-c",
            "echo '" + std::string("<b>bold?</b> <img src=x onerror=window.__xss=3>") +
                "'; echo 'CUDA error: out of memory <script>window.__xss=4</script>'; exit 3"});
  ASSERT_NE(xss.out.find("\"exit_code\":3"), std::string::npos) << xss.out;
  // The job's output comes first, the job's record (one line of JSON) last.
  std::string last = xss.out.substr(0, xss.out.find_last_not_of('\n') + 1);
  last = last.substr(last.rfind('\n') + 1);
  Json job = Json::parse(last, nullptr, false);
  std::string job_id = job.is_object() && job.contains("id") ? job["id"].dump() : "";
  ASSERT_FALSE(job_id.empty()) << xss.out;
  std::string incident_id;
  for (int i = 0; i < 100 && incident_id.empty(); ++i) {
    Exit r = aion({"--json", "incidents"});
    Json list = Json::parse(r.out, nullptr, false);
    if (list.is_object()) {
      for (const auto& inc : list["incidents"]) {
        if (inc["jobs"].dump().find(job_id) != std::string::npos) incident_id = inc["id"].dump();
      }
    }
    if (incident_id.empty()) std::this_thread::sleep_for(200ms);
  }
  EXPECT_FALSE(incident_id.empty()) << "the failed job opened no incident\n" << h.log();

  // A finished pipeline run of the operator's run-as user, for the pipelines page.
  const fs::path demo = h.dir() / "pipeline";
  fs::create_directories(demo / "out");
  ASSERT_EQ(::chown(demo.c_str(), user->uid, user->gid), 0);
  ASSERT_EQ(::chown((demo / "out").c_str(), user->uid, user->gid), 0);
  std::ofstream(demo / "pipeline.toml")
      << "name = \"web-demo\"\n"
         "[[stage]]\nname = \"prepare\"\ncommand = [\"sh\", \"-c\", \"echo data > out/data.txt\"]\n"
         "outputs = [\"out/data.txt\"]\n"
         "[[stage]]\nname = \"train\"\ncommand = [\"sh\", \"-c\", \"cat out/data.txt > "
         "out/model.txt\"]\n"
         "inputs = [\"out/data.txt\"]\noutputs = [\"out/model.txt\"]\ndepends_on = [\"prepare\"]\n";
  Exit pipeline =
      aion({"pipeline", "run", (demo / "pipeline.toml").string(), "--user", user->name, "--watch"});
  EXPECT_EQ(pipeline.code, 0) << pipeline.out << h.log();

  const fs::path shots = fs::path(AION_WEB_SCREENSHOT_DIR);
  fs::create_directories(shots);
  const fs::path report = shots / "report.json";
  fs::remove(report);
  std::vector<std::string> env = {
      "AION_URL=http://127.0.0.1:" + std::to_string(port),
      "AION_ADMIN_TOKEN=" + tokens["admin"],
      "AION_OPERATOR_TOKEN=" + tokens["operator"],
      "AION_VIEWER_TOKEN=" + tokens["viewer"],
      "AION_RUN_AS=" + user->name,
      "AION_XSS_JOB_ID=" + job_id,
      "AION_XSS_INCIDENT_ID=" + incident_id,
      "AION_SCREENSHOTS=" + shots.string(),
      "AION_REPORT=" + report.string(),
      "CHROMIUM=" + chromium,
  };
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(node);
  argv.push_back((web_tests / "dashboard.test.mjs").string());
  Exit browser = run_program(argv, std::nullopt, std::chrono::seconds(420));
  std::printf("%s\n", browser.out.c_str());
  EXPECT_EQ(browser.code, 0) << "the browser test failed (output above)\n" << h.log();

  Json rep;
  std::ifstream(report) >> rep;
  ASSERT_TRUE(rep.is_object()) << "no report at " << report;
  std::printf("overview: %s bytes transferred, rendered in %s ms; screenshots in %s\n",
              rep.value("overview_bytes", Json()).dump().c_str(),
              rep.value("overview_render_ms", Json()).dump().c_str(), shots.c_str());
  EXPECT_LT(rep.value("overview_bytes", 1e12), 500.0 * 1024);
  EXPECT_LT(rep.value("overview_render_ms", 1e12), 1000.0);
  // The figures, for bench/results/dashboard.json (no paths or addresses of this run).
  if (const char* out = std::getenv("AION_WEB_BENCH_OUT")) {
    Json checks = Json::array();
    for (const auto& c : rep.value("checks", Json::array())) {
      checks.push_back(
          {{"name", c.value("name", "")}, {"ok", c.value("ok", false)}, {"ms", c.value("ms", 0)}});
    }
    Json bench = {{"benchmark", "dashboard (web_test)"},
                  {"browser", rep.value("browser", Json())},
                  {"passed", rep.value("passed", 0)},
                  {"failed", rep.value("failed", 0)},
                  {"overview_bytes", rep.value("overview_bytes", Json())},
                  {"overview_render_ms", rep.value("overview_render_ms", Json())},
                  {"overview", rep.value("overview", Json())},
                  {"checks", checks}};
    std::ofstream(out) << bench.dump(2) << "\n";
  }
}

}  // namespace
}  // namespace aion::testing
