// A peer tries to stall aiond's API for everybody: it holds hundreds of connections busy on a
// slow route, trickles a request header byte by byte (slowloris), opens an event stream and
// never reads it, or hammers the doctor so that NVML is loaded again and again. Each test
// runs the API server in-process on loopback and checks that the other peer is still served
// promptly and the attacker is capped, closed or shared.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "aion/api/server.h"
#include "aion/diagnose/incident_json.h"
#include "aion/diagnose/service.h"
#include "support/fixtures.h"
#include "support/sockets.h"
#include "support/temp_dir.h"

namespace aion::api {
namespace {

using namespace std::chrono_literals;
using aion::testing::connect_from;
using aion::testing::read_until_closed;
using aion::testing::send_all;
using SteadyClock = std::chrono::steady_clock;

// A route that takes as long as a big query or a doctor run on a busy node.
constexpr auto kSlowHandler = 300ms;

Router flood_router() {
  Router r;
  r.add({"GET", "/v1/status", Role::kViewer, "status",
         [](Request&) { return Response::json_text(200, "{\"ok\":true}"); }, true});
  r.add({"GET", "/v1/slow", Role::kViewer, "slow", [](Request&) {
           std::this_thread::sleep_for(kSlowHandler);
           return Response::json_text(200, "{}");
         }});
  return r;
}

std::unique_ptr<Server> start_tcp(const Router& router, ServerOptions o = {}) {
  o.tcp_listen = "127.0.0.1:0";
  o.tcp_anonymous = true;
  auto s = std::make_unique<Server>(o, router, nullptr);
  auto st = s->start();
  EXPECT_TRUE(st) << (st ? "" : st.error().message());
  return s;
}

int port_of(const Server& s) {
  for (const auto& l : s.listeners()) {
    if (l.kind == "tcp") return std::stoi(l.address.substr(l.address.rfind(':') + 1));
  }
  return 0;
}

void raise_fd_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
}

TEST(ApiFloodTest, PeerHolding500BusyConnectionsIsCappedAndAnotherPeerGetsStatusPromptly) {
  raise_fd_limit();
  Router router = flood_router();
  auto server = start_tcp(router);
  const int port = port_of(*server);
  ASSERT_GT(port, 0);

  // The attacker, 127.0.0.2, opens 500 connections and sends the slow request on each.
  std::vector<int> held;
  for (int i = 0; i < 500; ++i) {
    int fd = connect_from("127.0.0.2", port);
    if (fd < 0) break;
    (void)send_all(fd, "GET /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n");
    held.push_back(fd);
  }
  ASSERT_EQ(held.size(), 500u);
  std::this_thread::sleep_for(200ms);

  // Another peer, 127.0.0.1, asks for the status.
  auto t0 = SteadyClock::now();
  int fd = connect_from("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string answer = read_until_closed(fd, 10s);
  auto took = SteadyClock::now() - t0;
  ::close(fd);
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << answer;
  EXPECT_LT(took, 1s) << "GET /v1/status took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms while another peer flooded the server";

  // The attacker got at most the per-peer cap of connections; the rest were refused.
  int refused = 0;
  for (int h : held) {
    std::string got = read_until_closed(h, 50ms);
    if (got.find("429") != std::string::npos) ++refused;
    ::close(h);
  }
  EXPECT_GE(refused, 500 - ServerOptions{}.max_connections_per_peer);
  server->stop(0ms);
}

TEST(ApiFloodTest, SlowlorisHeaderTrickledByteBySecondIsClosedWithinTheHeaderTimeout) {
  Router router = flood_router();
  ServerOptions o;
  o.header_timeout = 2s;
  auto server = start_tcp(router, o);
  const int port = port_of(*server);
  int fd = connect_from("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  const std::string header =
      "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(200, 'a') + "\r\n\r\n";
  auto t0 = SteadyClock::now();
  bool closed = false;
  for (std::size_t i = 0; i < header.size() && SteadyClock::now() - t0 < 8s; ++i) {
    if (!send_all(fd, header.substr(i, 1))) {
      closed = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      char c;
      if (::recv(fd, &c, 1, MSG_DONTWAIT) <= 0) {
        closed = true;
        break;
      }
    }
  }
  auto took = SteadyClock::now() - t0;
  ::close(fd);
  EXPECT_TRUE(closed) << "the server still waited for the header after 8 s";
  EXPECT_LT(took, o.header_timeout + 2s);
  server->stop(0ms);
}

// An endless stream of 64 KiB frames.
class FloodSse : public SseSource {
 public:
  explicit FloodSse(std::atomic<long>* polled) : polled_(polled) {}
  bool poll(std::string& out) override {
    ++*polled_;
    out += "data: " + std::string(64 * 1024, 'x') + "\n\n";
    return true;
  }

 private:
  std::atomic<long>* polled_;
};

TEST(ApiFloodTest, EventStreamClientThatNeverReadsIsDroppedWithBoundedBuffering) {
  std::atomic<long> polled{0};
  Router router = flood_router();
  router.add({"GET", "/v1/stream", Role::kViewer, "stream", [&polled](Request&) {
                Response r;
                r.sse = std::make_shared<FloodSse>(&polled);
                return r;
              }});
  ServerOptions o;
  o.write_timeout = 1s;
  o.max_streams_per_peer = 1;
  auto server = start_tcp(router, o);
  const int port = port_of(*server);
  auto open_stream = [port] {
    int fd = connect_from("127.0.0.1", port);
    if (fd >= 0) (void)send_all(fd, "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    return fd;
  };
  int fd = open_stream();
  ASSERT_GE(fd, 0);
  // Never read. While the server still holds this stream, the peer's one stream slot is taken.
  std::this_thread::sleep_for(200ms);
  int second = open_stream();
  std::string refused = read_until_closed(second, 2s);
  ::close(second);
  EXPECT_NE(refused.find("429"), std::string::npos) << refused.substr(0, 200);
  // After write_timeout the server gives up on the reader that does not read.
  std::this_thread::sleep_for(4s);
  const long frames = polled.load();
  // Frames produced while the peer did not read: what the socket buffers hold, not more.
  EXPECT_LT(frames, 200) << "the server kept producing frames for a peer that does not read";
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(polled.load(), frames) << "the stream is still being polled";
  // The stream was dropped, so its slot is free again: a new stream is served.
  int third = open_stream();
  std::string served = read_until_closed(third, 1s);
  ::close(third);
  EXPECT_NE(served.find("200 OK"), std::string::npos)
      << "the stream of a peer that never reads is still held: " << served.substr(0, 200);
  ::close(fd);
  server->stop(0ms);
}

TEST(ApiFloodTest, ConcurrentDoctorCallsLoadNvmlOncePerCachePeriod) {
  const ::aion::testing::TempDir tmp("doctor");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "nvml.json") << R"({"driver_version":"550.54.14","gpus":[]})";
  const auto count_file = dir / "inits";
  ::setenv("AION_FAKE_NVML", (dir / "nvml.json").c_str(), 1);
  ::setenv("AION_FAKE_NVML_INIT_LOG", count_file.c_str(), 1);

  diagnose::DoctorCache cache(
      [] {
        return diagnose::run_doctor(HostFs(::aion::testing::hw_fixture_root("dgx-a100")),
                                    {.nvml_library = FAKE_NVML_PATH});
      },
      60s, Clock::system());
  Router router = flood_router();
  router.add({"GET", "/v1/doctor", Role::kViewer, "doctor", [&cache](Request&) {
                return Response::json_text(200, diagnose::doctor_json(cache.get()).dump());
              }});
  auto server = start_tcp(router);
  const int port = port_of(*server);

  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] {
      for (int j = 0; j < 4; ++j) {
        int fd = connect_from("127.0.0.1", port);
        if (fd < 0) return;
        (void)send_all(fd, "GET /v1/doctor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (read_until_closed(fd, 20s).find("200 OK") != std::string::npos) ++ok;
        ::close(fd);
      }
    });
  }
  for (auto& t : callers) t.join();
  server->stop(0ms);
  EXPECT_EQ(ok.load(), 64);
  std::ifstream in(count_file);
  std::string inits((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(inits.size(), 1u) << "NVML was initialised " << inits.size()
                              << " times for 64 doctor calls within one cache period";
  ::unsetenv("AION_FAKE_NVML_INIT_LOG");
}

}  // namespace
}  // namespace aion::api
