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
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

struct Reply {
  int status = 200;
  std::string body;
  int delay_ms = 0;
  // Server-sent events, each sent as its own HTTP chunk (Transfer-Encoding: chunked), as
  // vLLM and llama.cpp's server stream: `body` is then ignored.
  std::vector<std::string> events;
};

// A certificate and its key for the TLS server, made by the openssl command.
struct Cert {
  fs::path cert, key;
};

// One accepted connection, plain or TLS; reads and writes block.
struct Peer {
  int fd = -1;
  SSL* ssl = nullptr;
  ssize_t read(char* buf, std::size_t n) const {
    return ssl ? SSL_read(ssl, buf, static_cast<int>(n)) : ::read(fd, buf, n);
  }
  void write(const std::string& s) const {
    if (ssl)
      SSL_write(ssl, s.data(), static_cast<int>(s.size()));
    else [[maybe_unused]]
      auto w = ::write(fd, s.data(), s.size());
  }
  void close() const {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ::close(fd);
  }
};

// A one-thread HTTP/1.1 server on 127.0.0.1 (over TLS with `cert`) answering each POST with
// the next scripted reply (500 once the script is done) and keeping every request body it
// received.
class FakeModel {
 public:
  explicit FakeModel(std::vector<Reply> script, std::optional<Cert> cert = std::nullopt)
      : script_(std::move(script)) {
    if (cert) {
      tls_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate_chain_file(tls_, cert->cert.c_str());
      SSL_CTX_use_PrivateKey_file(tls_, cert->key.c_str(), SSL_FILETYPE_PEM);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t n = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeModel() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    if (tls_) SSL_CTX_free(tls_);
  }
  int port() const { return port_; }
  std::vector<std::string> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      Peer c{::accept(fd_, nullptr, nullptr)};
      if (c.fd < 0) continue;
      if (tls_) {
        c.ssl = SSL_new(tls_);
        SSL_set_fd(c.ssl, c.fd);
        if (SSL_accept(c.ssl) != 1) {  // the client refused the certificate
          c.close();
          continue;
        }
      }
      answer(c);
    }
  }
  void answer(const Peer& c) {
    std::string in;
    char buf[65536];
    std::size_t need = std::string::npos;
    while (need == std::string::npos || in.size() < need) {
      const ssize_t n = c.read(buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
      const auto end = in.find("\r\n\r\n");
      if (need == std::string::npos && end != std::string::npos) {
        std::string head = in.substr(0, end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const auto cl = head.find("content-length:");
        need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15)));
      }
    }
    Reply r{500, R"({"error":{"message":"script exhausted"}})", 0};
    {
      std::lock_guard lock(mu_);
      received_.push_back(in.substr(std::min(in.size(), in.find("\r\n\r\n") + 4)));
      if (next_ < script_.size()) r = script_[next_++];
    }
    if (r.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
    if (!r.events.empty()) return stream(c, r.events);
    const std::string out =
        "HTTP/1.1 " + std::to_string(r.status) +
        " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
        "\r\nConnection: close\r\n\r\n" + r.body;
    c.write(out);
    c.close();
  }

  static void stream(const Peer& c, const std::vector<std::string>& events) {
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
        "chunked\r\nConnection: close\r\n\r\n");
    for (const std::string& e : events) {
      const std::string frame = "data: " + e + "\n\n";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", frame.size());
      c.write(size + frame + "\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    c.write("0\r\n\r\n");
    c.close();
  }

  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* tls_ = nullptr;
  std::vector<Reply> script_;
  std::size_t next_ = 0;               // guarded by mu_
  std::vector<std::string> received_;  // guarded by mu_
  mutable std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string completion(const Json& message) {
  return Json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1765100000},
              {"model", "qwen2.5-7b-instruct"},
              {"choices",
               {{{"index", 0},
                 {"message", message},
                 {"finish_reason", message.contains("tool_calls") ? "tool_calls" : "stop"}}}},
              {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 20}, {"total_tokens", 920}}}}
      .dump();
}

std::string tool_call(const std::string& name, const std::string& args) {
  return completion({{"role", "assistant"},
                     {"content", nullptr},
                     {"tool_calls",
                      {{{"id", "call_" + name},
                        {"type", "function"},
                        {"function", {{"name", name}, {"arguments", args}}}}}}});
}

std::string final_answer(const std::string& text) {
  return completion({{"role", "assistant"}, {"content", text}});
}

// A streamed chunk of a chat completion with this delta.
std::string delta(const Json& d) {
  return Json{{"id", "chatcmpl-2"},
              {"object", "chat.completion.chunk"},
              {"model", "qwen2.5-7b-instruct"},
              {"choices", {{{"index", 0}, {"delta", d}, {"finish_reason", nullptr}}}}}
      .dump();
}

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

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1"), made in `dir`.
Cert make_cert(const fs::path& dir, const std::string& san) {
  Cert c{dir / "cert.pem", dir / "key.pem"};
  Exit r = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", c.key.string(), "-out",
                        c.cert.string(), "-days", "2", "-subj", "/CN=aion test endpoint", "-addext",
                        "subjectAltName=" + san});
  EXPECT_EQ(r.code, 0) << r.out;
  return c;
}

bool have_openssl_command() {
  return fs::exists("/usr/bin/openssl");
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
