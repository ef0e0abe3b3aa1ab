// aion ask with a language model: the real `aion` binary talks HTTP to a local server that
// speaks the OpenAI chat-completions protocol and replays a scripted conversation (a tool call,
// then an answer in placeholders). Nothing the server receives may hold the secrets and
// personal data planted in the question and in the node's state; the answer shown locally has
// them restored; every request is in the audit log. An endpoint that is down, slow, failing or
// answering garbage makes aion answer without the model and say why.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "aion/privacy/gate.h"
#include "support/daemon_harness.h"
#include "support/fake_openai.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

// The planted private data: in the question, the machine's host name and its accounts.
constexpr const char* kEmail = "li.wei@example-corp.cn";
constexpr const char* kToken = "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";
constexpr const char* kHost = "gpu07.corp.example-ai.com";
constexpr const char* kUser = "dchen";

struct Node {
  TempDir dir{"copilot-model"};
  fs::path root() const { return dir.path() / "root"; }
  fs::path config() const { return dir.path() / "aion.toml"; }
  fs::path state() const { return dir.path() / "state"; }

  // `base` is the endpoint's scheme and authority; `extra` more [copilot] keys.
  explicit Node(int port, int timeout_s = 5, const std::string& scheme = "http",
                const std::string& extra = "") {
    copy_fixture("hw/mi250x/root", root());
    std::ofstream(root() / "proc/sys/kernel/hostname") << kHost << "\n";
    fs::create_directories(root() / "etc");
    std::ofstream(root() / "etc/passwd")
        << "root:x:0:0:root:/root:/bin/bash\n"
        << kUser << ":x:1001:1001::/home/" << kUser << ":/bin/bash\n";
    std::ofstream(config()) << "[daemon]\nstate_dir = \"" << state().string() << "\"\n[copilot]\n"
                            << "base_url = \"" << scheme << "://127.0.0.1:" << port
                            << "/v1\"\nmodel = \"qwen2.5-7b-instruct\"\n"
                            << "timeout_s = " << timeout_s << "\nretries = 0\n"
                            << extra;
  }
  Exit ask(const std::string& question, std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {DaemonHarness::aion_path(),
                                     "--config",
                                     config().string(),
                                     "--host-root",
                                     root().string(),
                                     "ask",
                                     "--no-daemon"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(question);
    return run_program(argv);
  }
};

const std::string kQuestion = std::string("How many GPUs does this node have? ") + kUser +
                              " wants to know; reply to " + kEmail + ", my token is " + kToken;

TEST(ModelTest, NothingPrivateReachesTheModelAndTheAnswerIsRestoredLocally) {
  FakeModel model({{200, tool_call("hardware", "{}")},
                   {200, final_answer("<HOST_1> has 8 GPUs (MI250X). I will tell <EMAIL_1>.")}});
  Node node(model.port());
  Exit e = node.ask(kQuestion);
  ASSERT_EQ(e.code, 0) << e.out;
  const auto got = model.received();
  ASSERT_EQ(got.size(), 2u) << e.out;
  for (const std::string& body : got) {
    ASSERT_FALSE(Json::parse(body, nullptr, false).is_discarded()) << body;
    for (const char* planted : {kEmail, kToken, kHost, kUser})
      EXPECT_EQ(body.find(planted), std::string::npos) << planted << " left in:\n" << body;
  }
  // The second request carries the tool's facts, in placeholders, as the protocol wants.
  const Json second = Json::parse(got[1]);
  EXPECT_EQ(second["messages"][3]["role"], "tool");
  EXPECT_EQ(second["messages"][3]["tool_call_id"], "call_hardware");
  EXPECT_NE(second["messages"][3]["content"].get<std::string>().find("<HOST_1>"),
            std::string::npos);
  EXPECT_NE(e.out.find(std::string(kHost) + " has 8 GPUs (MI250X). I will tell " + kEmail),
            std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("model qwen2.5-7b-instruct"), std::string::npos) << e.out;
  // Both requests are in the audit log, with their size and hash.
  auto log = privacy::read_audit(privacy::audit_log_path(node.state()), 100);
  ASSERT_TRUE(log.has_value());
  int requests = 0;
  for (const auto& r : log->records) {
    if (r.destination.find("/chat/completions") == std::string::npos) continue;
    ++requests;
    EXPECT_EQ(r.caller, "copilot");
    EXPECT_EQ(r.sha256, privacy::sha256_hex(got[static_cast<std::size_t>(requests - 1)]));
  }
  EXPECT_EQ(requests, 2);
}

TEST(ModelTest, ShowOutboundPrintsTheRedactedRequestAndSendsNothing) {
  FakeModel model({});
  Node node(model.port());
  Exit e = node.ask(kQuestion, {"--show-outbound"});
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_TRUE(model.received().empty());
  EXPECT_NE(e.out.find("POST http://127.0.0.1:"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("<EMAIL_1>"), std::string::npos) << e.out;
  for (const char* planted : {kEmail, kToken, kUser})
    EXPECT_EQ(e.out.find(std::string("\"") + planted), std::string::npos);
  EXPECT_EQ(e.out.find(kToken), std::string::npos) << e.out;
}

// Streamed answers: a tool call whose name and arguments arrive in pieces, then the text in
// pieces that split a placeholder; the text is shown restored, and nothing private left.
TEST(ModelTest, StreamedToolCallsAndTextAreAssembledAndRestored) {
  Reply call;
  call.events = {delta({{"role", "assistant"},
                        {"tool_calls",
                         {{{"index", 0},
                           {"id", "call_hw"},
                           {"type", "function"},
                           {"function", {{"name", "hardware"}, {"arguments", ""}}}}}}}),
                 delta({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "{"}}}}}}}),
                 delta({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "}"}}}}}}}),
                 "[DONE]"};
  Reply text;
  text.events = {delta({{"role", "assistant"}, {"content", "<HO"}}),
                 delta({{"content", "ST_1> has 8 "}}), delta({{"content", "GPUs; mail <EMA"}}),
                 delta({{"content", "IL_1>."}}), "[DONE]"};
  FakeModel model({call, text});
  Node node(model.port());
  Exit e = node.ask(kQuestion);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find(std::string(kHost) + " has 8 GPUs; mail " + kEmail + "."), std::string::npos)
      << e.out;
  EXPECT_EQ(e.out.find("answered without it"), std::string::npos) << e.out;
  const auto got = model.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(Json::parse(got[0]).value("stream", false));
  const Json second = Json::parse(got[1]);
  EXPECT_EQ(second["messages"][2]["tool_calls"][0]["function"]["arguments"], "{}");
  EXPECT_EQ(second["messages"][3]["tool_call_id"], "call_hw");
  for (const std::string& body : got)
    for (const char* planted : {kEmail, kToken, kHost, kUser})
      EXPECT_EQ(body.find(planted), std::string::npos);
}

// aion chat over one session: each question answered by the model, /outbound shows the
// request as it left (redacted) and /sources the tools used.
TEST(ModelTest, ChatShowsWhatLeftAndWhereTheFactsCameFrom) {
  FakeModel model({{200, tool_call("hardware", "{}")},
                   {200, final_answer("<HOST_1> has 8 GPUs.")},
                   {200, final_answer("I cannot tell from the tools.")}});
  Node node(model.port());
  ProcessOptions o;
  o.argv = {DaemonHarness::aion_path(), "--config", node.config().string(), "--host-root",
            node.root().string(),       "chat",     "--no-daemon"};
  o.stdin_data = std::string("how many GPUs? ask ") + kEmail +
                 "\n/outbound\n/sources\nwhat is the weather?\n/quit\n";
  o.timeout = std::chrono::seconds(60);
  auto r = run_process(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_TRUE(r->ok()) << r->describe() << r->out << r->err;
  EXPECT_NE(r->out.find(std::string(kHost) + " has 8 GPUs."), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("POST http://127.0.0.1:"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("<EMAIL_1>"), std::string::npos) << r->out;         // /outbound, redacted
  EXPECT_NE(r->out.find("tool hardware {}"), std::string::npos) << r->out;  // /sources
  EXPECT_NE(r->out.find("I cannot tell from the tools."), std::string::npos) << r->out;
  for (const std::string& body : model.received())
    for (const char* planted : {kEmail, kHost}) EXPECT_EQ(body.find(planted), std::string::npos);
  EXPECT_EQ(model.received().size(), 3u);
}

// /run N in aion chat: only an aion command, only after "y", run as the user, audited.
TEST(ModelTest, ChatRunsASuggestedCommandOnlyWhenConfirmed) {
  FakeModel model({});
  Node node(model.port());
  ProcessOptions o;
  o.argv = {DaemonHarness::aion_path(), "--config", node.config().string(), "--host-root",
            node.root().string(),       "chat",     "--no-daemon",          "--no-model"};
  o.stdin_data = "how do I turn off numa balancing?\n/run 1\n/run 2\nn\n/run 2\ny\n/quit\n";
  o.timeout = std::chrono::seconds(60);
  auto r = run_process(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_TRUE(r->ok()) << r->describe() << r->out << r->err;
  EXPECT_NE(r->out.find("[1] sudo sysctl -w kernel.numa_balancing=0"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("not run: only aion's own commands"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("run `aion tune diff ai-training`? [y/N] not run"), std::string::npos)
      << r->out;
  EXPECT_NE(r->out.find("SETTING"), std::string::npos) << r->out;  // the confirmed run
  auto log = privacy::read_audit(privacy::audit_log_path(node.state()), 100);
  ASSERT_TRUE(log.has_value());
  int actions = 0;
  for (const auto& rec : log->records)
    actions += rec.destination == "action aion tune (confirmed, exited with status 0)";
  EXPECT_EQ(actions, 1);
  EXPECT_TRUE(model.received().empty());
}

// The endpoint fails in each way; aion says why and answers without it.
TEST(ModelTest, AFailingEndpointFallsBackToTheRouter) {
  struct Way {
    std::string name;
    std::vector<Reply> script;
    std::string said;
  };
  const std::vector<Way> ways = {
      {"server error",
       {{500, R"({"error":{"message":"CUDA out of memory"}})"}},
       "answered HTTP 500"},
      {"garbage", {{200, "<html>502 Bad Gateway</html>"}}, "not a chat completion"},
      {"slow", {{200, final_answer("too late"), 2500}}, "no answer within 1 s"},
      {"tool loop", std::vector<Reply>(8, {200, tool_call("hardware", "{}")}),
       "kept calling tools"},
      {"malformed",
       {{200, R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,)"
              R"("tool_calls":[{"id":"c1","type":"function","function":"hardware"}]}}]})"}},
       "malformed answer"},
  };
  for (const Way& w : ways) {
    FakeModel model(w.script);
    Node node(model.port(), 1);
    Exit e = node.ask("how many GPUs does this node have?");
    ASSERT_EQ(e.code, 0) << w.name << ": " << e.out;
    EXPECT_NE(e.out.find("answered without it"), std::string::npos) << w.name << ": " << e.out;
    EXPECT_NE(e.out.find(w.said), std::string::npos) << w.name << ": " << e.out;
    EXPECT_NE(e.out.find("This machine has 8 gpus"), std::string::npos) << w.name << ": " << e.out;
  }
  // Down: nothing listens on the port.
  int port = 0;
  {
    FakeModel gone({});
    port = gone.port();
  }
  Node node(port, 1);
  Exit e = node.ask("how many GPUs does this node have?");
  EXPECT_NE(e.out.find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("This machine has 8 gpus"), std::string::npos) << e.out;
}

// An https:// endpoint is spoken to over TLS when its certificate chains to copilot.ca_file and
// names the host; nothing private reaches it there either.
TEST(ModelTest, AnHttpsEndpointWithItsCaIsSpokenToOverTls) {
  if (!have_openssl_command()) GTEST_SKIP() << "the openssl command is not installed";
  TempDir certs("copilot-tls");
  const Cert cert = make_cert(certs.path(), "IP:127.0.0.1");
  FakeModel model({{200, tool_call("hardware", "{}")},
                   {200, final_answer("<HOST_1> has 8 GPUs, said over TLS.")}},
                  cert);
  Node node(model.port(), 5, "https", "ca_file = \"" + cert.cert.string() + "\"\n");
  Exit e = node.ask(kQuestion);
  ASSERT_EQ(e.code, 0) << e.out;
  EXPECT_NE(e.out.find(std::string(kHost) + " has 8 GPUs, said over TLS."), std::string::npos)
      << e.out;
  const auto got = model.received();
  ASSERT_EQ(got.size(), 2u) << e.out;
  for (const std::string& body : got) {
    for (const char* planted : {kEmail, kToken, kHost, kUser})
      EXPECT_EQ(body.find(planted), std::string::npos) << planted << " left in:\n" << body;
  }
}

// A certificate that does not chain to a trusted CA, or names another host, is refused: the
// question is answered without the model and nothing is sent.
TEST(ModelTest, AnUntrustedOrMisnamedCertificateIsRefused) {
  if (!have_openssl_command()) GTEST_SKIP() << "the openssl command is not installed";
  TempDir certs("copilot-tls");
  const Cert right = make_cert(certs.path(), "IP:127.0.0.1");
  fs::create_directories(certs.path() / "other");
  const Cert other = make_cert(certs.path() / "other", "DNS:elsewhere.example");
  struct Way {
    Cert served;
    std::string ca_key;
    std::string said;
  };
  const std::vector<Way> ways = {
      {right, "", "self-signed certificate"},
      {other, "ca_file = \"" + other.cert.string() + "\"\n", "IP address mismatch"},
  };
  for (const Way& w : ways) {
    FakeModel model({{200, final_answer("must not be shown")}}, w.served);
    Node node(model.port(), 5, "https", w.ca_key);
    Exit e = node.ask("how many GPUs does this node have?");
    ASSERT_EQ(e.code, 0) << e.out;
    EXPECT_NE(e.out.find("was refused: " + w.said), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("This machine has 8 gpus"), std::string::npos) << e.out;
    EXPECT_EQ(e.out.find("must not be shown"), std::string::npos) << e.out;
    EXPECT_TRUE(model.received().empty());
  }
}

}  // namespace
}  // namespace aion::testing
