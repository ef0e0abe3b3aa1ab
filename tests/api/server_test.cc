#include "aion/api/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "aion/api/client.h"
#include "support/sockets.h"
#include "support/temp_dir.h"

namespace aion::api {
namespace {

using namespace std::chrono_literals;

class CountingSse : public SseSource {
 public:
  bool poll(std::string& out) override {
    if (n_ >= 3) return false;
    out += "data: {\"n\":" + std::to_string(n_++) + "}\n\n";
    return true;
  }

 private:
  int n_ = 0;
};

// Never ends: a stream only its peer or the server's stop closes.
class EndlessSse : public SseSource {
 public:
  bool poll(std::string&) override { return true; }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add({"GET", "/v1/status", Role::kViewer, "status", [](Request& q) {
                   return Response::json_text(200,
                                              "{\"caller\":\"" + q.caller.name + "\",\"role\":\"" +
                                                  std::string(to_string(q.caller.role)) + "\"}");
                 }});
    router_.add({"POST", "/v1/echo", Role::kViewer, "echo",
                 [](Request& q) { return Response::json_text(200, q.body); }});
    router_.add({"GET", "/v1/slow", Role::kViewer, "slow", [](Request&) {
                   std::this_thread::sleep_for(300ms);
                   return Response::json_text(200, "{\"slow\":true}");
                 }});
    router_.add({"GET", "/v1/stream", Role::kViewer, "sse", [](Request&) {
                   Response r;
                   r.sse = std::make_shared<CountingSse>();
                   return r;
                 }});
  }

  std::unique_ptr<Server> start(ServerOptions o = {}) {
    o.unix_socket = socket_;
    o.max_body_bytes = 1024;
    auto auth = [](std::string_view token) -> Result<Identity> {
      if (token == "good") return Identity{Role::kOperator, "token:good", -1};
      return fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
    };
    auto s = std::make_unique<Server>(o, router_, auth);
    auto st = s->start();
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    return s;
  }

  ::aion::testing::TempDir tmp_{"srv"};
  std::filesystem::path socket_ = tmp_ / "api.sock";
  Router router_;
};

TEST_F(ServerTest, UnixPeerIsIdentifiedAsAdminWhenSameUser) {
  auto s = start();
  auto c = Client::connect_unix(socket_);
  ASSERT_TRUE(c) << c.error().message();
  auto r = c->get("/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"role\":\"admin\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("uid:" + std::to_string(::geteuid())), std::string::npos);
  // Keep-alive: several requests on one connection.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c->get("/v1/status")->status, 200);
}

TEST_F(ServerTest, SocketHasConfiguredMode) {
  auto s = start({.socket_mode = 0600});
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ServerTest, OversizedBodyGets413Envelope) {
  auto s = start();
  auto c = Client::connect_unix(socket_);
  ASSERT_TRUE(c);
  auto r = c->post("/v1/echo", std::string(5000, 'x'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("\"error\""), std::string::npos);
}

TEST_F(ServerTest, GarbageGets400Envelope) {
  auto s = start();
  auto c = Client::connect_unix(socket_);
  ASSERT_TRUE(c);
  auto raw = c->raw_exchange("\x01\x02 garbage\r\n\r\n");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->rfind("HTTP/1.1 400", 0), 0u) << *raw;
  EXPECT_NE(raw->find("\"code\":\"bad_request\""), std::string::npos);
}

TEST_F(ServerTest, TcpNeedsBearerToken) {
  auto s = start({.tcp_listen = "127.0.0.1:0"});
  std::string addr;
  for (const auto& l : s->listeners()) {
    if (l.kind == "tcp") addr = l.address;
  }
  ASSERT_FALSE(addr.empty());
  auto anon = Client::connect_tcp(addr, "");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->get("/v1/status")->status, 401);
  auto bad = Client::connect_tcp(addr, "revoked");
  EXPECT_EQ(bad->get("/v1/status")->status, 401);
  auto good = Client::connect_tcp(addr, "good");
  auto r = good->get("/v1/status");
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"role\":\"operator\""), std::string::npos);
}

// For the Kubernetes scheduler extender: TCP only, no token, any method.
TEST_F(ServerTest, TcpOnlyServerAdmitsAnonymousCallersWhenAsked) {
  Server s({.tcp_listen = "127.0.0.1:0", .tcp_anonymous = true}, router_, nullptr);
  ASSERT_TRUE(s.start());
  ASSERT_EQ(s.listeners().size(), 1u);
  EXPECT_EQ(s.listeners()[0].kind, "tcp");
  auto anon = Client::connect_tcp(s.listeners()[0].address, "");
  ASSERT_TRUE(anon);
  auto echo = anon->post("/v1/echo", "{\"x\":1}");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body, "{\"x\":1}");
  auto who = anon->get("/v1/status");
  EXPECT_NE(who->body.find("\"caller\":\"anonymous\",\"role\":\"viewer\""), std::string::npos)
      << who->body;
  s.stop(1s);
}

TEST_F(ServerTest, ServerWithoutAnyListenerRefusesToStart) {
  Server s({}, router_, nullptr);
  auto st = s.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ServerTest, StreamsServerSentEvents) {
  auto s = start();
  auto c = Client::connect_unix(socket_);
  std::vector<std::string> got;
  auto st = c->stream("/v1/stream", [&](std::string_view d) {
    got.emplace_back(d);
    return true;
  });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(got, (std::vector<std::string>{"{\"n\":0}", "{\"n\":1}", "{\"n\":2}"}));
}

// A page that reloads closes its event stream and opens another at once: the closed one must
// not hold the peer's stream slot until its next frame or keepalive fails to write.
TEST_F(ServerTest, AClosedStreamFreesItsSlotAtOnce) {
  router_.add({"GET", "/v1/endless", Role::kViewer, "sse", [](Request&) {
                 Response r;
                 r.sse = std::make_shared<EndlessSse>();
                 return r;
               }});
  Server s({.tcp_listen = "127.0.0.1:0", .tcp_anonymous = true, .max_streams_per_peer = 1}, router_,
           nullptr);
  ASSERT_TRUE(s.start());
  const std::string addr = s.listeners().at(0).address;
  const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
  for (int round = 0; round < 3; ++round) {
    int fd = ::aion::testing::connect_from("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    ::aion::testing::send_all(fd, "GET /v1/endless HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got = ::aion::testing::read_until_closed(fd, 300ms);
    EXPECT_NE(got.find("200 OK"), std::string::npos) << "round " << round << ": " << got;
    ::close(fd);
    std::this_thread::sleep_for(50ms);
  }
  s.stop(1s);
}

TEST_F(ServerTest, StopDrainsRequestInFlight) {
  auto s = start();
  std::atomic<int> status{0};
  std::thread t([&] {
    auto c = Client::connect_unix(socket_);
    auto r = c->get("/v1/slow");
    status = r ? r->status : -1;
  });
  std::this_thread::sleep_for(100ms);
  s->stop(2000ms);
  t.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_FALSE(std::filesystem::exists(socket_));
  EXPECT_FALSE(Client::connect_unix(socket_));
}

TEST_F(ServerTest, RefusesSocketThatAnotherServerAnswers) {
  auto s = start();
  Server second({.unix_socket = socket_}, router_, nullptr);
  auto st = second.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConflict);
}

TEST_F(ServerTest, ReplacesStaleSocketFile) {
  { auto s = start(); }
  // The first server removed its socket; a stale file left by a crash is replaced.
  ASSERT_EQ(::close(::open(socket_.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  auto s = start();
  EXPECT_TRUE(Client::connect_unix(socket_));
}

TEST(ClientTest, UnreachableDaemonIsUnavailableWithHint) {
  auto c = Client::connect_unix("/nonexistent/aiond.sock");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(c.error().message().find("aiond is not running"), std::string::npos);
}

TEST(PeerRoleTest, RootAndOwnerAreAdmins) {
  EXPECT_EQ(role_for_peer(0, 0, 1000, "aion-no-such-group"), Role::kAdmin);
  EXPECT_EQ(role_for_peer(1000, 1000, 1000, "aion-no-such-group"), Role::kAdmin);
  EXPECT_EQ(role_for_peer(65534, 65534, 0, "aion-no-such-group"), Role::kViewer);
  EXPECT_EQ(role_for_peer(65534, 0, 1, "root"), Role::kAdmin);  // primary group is the admin group
}

TEST(PeerRoleTest, SupplementaryGroupsAreThoseThePeerHolds) {
  const gid_t holds_root[] = {100, 0};
  EXPECT_EQ(role_for_peer(65534, 65534, holds_root, 1, "root"), Role::kAdmin);
  const gid_t other[] = {100};
  EXPECT_EQ(role_for_peer(65534, 65534, other, 1, "root"), Role::kViewer);
  EXPECT_EQ(role_for_peer(65534, 65534, std::span<const gid_t>(), 1, "root"), Role::kViewer);
}

}  // namespace
}  // namespace aion::api
