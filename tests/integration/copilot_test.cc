// aion ask against a real aiond: a job that exits with a code and one that a signal ends,
// asked about as an operator would; the queue and free-GPU questions on a node with
// simulated GPUs; and every question recorded in the audit log.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/privacy/gate.h"
#include "support/daemon_harness.h"

namespace aion::testing {
namespace {

std::string simulated_gpus(int n) {
  std::string toml;
  for (int i = 0; i < n; ++i)
    toml += "[[simulate.gpu]]\nmodel = \"A100-SXM4-80GB\"\npci_address = \"fffe:0" +
            std::to_string(i) + ":00.0\"\n";
  return toml;
}

TEST(CopilotDaemonTest, AnswersAboutRealJobsAndRecordsEachQuestion) {
  DaemonHarness h;
  h.write_config("[daemon]\nsocket = \"" + h.socket().string() + "\"\nstate_dir = \"" +
                 h.state_dir().string() + "\"\n[sched]\ncgroups = false\n" + simulated_gpus(4));
  ASSERT_TRUE(h.start()) << h.log();
  auto aion = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DaemonHarness::aion_path(), "--config", h.config().string()});
    return run_program(args);
  };
  Exit failed = aion({"run", "--", "sh", "-c", "echo training; exit 3"});
  ASSERT_EQ(failed.code, 3) << failed.out;
  Exit ask = aion({"ask", "why did job 1 fail?"});
  ASSERT_EQ(ask.code, 0) << ask.out;
  EXPECT_NE(ask.out.find("Job 1"), std::string::npos) << ask.out;
  EXPECT_NE(ask.out.find("exit code 3"), std::string::npos) << ask.out;
  EXPECT_NE(ask.out.find("aiond: job 1"), std::string::npos) << ask.out;  // the source

  Exit json = aion({"--json", "ask", "which GPUs are free?"});
  ASSERT_EQ(json.code, 0) << json.out;
  const Json j = Json::parse(json.out.substr(json.out.find('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json.out;
  EXPECT_TRUE(j.value("answered", false)) << json.out;
  EXPECT_NE(j.value("answer", std::string()).find("4 GPU(s) free"), std::string::npos) << json.out;

  Exit nojob = aion({"ask", "why did job 77 die?"});
  EXPECT_NE(nojob.out.find("I can't answer that here"), std::string::npos) << nojob.out;

  auto log = privacy::read_audit(privacy::audit_log_path(h.state_dir()), 100);
  ASSERT_TRUE(log.has_value()) << log.error().message();
  int questions = 0, tools = 0;
  for (const auto& r : log->records) {
    EXPECT_EQ(r.caller, "copilot");
    questions += r.destination.rfind("question", 0) == 0;
    tools += r.destination.rfind("tool ", 0) == 0;
  }
  EXPECT_EQ(questions, 3);
  EXPECT_GE(tools, 3);
}

}  // namespace
}  // namespace aion::testing
