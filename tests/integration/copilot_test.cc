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
#include "support/test_users.h"

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

  // POST /v1/ask as the same (admin) caller: JSON, then server-sent events.
  auto client = h.client();
  ASSERT_TRUE(client.has_value()) << client.error().message();
  auto posted = client->post("/v1/ask", R"({"question": "why did job 1 fail?"})");
  ASSERT_TRUE(posted.has_value()) << posted.error().message();
  ASSERT_EQ(posted->status, 200) << posted->body;
  const Json pj = Json::parse(posted->body);
  EXPECT_TRUE(pj.value("answered", false)) << posted->body;
  EXPECT_NE(pj.value("answer", std::string()).find("exit code 3"), std::string::npos)
      << posted->body;
  auto raw = h.client();
  ASSERT_TRUE(raw.has_value());
  const std::string q = R"({"question": "which GPUs are free?"})";
  auto sse = raw->raw_exchange(
      "POST /v1/ask?stream=1 HTTP/1.1\r\nHost: aiond\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(q.size()) + "\r\nConnection: close\r\n\r\n" + q);
  ASSERT_TRUE(sse.has_value()) << sse.error().message();
  EXPECT_NE(sse->find("text/event-stream"), std::string::npos) << *sse;
  EXPECT_NE(sse->find("event: tool"), std::string::npos) << *sse;
  EXPECT_NE(sse->find("event: answer"), std::string::npos) << *sse;
  EXPECT_NE(sse->find("4 GPU(s) free"), std::string::npos) << *sse;
  auto bad = client->post("/v1/ask", R"({"question": ""})");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400) << bad->body;

  auto log = privacy::read_audit(privacy::audit_log_path(h.state_dir()), 100);
  ASSERT_TRUE(log.has_value()) << log.error().message();
  int questions = 0, tools = 0;
  for (const auto& r : log->records) {
    EXPECT_EQ(r.caller.rfind("copilot", 0), 0u) << r.caller;
    questions += r.destination.rfind("question", 0) == 0;
    tools += r.destination.rfind("tool ", 0) == 0;
  }
  EXPECT_EQ(questions, 5);  // three from `aion ask`, two through POST /v1/ask
  EXPECT_GE(tools, 3);
}

// A viewer asking through the copilot learns no more than its role may read: the log templates
// (an admin route) are refused to it, so the copilot says it cannot answer.
TEST(CopilotDaemonTest, AViewerGetsOnlyWhatItsRoleMayRead) {
  auto bob = ensure_user("aion-sec-bob");
  if (!bob) GTEST_SKIP() << "needs root and useradd to play a viewer";
  DaemonHarness h;
  h.write_config("[daemon]\nsocket_mode = \"0666\"\nsocket = \"" + h.socket().string() +
                 "\"\nstate_dir = \"" + h.state_dir().string() + "\"\n[sched]\ncgroups = false\n");
  ASSERT_TRUE(h.start()) << h.log();
  const std::string out = as_user(bob->uid, bob->gid, {}, [&] {
    auto c = api::Client::connect_unix(h.socket());
    if (!c) return std::string("connect: ") + c.error().message();
    auto r = c->post("/v1/ask", R"({"question": "what errors showed up in the logs recently?"})");
    if (!r) return std::string("post: ") + r.error().message();
    return std::to_string(r->status) + " " + r->body;
  });
  ASSERT_EQ(out.rfind("200 ", 0), 0u) << out;
  const Json j = Json::parse(out.substr(4), nullptr, false);
  EXPECT_FALSE(j.value("answered", true)) << out;
  EXPECT_NE(j.value("answer", std::string()).find("I can't answer that here"), std::string::npos)
      << out;
  EXPECT_TRUE(j.value("commands", Json::array()).empty()) << out;
}

}  // namespace
}  // namespace aion::testing
