// Fuzzes HTTP requests into the real API server, in process: Beast's request parser with the
// server's header and body limits, our target splitting and %-decoding of path and query,
// the bearer-token check, the router's matching of {params}, and the daemon's real route
// table on an in-memory store, so query parameters and bodies reach the handlers that parse
// them (event, job and metric-import bodies, limits, selectors, ids). The server listens on
// loopback TCP (the socket other hosts reach); callers hold an operator token or none.
// Seeds: requests as the CLI, curl and Prometheus send them. Every answer must be a
// well-formed HTTP/1.1 response, errors in the JSON envelope, and no handler may throw.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include <gtest/gtest.h>

#include "aion/api/diagnose_routes.h"
#include "aion/api/hw_watch.h"
#include "aion/api/job_routes.h"
#include "aion/api/logs_routes.h"
#include "aion/api/metrics_routes.h"
#include "aion/api/routes.h"
#include "aion/api/server.h"
#include "aion/store/database.h"
#include "mutator.h"
#include "support/fixtures.h"

namespace aion::api {
namespace {

using fuzz::Verdict;
using namespace std::chrono_literals;

constexpr std::size_t kMaxBody = 64 << 10;

std::string post(const std::string& path, const std::string& body,
                 const std::string& type = "application/json") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer op-token\r\n" +
         "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: aion/0.9\r\nAuthorization: Bearer "
         "op-token\r\nAccept: application/json\r\n" +
         extra + "\r\n";
}

std::vector<std::string> seeds() {
  return {
      get("/v1/status"),
      get("/v1/events?limit=50&since=2026-11-30T00:00:00Z&kind=job"),
      get("/v1/metrics/query?match=gpu_util%7Bgpu%3D%220%22%7D&from=-1h&step=30s&agg=avg"),
      get("/v1/jobs?state=running&user=mira"),
      get("/v1/jobs/12/logs?tail=100&follow=0"),
      get("/v1/incidents/3"),
      get("/v1/logs/recent?source=kmsg&limit=20&grep=Xid"),
      get("/v1/logs/templates?min_count=2"),
      "GET /metrics HTTP/1.1\r\nHost: node07:7070\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: "
      "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
      "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
      get("/v1/metrics"),
      post("/v1/events", R"({"kind":"note","severity":"info","message":"drain for maintenance"})"),
      post("/v1/jobs",
           R"({"command":["/bin/true"],"cwd":"/","resources":{"gpus":0,"cpus":1},"priority":5})"),
      post("/v1/metrics/import",
           "# TYPE train_loss gauge\ntrain_loss{run=\"a\"} 0.25 1764470000000\nup 1\n",
           "text/plain; version=0.0.4"),
      post("/v1/jobs/7/cancel", ""),
      post("/v1/sched/hold", R"({"reason":"maintenance"})"),
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer op-token\r\nTransfer-Encoding: "
      "chunked\r\nContent-Type: application/json\r\n\r\n1a\r\n{\"message\":\"chunked body\"\r\n"
      "1\r\n}\r\n0\r\n\r\n",
      "GET /v1/status HTTP/1.0\r\n\r\n",
      get("/v1/status", "Connection: keep-alive\r\n") + get("/v1/queue"),
      "DELETE /v1/admin/tokens/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n",
  };
}

const std::vector<std::string> kTokens = {"\r\n",
                                          "\r\n\r\n",
                                          ": ",
                                          " ",
                                          "/",
                                          "?",
                                          "&",
                                          "=",
                                          "%",
                                          "%00",
                                          "%2f",
                                          "%2e%2e",
                                          "%zz",
                                          "%",
                                          "%4",
                                          "..",
                                          "//",
                                          "#",
                                          "+",
                                          "{",
                                          "}",
                                          "HTTP/1.1",
                                          "HTTP/1.0",
                                          "HTTP/2.0",
                                          "GET",
                                          "POST",
                                          "PUT",
                                          "HEAD",
                                          "OPTIONS",
                                          "CONNECT",
                                          "Content-Length: ",
                                          "Content-Length: 99999999999999999999",
                                          "Content-Length: -1",
                                          "Transfer-Encoding: chunked",
                                          "Authorization: Bearer ",
                                          "Bearer",
                                          "Connection: close",
                                          "Expect: 100-continue",
                                          "\n",
                                          "\r",
                                          "\t",
                                          "\x7f",
                                          "\xff",
                                          "0\r\n\r\n",
                                          "ffffffffffffffff\r\n",
                                          ";ext=1",
                                          "limit",
                                          "since",
                                          "match",
                                          "step",
                                          "from",
                                          "to",
                                          "tail",
                                          "follow",
                                          "/v1/jobs/",
                                          "/v1/events/stream",
                                          "/v1/incidents/",
                                          "-1",
                                          "18446744073709551616",
                                          "1e308",
                                          "nan"};

// One connection: send, half-close, read the whole answer (a stream is cut after its head).
std::string http_exchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    if (out.find("text/event-stream") != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

// Every response in `res` (one per pipelined request) is a status line, headers and, for an
// error, the JSON envelope; 500 means a handler threw.
std::string check_responses(const std::string& res) {
  std::size_t pos = 0;
  int count = 0;
  while (pos < res.size() && count < 64) {
    if (res.compare(pos, 9, "HTTP/1.1 ") != 0 || res.size() < pos + 12)
      return "not an HTTP/1.1 response: " + res.substr(pos, 80);
    const int status = std::atoi(res.substr(pos + 9, 3).c_str());
    if (status < 100 || status > 599) return "bad status line: " + res.substr(pos, 40);
    if (status == 500) return "a handler failed (500): " + res.substr(pos, 400);
    const std::size_t head_end = res.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) return "response without end of headers";
    const std::string head = res.substr(pos, head_end - pos);
    if (head.find("text/event-stream") != std::string::npos) break;
    std::size_t len = 0;
    auto cl = head.find("Content-Length: ");
    if (cl == std::string::npos) cl = head.find("content-length: ");
    if (cl != std::string::npos) len = std::strtoull(head.c_str() + cl + 16, nullptr, 10);
    const std::string body = res.substr(head_end + 4, len);
    if (status >= 400 && body.find("{\"error\":{\"code\":") == std::string::npos)
      return "an error without the JSON envelope: " + res.substr(pos, 300);
    pos = head_end + 4 + len;
    ++count;
  }
  return {};
}

TEST(HttpFuzz, RequestsIntoTheRealServerAndRoutes) {
  std::vector<store::Migration> migrations;
  for (auto s : {store::EventLog::migrations(), TokenStore::migrations(), HwWatch::migrations(),
                 sched::JobManager::migrations()}) {
    migrations.insert(migrations.end(), s.begin(), s.end());
  }
  auto db = store::Database::open({.path = ":memory:"}, migrations);
  ASSERT_TRUE(db);
  store::Store store(std::move(*db));
  ManualClock clock;
  store::EventLog events(store, clock);
  TokenStore tokens(store, clock);
  DaemonInfo info;
  info.listeners = [] { return std::vector<ListenerInfo>{}; };
  info.state = [] { return std::string("running"); };
  info.reload = [] { return Status{}; };
  RouteContext ctx{info, store, events, tokens, clock};
  Router router;
  add_daemon_routes(router, ctx);
  HwWatch hw(store, events, HostFs(::aion::testing::hw_fixture_root("cpu-vm")),
             hw::DiscoveryOptions{});
  add_hw_routes(router, hw);
  // The job manager is never started: submitted jobs stay queued and nothing runs.
  sched::JobManager jobs(store, events, HostFs("/"), hw::Inventory{}, sched::RunnerConfig{}, clock);
  add_job_routes(router, jobs);
  telemetry::TelemetryOptions to;
  to.enabled = false;
  telemetry::Telemetry telemetry(to, HostFs("/"), std::vector<hw::Accelerator>{}, nullptr);
  add_metrics_routes(router, telemetry);
  logs::LogOptions lo;
  lo.enabled = false;
  logs::LogService logs(lo, HostFs("/"), nullptr, clock);
  add_logs_routes(router, logs);
  add_diagnose_routes(router, nullptr);
  // What a handler sees after the server's parsing: checked on every dispatched request.
  std::atomic<int> bad_requests{0};
  std::string first_bad;
  std::mutex bad_mu;
  auto note_bad = [&](const std::string& why) {
    std::lock_guard l(bad_mu);
    if (bad_requests++ == 0) first_bad = why;
  };
  auto probe = [&](Request& r) {
    if (r.path.empty() || r.path.front() != '/') note_bad("handler got path '" + r.path + "'");
    if (r.body.size() > kMaxBody) note_bad("handler got a body over the limit");
    for (const auto& [k, v] : r.headers)
      for (char c : k)
        if (c >= 'A' && c <= 'Z') note_bad("header name not lowercased: " + k);
    // The {param} is the last raw segment decoded exactly once: an encoded '/' stays inside
    // it, and "%252F" is "%2F", never '/'.
    if (r.params.count("id")) {
      const std::string_view raw = r.raw_path.empty() ? r.path : r.raw_path;
      const std::string_view segment = raw.substr(raw.rfind('/') + 1);
      if (r.params.at("id") != url_decode(segment))
        note_bad("the {param} '" + r.params.at("id") + "' is not its segment '" +
                 std::string(segment) + "' decoded once");
    }
    return Response::json_text(200, "{}");
  };
  router.add({"GET", "/v1/fuzz/{id}", Role::kViewer, "fuzz probe", probe});
  router.add({"POST", "/v1/fuzz/{id}", Role::kViewer, "fuzz probe", probe});

  ServerOptions o;
  o.tcp_listen = "127.0.0.1:0";
  o.threads = 1;
  o.max_body_bytes = kMaxBody;
  o.idle_timeout = 5s;
  o.public_paths = {"/metrics", "/v1/metrics"};
  auto auth = [](std::string_view token) -> Result<Identity> {
    if (token == "op-token") return Identity{Role::kOperator, "token:op", -1};
    return fail(ErrorCode::kUnauthenticated, "unknown or revoked token");
  };
  Server server(o, router, auth);
  ASSERT_TRUE(server.start());
  int port = 0;
  for (const auto& l : server.listeners())
    if (l.kind == "tcp") port = std::atoi(l.address.substr(l.address.rfind(':') + 1).c_str());
  ASSERT_GT(port, 0);

  auto s = seeds();
  s.push_back(get("/v1/fuzz/abc%2Fdef?x=%41%zz&&=&y"));
  s.push_back(post("/v1/fuzz/1?q=1", "{\"a\":1}"));
  auto target = [&](std::string_view in) -> Verdict {
    std::string res = http_exchange(port, std::string(in));
    if (res == "<connect failed>") return {false, "the server no longer accepts connections"};
    if (bad_requests > 0) return {false, first_bad};
    if (res.empty()) return {};
    auto why = check_responses(res);
    return {res.compare(0, 12, "HTTP/1.1 200") == 0, why};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, s, kTokens, true);
  m.max_size = 16 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("http", m, fuzz::fuzz_options(100000), target));
  // Still serving after all of it.
  std::string res = http_exchange(port, get("/v1/status"));
  EXPECT_EQ(res.rfind("HTTP/1.1 200", 0), 0u) << res.substr(0, 200);
  server.stop(1s);
}

}  // namespace
}  // namespace aion::api
