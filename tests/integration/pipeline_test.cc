// Pipelines through the real aiond, on the shipped example (examples/pipeline-linear: data
// generation, LIBLINEAR training with checkpoints, evaluation, an HTTP model server): the run
// end to end with its artifacts and lineage, skipping what is unchanged, a killed training
// stage resuming from its checkpoint, aiond killed mid-pipeline, a deploy swapping versions
// under a polling client, and invalid files refused before anything runs.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/sockets.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// One HTTP GET on 127.0.0.1:port; the status (0 when no answer) and the body.
std::pair<int, std::string> http_get(int port, const std::string& path) {
  int fd = connect_from("127.0.0.1", port);
  if (fd < 0) return {0, ""};
  send_all(fd, "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n");
  std::string r = read_until_closed(fd, 3s);
  ::close(fd);
  if (r.size() < 12) return {0, r};
  auto body = r.find("\r\n\r\n");
  return {std::atoi(r.substr(9, 3).c_str()), body == std::string::npos ? "" : r.substr(body + 4)};
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/liblinear-train", X_OK) != 0) {
      GTEST_SKIP() << "liblinear-tools is not installed (scripts/setup.sh installs it)";
    }
    ex_ = h_.dir() / "example";
    fs::copy(fs::path(AION_SOURCE_DIR) / "examples" / "pipeline-linear", ex_,
             fs::copy_options::recursive);
    port_ = free_port();
    std::ifstream in(ex_ / "pipeline.toml");
    std::stringstream text;
    text << in.rdbuf();
    toml_ = std::regex_replace(text.str(), std::regex("port = 8480"),
                               "port = " + std::to_string(port_));
    write_pipeline(toml_);
    h_.write_config("[sched]\ncgroups = false\ncgroup_parent = \"aion-pipetest\"\n");
    auto started = h_.start();
    ASSERT_TRUE(started) << started.error().message() << h_.log();
  }
  void TearDown() override {
    if (h_.running()) {
      for (const auto& r : runs()) aion({"pipeline", "cancel", std::to_string(r)});
      aion({"ps"});
    }
  }

  void write_pipeline(const std::string& toml) { std::ofstream(ex_ / "pipeline.toml") << toml; }

  Exit aion(std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--socket", h_.socket().string()});
    return run_program(args, std::nullopt, 180s);
  }
  Json json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    Exit e = aion(args);
    Json j = Json::parse(e.out.substr(std::min(e.out.find('{'), e.out.size())), nullptr, false);
    return j.is_discarded() ? Json() : j;
  }
  std::vector<long long> runs() {
    std::vector<long long> out;
    Json l = json({"pipeline", "ls"});
    if (l.is_object()) {
      for (const auto& r : l["runs"]) {
        const Json& run = r.contains("run") ? r["run"] : r;
        out.push_back(run.value("id", 0LL));
      }
    }
    return out;
  }
  // The stage's record in run `id`.
  Json stage(long long id, const std::string& name) {
    Json r = json({"pipeline", "show", std::to_string(id)});
    for (const auto& s : r["stages"]) {
      if (s.value("stage", "") == name) return s;
    }
    return Json();
  }
  // Waits until the run ends; its final state.
  std::string wait_run(long long id, std::chrono::seconds limit = 120s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      Json r = json({"pipeline", "show", std::to_string(id)});
      std::string s = r.is_object() ? r["run"].value("state", "") : "";
      if (s == "succeeded" || s == "failed" || s == "cancelled") return s;
      std::this_thread::sleep_for(300ms);
    }
    return "timeout";
  }
  long long start_run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"pipeline", "run", (ex_ / "pipeline.toml").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    Json r = json(args);
    return r.is_object() ? r["run"].value("id", 0LL) : 0;
  }

  DaemonHarness h_;
  fs::path ex_;
  int port_ = 0;
  std::string toml_;
};

TEST_F(PipelineTest, TheExampleRunsEndToEndAndRecordsItsLineage) {
  Exit run = aion({"pipeline", "run", (ex_ / "pipeline.toml").string(), "--watch"});
  ASSERT_EQ(run.code, 0) << run.out << h_.log();
  for (const char* s : {"generate", "train", "evaluate", "serve"}) {
    EXPECT_NE(run.out.find(std::string(s)), std::string::npos) << run.out;
  }
  auto [status, body] = http_get(port_, "/predict?x=1,0,0,0,0,0,0,0");
  EXPECT_EQ(status, 200) << body;
  EXPECT_NE(body.find("\"label\""), std::string::npos) << body;

  Exit lineage = aion({"artifact", "lineage", (ex_ / "work" / "metrics.json").string()});
  EXPECT_EQ(lineage.code, 0) << lineage.out;
  EXPECT_NE(lineage.out.find("work/model"), std::string::npos) << lineage.out;
  EXPECT_NE(lineage.out.find("work/data"), std::string::npos) << lineage.out;
  Exit arts = aion({"artifact", "ls"});
  EXPECT_NE(arts.out.find("metrics.json"), std::string::npos) << arts.out;

  // Unchanged: nothing reruns. One script changed: only the stages after it run.
  long long again = start_run();
  ASSERT_GT(again, 0);
  EXPECT_EQ(wait_run(again), "succeeded");
  for (const char* s : {"generate", "train", "evaluate"}) {
    EXPECT_EQ(stage(again, s).value("state", ""), "skipped") << s;
  }
  std::ofstream(ex_ / "evaluate.py", std::ios::app) << "# a changed evaluation\n";
  long long changed = start_run();
  EXPECT_EQ(wait_run(changed), "succeeded");
  EXPECT_EQ(stage(changed, "generate").value("state", ""), "skipped");
  EXPECT_EQ(stage(changed, "train").value("state", ""), "skipped");
  EXPECT_EQ(stage(changed, "evaluate").value("state", ""), "succeeded");
}

TEST_F(PipelineTest, AKilledTrainingStageResumesFromItsCheckpoint) {
  // Slow steps so that the stage can be killed in the middle.
  std::string slow =
      std::regex_replace(toml_, std::regex("checkpoint_dir = \"work/ckpt\""),
                         "checkpoint_dir = \"work/ckpt\"\nenv = { STEP_SECONDS = \"1\" }");
  write_pipeline(slow);
  long long id = start_run();
  ASSERT_GT(id, 0) << h_.log();
  // Wait for the second checkpoint, then kill the training job's processes.
  for (int i = 0; i < 300 && !fs::exists(ex_ / "work" / "ckpt" / "step-01.json"); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(fs::exists(ex_ / "work" / "ckpt" / "step-01.json")) << h_.log();
  // The training process: python3 running train.py in the example's directory.
  pid_t victim = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string argv((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    std::error_code ec;
    if (argv.find("train.py") != std::string::npos &&
        fs::read_symlink(e.path() / "cwd", ec) == ex_) {
      victim = static_cast<pid_t>(std::stol(name));
    }
  }
  ASSERT_GT(victim, 0) << "no training process found";
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_EQ(wait_run(id), "succeeded") << h_.log();
  EXPECT_GE(stage(id, "train").value("attempt", 0), 2);
  Exit logs = aion({"pipeline", "logs", std::to_string(id), "train"});
  EXPECT_NE(logs.out.find("resuming from step-0"), std::string::npos) << logs.out;
}

TEST_F(PipelineTest, AiondKilledMidPipelineFinishesWithoutRerunningAStage) {
  write_pipeline(
      std::regex_replace(toml_, std::regex("checkpoint_dir = \"work/ckpt\""),
                         "checkpoint_dir = \"work/ckpt\"\nenv = { STEP_SECONDS = \"1\" }"));
  long long id = start_run();
  ASSERT_GT(id, 0) << h_.log();
  for (int i = 0; i < 300 && stage(id, "train").value("state", "") != "running"; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(1500ms);
  h_.signal(SIGKILL);
  h_.wait();
  auto restarted = h_.start();
  ASSERT_TRUE(restarted) << restarted.error().message() << h_.log();
  EXPECT_EQ(wait_run(id), "succeeded") << h_.log();
  // Each stage that succeeded ran once: one job of the generate stage.
  Json ps = json({"ps", "--all"});
  int generate_jobs = 0;
  const std::string prefix = "pipeline-" + std::to_string(id) + "-generate-";
  for (const auto& j : ps["jobs"]) generate_jobs += j.value("name", "").starts_with(prefix);
  EXPECT_EQ(generate_jobs, 1) << ps.dump();
  EXPECT_EQ(stage(id, "generate").value("attempt", 0), 1);
}

TEST_F(PipelineTest, ADeploySwapsVersionsWithoutAFailedRequest) {
  long long first = start_run();
  ASSERT_EQ(wait_run(first), "succeeded") << h_.log();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::set<std::string> models;
  std::mutex models_mu;
  std::thread client([&] {
    while (!stop) {
      auto [status, body] = http_get(port_, "/predict?x=0,0,0,0,0,0,0,1");
      if (status == 200) {
        ++ok;
        std::smatch m;
        if (std::regex_search(body, m, std::regex("\"model\": \"([^\"]+)\""))) {
          std::lock_guard lock(models_mu);
          models.insert(m[1]);
        }
      } else {
        ++failed;
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::ofstream(ex_ / "serve.py", std::ios::app) << "# version 2\n";
  long long second = start_run();
  EXPECT_EQ(wait_run(second), "succeeded") << h_.log();
  std::this_thread::sleep_for(1s);
  stop = true;
  client.join();
  EXPECT_EQ(failed, 0) << ok << " requests answered";
  EXPECT_GT(ok, 10);
  EXPECT_GE(models.size(), 2u) << "the client should have seen both versions";
}

TEST_F(PipelineTest, InvalidPipelinesAreRefusedBeforeAnythingRuns) {
  struct Case {
    std::string toml, expect;
  };
  std::vector<Case> cases = {
      {"name = \"c\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ndepends_on = [\"b\"]\n"
       "[[stage]]\nname = \"b\"\ncommand = [\"true\"]\ndepends_on = [\"a\"]\n",
       "depends_on"},
      {"name = \"u\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ndepends_on = [\"nope\"]\n",
       "nope"},
      {"name = \"m\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ninputs = [\"no/such/file\"]\n",
       "inputs"},
      {"name = \"g\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ngpus = 64\n", "gpus"},
      {"name = \"x\"\n[[stage]]\nname = \"a\"\ncommand = [\"no-such-program-aion\"]\n", "command"},
  };
  for (const auto& c : cases) {
    write_pipeline(c.toml);
    Exit r = aion({"pipeline", "run", (ex_ / "pipeline.toml").string()});
    EXPECT_NE(r.code, 0) << c.toml;
    EXPECT_NE(r.out.find("stage 'a'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
  }
  EXPECT_TRUE(runs().empty());
}

}  // namespace
}  // namespace aion::testing
