// Sends at least 10,000 malformed, oversized or random requests to aiond's unix socket. The
// daemon must stay up and answer each with a 4xx in the JSON error envelope.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "support/daemon_harness.h"
#include "support/scale.h"

namespace aion::testing {
namespace {

// One connection: send, half-close, read the whole answer.
std::string exchange(const std::string& socket_path, const std::string& bytes) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}

  std::string next(int i) {
    switch (i % 10) {
      case 0: return random_bytes(1 + pick(2000));
      case 1: return mutate("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n");
      case 2: return "GET " + std::string("/v1/fuzz/") + token() + " HTTP/1.1\r\nHost: x\r\n\r\n";
      case 3: return "PATCH /v1/status HTTP/1.1\r\nHost: x\r\n\r\n";
      case 4: return post("/v1/events", random_json_junk());
      case 5:
        return post("/v1/events",
                    std::string(2 * 1024 * 1024 + pick(1000), 'a'));  // over the limit
      case 6:
        return "GET /v1/status HTTP/1.1\r\nX-Big: " + std::string(20000 + pick(20000), 'h') +
               "\r\n\r\n";
      case 7:
        return "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               token() + "\r\nzz\r\n";
      case 8: return "GET /v1/events?limit=" + token() + "x HTTP/1.1\r\nHost: x\r\n\r\n";
      default:
        return "GET /v1/status HTTP/" + std::to_string(pick(10)) + "." +
               std::to_string(2 + pick(8)) + "\r\n\r\n";
    }
  }

 private:
  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(pick(256));
    // Never a valid request by accident: start with a byte no method starts with.
    s[0] = static_cast<char>(0x80 | pick(128));
    return s;
  }
  std::string token() {
    static const char* chars = "abcxyz019-_%~!$";
    std::string s;
    for (std::size_t i = 0, n = 1 + pick(12); i < n; ++i) s += chars[pick(15)];
    return s;
  }
  // Breaks the request line so the result is never valid.
  std::string mutate(std::string s) {
    std::size_t pos = pick(12);  // inside "GET /v1/status HTTP/1.1"
    switch (pick(3)) {
      case 0: s[pos] = static_cast<char>(1 + pick(31)); break;  // control character
      case 1: s.insert(pos, std::string(1 + pick(5), ' ') + "\x7f"); break;
      default: s = s.substr(0, 4 + pick(14)) + "\r\n\r\n"; break;  // truncated request line
    }
    return s;
  }
  std::string post(const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  std::string random_json_junk() {
    switch (pick(6)) {
      case 0: return "{";
      case 1: return "[\"message\"]";
      case 2: return "{\"message\": " + std::to_string(pick(1000)) + "}";
      case 3: return "{\"message\": \"\"}";
      case 4: return "{\"message\": \"x\", \"severity\": \"" + token() + "\"}";
      default: return random_bytes(1 + pick(300));
    }
  }
  std::mt19937 rng_;
};

TEST(FuzzTest, TenThousandBadRequestsAllGet4xxEnvelopes) {
  constexpr int kRequests = 10000 / kStressDivisor;  // a thousand under the sanitizers
  DaemonHarness h;
  ASSERT_TRUE(h.start());
  Generator gen(42);
  std::map<int, int> by_status;
  for (int i = 0; i < kRequests; ++i) {
    std::string req = gen.next(i);
    std::string res = exchange(h.socket().string(), req);
    ASSERT_EQ(res.rfind("HTTP/1.1 4", 0), 0u)
        << "request " << i << " (kind " << i % 10 << ") got: " << res.substr(0, 200)
        << "\nrequest: " << req.substr(0, 200);
    ASSERT_NE(res.find("{\"error\":{\"code\":"), std::string::npos)
        << "request " << i << ": " << res.substr(0, 300);
    by_status[std::stoi(res.substr(9, 3))]++;
  }
  auto c = h.client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->get("/v1/status")->status, 200) << "the daemon is still up";
  std::string summary;
  for (auto [s, n] : by_status) summary += " " + std::to_string(s) + "x" + std::to_string(n);
  std::printf("status codes:%s\n", summary.c_str());
  EXPECT_GE(by_status.size(), 5u);
}

}  // namespace
}  // namespace aion::testing
