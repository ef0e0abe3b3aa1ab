// A peer on the network reads what it should not or catches secrets in transit: it sniffs
// bearer tokens on plain TCP, speaks plain HTTP to the TLS port, scrapes /metrics without a
// token for job names and users, or double-encodes a path parameter to smuggle "..". The
// servers listen on loopback, or on an address of a network namespace the test creates.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>  // Boost 1.74 asio needs it under C++23

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "aion/api/server.h"
#include "aion/core/json.h"
#include "aion/telemetry/exposition.h"
#include "support/daemon_harness.h"
#include "support/sockets.h"
#include "support/temp_dir.h"

namespace aion::api {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using aion::testing::DaemonHarness;
using aion::testing::Exit;
using aion::testing::run_program;
using aion::testing::TempDir;

Router echo_router() {
  Router r;
  r.add({"GET", "/v1/status", Role::kViewer, "status",
         [](Request& q) {
           return Response::json_text(200, Json{{"caller", q.caller.name}}.dump());
         },
         true});
  r.add({"GET", "/v1/files/{name}", Role::kViewer, "param echo", [](Request& q) {
           return Response::json_text(200, Json{{"name", q.params.at("name")}}.dump());
         }});
  return r;
}

Result<Identity> good_token(std::string_view token) {
  if (token == "good") return Identity{Role::kViewer, "token:good", -1};
  return fail(ErrorCode::kUnauthenticated, "unknown token");
}

int port_of(const Server& s) {
  for (const auto& l : s.listeners()) {
    if (l.kind == "tcp") return std::stoi(l.address.substr(l.address.rfind(':') + 1));
  }
  return 0;
}

// A self-signed certificate for CN=localhost, made with the openssl command.
bool make_certificate(const fs::path& dir) {
  Exit e =
      run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                   (dir / "key.pem").string(), "-out", (dir / "cert.pem").string(), "-days", "1",
                   "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"});
  return e.code == 0 && fs::exists(dir / "cert.pem");
}

TEST(ApiNetworkTest, TlsListenerServesTlsClientsAndRejectsPlainHttp) {
  TempDir dir("sec");
  if (!make_certificate(dir.path())) GTEST_SKIP() << "the openssl command is missing";
  Router router = echo_router();
  ServerOptions o;
  o.tcp_listen = "127.0.0.1:0";
  o.tls_cert = dir.path() / "cert.pem";
  o.tls_key = dir.path() / "key.pem";
  Server server(o, router, good_token);
  auto st = server.start();
  ASSERT_TRUE(st) << st.error().message();
  const int port = port_of(server);

  // A TLS client that trusts the test certificate, with a token.
  net::io_context ioc;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file((dir.path() / "cert.pem").string());
  ctx.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<net::ip::tcp::socket> tls(ioc, ctx);
  tls.next_layer().connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  tls.handshake(net::ssl::stream_base::client);
  http::request<http::string_body> req{http::verb::get, "/v1/status", 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::authorization, "Bearer good");
  http::write(tls, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(tls, buf, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("token:good"), std::string::npos) << res.body();

  // Plain HTTP to the TLS port gets no HTTP answer.
  int fd = aion::testing::connect_from("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(aion::testing::send_all(fd, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string plain = aion::testing::read_until_closed(fd, 5s);
  ::close(fd);
  EXPECT_EQ(plain.find("HTTP/1.1 200"), std::string::npos) << plain;
  EXPECT_TRUE(aion::testing::last_read_closed);
  server.stop(0ms);
}

TEST(ApiNetworkTest, PlaintextTokensAreRefusedOnlyOffLoopbackWithoutTlsOrConsent) {
  EXPECT_TRUE(plaintext_tokens_refused("192.0.2.1", false, true, false));
  EXPECT_TRUE(plaintext_tokens_refused("0.0.0.0", false, true, false));
  EXPECT_TRUE(plaintext_tokens_refused("::", false, true, false));
  EXPECT_FALSE(plaintext_tokens_refused("127.0.0.1", false, true, false));
  EXPECT_FALSE(plaintext_tokens_refused("127.0.0.2", false, true, false));
  EXPECT_FALSE(plaintext_tokens_refused("::1", false, true, false));
  EXPECT_FALSE(plaintext_tokens_refused("192.0.2.1", true, true, false));    // TLS
  EXPECT_FALSE(plaintext_tokens_refused("192.0.2.1", false, false, false));  // no tokens
  EXPECT_FALSE(plaintext_tokens_refused("192.0.2.1", false, true, true));    // operator's choice
}

// In a network namespace of its own with 192.0.2.1 (TEST-NET-1, which exists only inside
// that namespace) on a dummy interface, or on the namespace's lo where there is no dummy module, a
// server that would take bearer tokens there in clear text refuses to start and says how to fix it.
// Nothing is sent on the network.
TEST(ApiNetworkTest, ServerRefusesToStartWithPlaintextTokensOnANonLoopbackAddress) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
    // A dummy link where the kernel has the module; else the address on the namespace's lo.
    const bool dummy =
        run_program({"/usr/sbin/ip", "link", "add", "dummy0", "type", "dummy"}).code == 0;
    const std::string dev = dummy ? "dummy0" : "lo";
    for (auto argv : std::vector<std::vector<std::string>>{
             {"/usr/sbin/ip", "addr", "add", "192.0.2.1/32", "dev", dev},
             {"/usr/sbin/ip", "link", "set", dev, "up"}}) {
      if (run_program(argv).code != 0) ::_exit(2);
    }
    Router router = echo_router();
    ServerOptions o;
    o.tcp_listen = "192.0.2.1:0";
    {
      Server refused(o, router, good_token);
      auto st = refused.start();
      if (st) ::_exit(1);
      if (st.error().message().find("allow_plaintext_tokens") == std::string::npos) ::_exit(3);
    }
    o.allow_plaintext_tokens = true;
    Server allowed(o, router, good_token);
    if (!allowed.start()) ::_exit(4);
    allowed.stop(0ms);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot make a network namespace with a dummy link";
  EXPECT_NE(WEXITSTATUS(status), 1) << "the server started and would take tokens in clear text";
  EXPECT_NE(WEXITSTATUS(status), 3) << "the refusal does not say how to fix it";
  EXPECT_NE(WEXITSTATUS(status), 4) << "allow_plaintext_tokens = true did not start the server";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

std::string tcp_address(DaemonHarness& h) {
  auto c = h.client();
  if (!c) return {};
  auto status = c->get("/v1/status");
  if (!status) return {};
  const Json parsed = Json::parse(status->body);
  for (const auto& l : parsed["listeners"]) {
    if (l["kind"] == "tcp") return l["address"];
  }
  return {};
}

TEST(ApiNetworkTest, MetricsOnTcpNeedATokenUnlessMadePublic) {
  for (bool make_public : {false, true}) {
    DaemonHarness h;
    h.write_config(std::string("[api.tcp]\nenabled = true\nlisten = \"127.0.0.1:0\"\n") +
                   (make_public ? "[telemetry]\nmetrics_public = true\n" : ""));
    auto st = h.start();
    ASSERT_TRUE(st) << st.error().message() << h.log();
    const std::string target = tcp_address(h);
    ASSERT_FALSE(target.empty());
    auto c = Client::connect_tcp(target, "");
    ASSERT_TRUE(c) << c.error().message();
    auto r = c->get("/metrics");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, make_public ? 200 : 401)
        << "metrics_public=" << make_public << " " << r->body;
  }
}

TEST(ApiNetworkTest, ExpositionLeavesOutUserAndJobNameLabelsByDefault) {
  telemetry::MetricFamily f{"aion_job_memory_bytes", "Memory", telemetry::MetricType::kGauge, {}};
  f.add({{"job", "7"}, {"name", "alice-secret-project"}, {"user", "alice"}, {"queue", "gpu"}},
        1024);
  const std::string hidden = telemetry::render_exposition({f});
  EXPECT_EQ(hidden.find("alice"), std::string::npos) << hidden;
  EXPECT_NE(hidden.find("job=\"7\""), std::string::npos) << hidden;
  const std::string shown = telemetry::render_exposition({f}, {.identity_labels = true});
  EXPECT_NE(shown.find("user=\"alice\""), std::string::npos) << shown;
}

TEST(ApiNetworkTest, DoubleEncodedPathParameterIsDecodedOnce) {
  Router router = echo_router();
  ServerOptions o;
  o.tcp_listen = "127.0.0.1:0";
  o.tcp_anonymous = true;
  Server server(o, router, nullptr);
  ASSERT_TRUE(server.start());
  auto c = Client::connect_tcp("127.0.0.1:" + std::to_string(port_of(server)), "");
  ASSERT_TRUE(c);
  auto r = c->get("/v1/files/%252e%252e");
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body).value("name", ""), "%2e%2e") << r->body;
  auto slash = c->get("/v1/files/a%2Fb");
  ASSERT_TRUE(slash);
  EXPECT_EQ(Json::parse(slash->body).value("name", ""), "a/b") << slash->body;
  server.stop(0ms);
}

}  // namespace
}  // namespace aion::api
