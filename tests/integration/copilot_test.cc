// aion ask against a real aiond: a job that exits with a code and one that a signal ends,
// asked about as an operator would; the queue and free-GPU questions on a node with
// simulated GPUs; and every question recorded in the audit log.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aion/core/json.h"
#include "aion/privacy/gate.h"
#include "support/daemon_harness.h"
#include "support/fake_openai.h"
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
  // Documents come from the index `aion ask --reindex` keeps; without one the answer says so.
  auto docs =
      client->post("/v1/ask", R"({"question": "how do I set the swappiness?", "docs_only": true})");
  ASSERT_TRUE(docs.has_value()) << docs.error().message();
  EXPECT_NE(docs->body.find("aion ask --reindex"), std::string::npos) << docs->body;
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
  EXPECT_EQ(questions, 6);  // three from `aion ask`, three through POST /v1/ask
  EXPECT_GE(tools, 3);
}

// Sends a streamed question to aiond's socket and notes when each event arrives (seconds from
// the request).
std::vector<std::pair<double, std::string>> stream_question(const std::filesystem::path& socket,
                                                            const std::string& question) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", socket.c_str());
  std::vector<std::pair<double, std::string>> events;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return events;
  }
  const std::string body = Json{{"question", question}}.dump();
  const std::string req =
      "POST /v1/ask?stream=1 HTTP/1.1\r\nHost: aiond\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  [[maybe_unused]] auto w = ::write(fd, req.data(), req.size());
  const auto t0 = std::chrono::steady_clock::now();
  std::string in;
  std::size_t seen = 0;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    in.append(buf, static_cast<std::size_t>(n));
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t e; (e = in.find("event: ", seen)) != std::string::npos;) {
      const std::size_t end = in.find("\n\n", e);
      if (end == std::string::npos) break;
      events.emplace_back(t, in.substr(e, end - e));
      seen = end + 2;
    }
  }
  ::close(fd);
  return events;
}

// A model's answer asked for as a stream reaches the caller token by token, as the model
// writes it, not once it is whole; the final answer event carries the model's text.
TEST(CopilotDaemonTest, ModelTokensAreStreamedAsTheModelWritesThem) {
  Reply text;
  text.events = {delta({{"role", "assistant"}, {"content", "Four GPUs "}}),
                 delta({{"content", "are free "}}), delta({{"content", "on this node."}}),
                 "[DONE]"};
  text.event_delay_ms = 600;
  FakeModel model({text});
  DaemonHarness h;
  h.write_config("[daemon]\nsocket = \"" + h.socket().string() + "\"\nstate_dir = \"" +
                 h.state_dir().string() + "\"\n[sched]\ncgroups = false\n" + simulated_gpus(4) +
                 "[copilot]\nbase_url = \"http://127.0.0.1:" + std::to_string(model.port()) +
                 "/v1\"\nmodel = \"qwen2.5-7b-instruct\"\ntimeout_s = 20\nretries = 0\n");
  ASSERT_TRUE(h.start()) << h.log();
  const auto events = stream_question(h.socket(), "which GPUs are free?");
  ASSERT_FALSE(events.empty()) << h.log();
  double first_token = -1, done = -1;
  std::string answer;
  for (const auto& [t, e] : events) {
    if (e.rfind("event: token", 0) == 0 && first_token < 0) first_token = t;
    if (e.rfind("event: answer", 0) == 0) answer = e;
    if (e.rfind("event: done", 0) == 0) done = t;
  }
  ASSERT_GE(first_token, 0) << "no token event";
  ASSERT_GE(done, 0) << "no done event";
  // Three more pauses of 0.6 s follow the first token: a stream sent whole would show none.
  EXPECT_GT(done - first_token, 1.0) << "first token at " << first_token << " s, done at " << done;
  EXPECT_NE(answer.find("Four GPUs are free on this node."), std::string::npos) << answer;
  EXPECT_EQ(model.received().size(), 1u);
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
