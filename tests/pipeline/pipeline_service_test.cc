// Service stages: health checks against a real (tiny) HTTP backend, the stable proxy port,
// switching to a new version only once it is healthy, keeping the old one when the new one
// never is, restarts, and re-opening the proxy after a daemon restart. Loopback sockets only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "aion/pipeline/pipeline_proxy.h"
#include "pipeline_engine_util.h"
#include "support/sockets.h"

namespace aion::pipeline {
namespace {

using test::Engine;

// An HTTP server on 127.0.0.1:port answering every request with 200 and `body`.
// Thread-safe to destroy from the test thread (stop flag, joined).
class TinyHttp {
 public:
  // `patience`: how long a request may take to arrive.
  TinyHttp(int port, std::string body, int patience_ms = 1000)
      : body_(std::move(body)), patience_ms_(patience_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    thread_ = std::thread([this] { loop(); });
  }
  ~TinyHttp() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  int requests() const { return requests_.load(); }
  int accepted() const { return accepted_.load(); }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, patience_ms_) != 1) break;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      ++requests_;
      std::string reply = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
                          "\r\nConnection: close\r\n\r\n" + body_;
      aion::testing::send_all(c, reply);
      ::close(c);
    }
  }
  int fd_ = -1;
  bool ok_ = false;
  std::string body_;
  int patience_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// GET / through 127.0.0.1:port; the reply's body ("" when no reply).
std::string fetch(int port) {
  int fd = aion::testing::connect_from("127.0.0.1", port);
  if (fd < 0) return "";
  aion::testing::send_all(fd, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
  std::string r = aion::testing::read_until_closed(fd, std::chrono::seconds(5));
  ::close(fd);
  auto body = r.find("\r\n\r\n");
  return body == std::string::npos ? "" : r.substr(body + 4);
}

std::string service_pipeline(int port, bool restart = true) {
  return R"(name = "web"
[[stage]]
name = "serve"
command = ["serve"]
kind = "service"
retries = 0
backoff_s = 1
[stage.service]
port = )" +
         std::to_string(port) +
         R"(
health_path = "/health"
health_timeout_s = 5
restart = )" +
         (restart ? "true" : "false") + "\n";
}

int backend_port_of(Engine& e, std::int64_t job) {
  return std::stoi(e.jobs.spec(job).env.at("PORT"));
}

TEST(PipelineService, HealthCheckedVersionsSwapBehindTheStablePort) {
  Engine e;
  const int port = aion::testing::free_port();
  ASSERT_NE(port, 0);
  auto r1 = e.run(service_pipeline(port));
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 1u);
  TinyHttp v1(backend_port_of(e, 1), "v1");
  ASSERT_TRUE(v1.ok());
  e.svc->tick();  // still pending: no health check yet
  EXPECT_EQ(e.state(r1, "serve"), "running");
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();
  EXPECT_EQ(e.state(r1, "serve"), "succeeded");
  EXPECT_EQ(e.run_state(r1), "succeeded");  // the run ends; the service keeps running
  EXPECT_EQ(fetch(port), "v1");

  // A second version: the proxy keeps v1 until v2 answers its health check.
  auto r2 = e.run(service_pipeline(port));
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 2u);
  e.jobs.set(2, JobPhase::kRunning);
  e.svc->tick();
  EXPECT_EQ(e.state(r2, "serve"), "running");
  EXPECT_EQ(fetch(port), "v1");
  EXPECT_TRUE(e.jobs.cancelled().empty());
  TinyHttp v2(backend_port_of(e, 2), "v2");
  ASSERT_TRUE(v2.ok());
  e.svc->tick();
  EXPECT_EQ(e.state(r2, "serve"), "succeeded");
  EXPECT_EQ(fetch(port), "v2");
  EXPECT_EQ(e.jobs.cancelled(), std::vector<std::int64_t>{1});  // the old version, after
  auto services = e.svc->services();
  ASSERT_TRUE(services);
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0]["job_id"], 2);
  EXPECT_EQ((*services)[0]["run_id"], r2);

  // A version that never gets healthy is cancelled; the live one keeps serving.
  auto r3 = e.run(service_pipeline(port));
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 3u);
  e.jobs.set(3, JobPhase::kRunning);
  e.svc->tick();
  e.advance_s(5);
  e.svc->tick();
  EXPECT_EQ(e.state(r3, "serve"), "failed");
  EXPECT_NE(e.stage(r3, "serve")["message"].get<std::string>().find("not healthy within 5 s"),
            std::string::npos);
  EXPECT_EQ(e.jobs.cancelled(), (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(fetch(port), "v2");
}

// A request that v1 is answering when v2 takes over (the client sent half of it through the
// proxy) finishes on v1; v1 is stopped once it has none left, or when the drain runs out.
TEST(PipelineService, AReplacedVersionFinishesItsRequestsBeforeItIsStopped) {
  using namespace std::chrono_literals;
  Engine e;
  const int port = aion::testing::free_port();
  ASSERT_NE(port, 0);
  auto live = [&](std::int64_t job, const char* body) {
    e.run(service_pipeline(port));
    e.svc->tick();
    auto v = std::make_unique<TinyHttp>(backend_port_of(e, job), body, 20000);
    e.jobs.set(job, JobPhase::kRunning);
    e.svc->tick();
    return v;
  };
  auto half_request = [&](TinyHttp& backend) {
    const int before = backend.accepted();
    int c = aion::testing::connect_from("127.0.0.1", port);
    aion::testing::send_all(c, "GET / HTTP/1.0\r\n");
    for (int i = 0; i < 500 && backend.accepted() == before; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(backend.accepted(), before + 1) << "the proxy did not pass the connection on";
    return c;
  };
  auto v1 = live(1, "v1");
  ASSERT_TRUE(v1->ok());
  ASSERT_EQ(fetch(port), "v1");
  const int c1 = half_request(*v1);

  auto v2 = live(2, "v2");
  ASSERT_TRUE(v2->ok());
  EXPECT_EQ(fetch(port), "v2");  // new connections go to v2 at once
  e.svc->tick();
  EXPECT_TRUE(e.jobs.cancelled().empty()) << "v1 was stopped with a request under way";
  aion::testing::send_all(c1, "\r\n");
  const std::string reply = aion::testing::read_until_closed(c1, 5s);
  ::close(c1);
  EXPECT_NE(reply.find("v1"), std::string::npos) << reply;
  for (int i = 0; i < 100 && e.jobs.cancelled().empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    e.svc->tick();
  }
  EXPECT_EQ(e.jobs.cancelled(), std::vector<std::int64_t>{1});

  // A connection that never ends does not keep v2 forever.
  const int c2 = half_request(*v2);
  auto v3 = live(3, "v3");
  ASSERT_TRUE(v3->ok());
  e.svc->tick();
  EXPECT_EQ(e.jobs.cancelled(), std::vector<std::int64_t>{1});
  e.advance_s(31);
  e.svc->tick();
  EXPECT_EQ(e.jobs.cancelled(), (std::vector<std::int64_t>{1, 2}));
  aion::testing::send_all(c2, "\r\n");
  ::close(c2);
}

TEST(PipelineService, ALiveServiceWhoseJobEndsIsRestartedAndTheProxyFollows) {
  Engine e;
  const int port = aion::testing::free_port();
  auto r1 = e.run(service_pipeline(port));
  e.svc->tick();
  auto v1 = std::make_unique<TinyHttp>(backend_port_of(e, 1), "v1");
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();
  ASSERT_EQ(fetch(port), "v1");
  v1.reset();
  e.jobs.set(1, JobPhase::kFailed, 137);
  e.svc->tick();
  EXPECT_EQ(e.state(r1, "serve"), "waiting");
  e.advance_s(1);
  e.svc->tick();
  ASSERT_EQ(e.jobs.count(), 2u);
  TinyHttp v1b(backend_port_of(e, 2), "v1-restarted");
  e.jobs.set(2, JobPhase::kRunning);
  e.svc->tick();
  EXPECT_EQ(e.state(r1, "serve"), "succeeded");
  EXPECT_EQ(e.run_state(r1), "succeeded");
  EXPECT_EQ(fetch(port), "v1-restarted");
}

TEST(PipelineService, TheProxyIsReopenedAfterARestart) {
  Engine e("state.db");
  const int port = aion::testing::free_port();
  e.run(service_pipeline(port));
  e.svc->tick();
  TinyHttp v1(backend_port_of(e, 1), "v1");
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();
  ASSERT_EQ(fetch(port), "v1");
  e.reopen();  // the old service closed its proxy
  EXPECT_EQ(fetch(port), "");
  ASSERT_TRUE(e.svc->recover());
  EXPECT_EQ(fetch(port), "v1");
  e.svc->tick();
  EXPECT_EQ(e.jobs.count(), 1u);
}

TEST(PipelineService, CancellingTheRunStopsItsLiveService) {
  Engine e;
  const int port = aion::testing::free_port();
  auto r1 = e.run(service_pipeline(port));
  e.svc->tick();
  TinyHttp v1(backend_port_of(e, 1), "v1");
  e.jobs.set(1, JobPhase::kRunning);
  e.svc->tick();
  ASSERT_EQ(fetch(port), "v1");
  ASSERT_TRUE(e.svc->cancel(r1));
  EXPECT_EQ(e.jobs.cancelled(), std::vector<std::int64_t>{1});
  EXPECT_EQ(fetch(port), "");
  auto services = e.svc->services();
  ASSERT_TRUE(services);
  EXPECT_TRUE(services->empty());
}

TEST(PipelineService, HealthProbeNeedsA200) {
  EXPECT_FALSE(http_health_ok(aion::testing::free_port(), "/health", 200));
  int port = aion::testing::free_port();
  TinyHttp ok(port, "fine");
  EXPECT_TRUE(http_health_ok(port, "/health", 1000));
  EXPECT_EQ(ok.requests(), 1);
}

}  // namespace
}  // namespace aion::pipeline
