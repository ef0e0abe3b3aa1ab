#include "aion/api/server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>  // Boost 1.74 asio needs it under C++23

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <type_traits>

#include <spdlog/spdlog.h>

#include "aion/core/fs_identity.h"
#include "aion/core/version.h"

namespace aion::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = net::local::stream_protocol;
using tcp = net::ip::tcp;
using TlsStream = net::ssl::stream<tcp::socket>;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kFirstRead = 4096;
constexpr auto kSsePollInterval = std::chrono::milliseconds(50);
constexpr auto kSseKeepalive = std::chrono::seconds(15);

std::string user_name(long uid) {
  struct passwd pw {};
  struct passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(static_cast<uid_t>(uid), &pw, buf, sizeof(buf), &out) == 0 && out) {
    return out->pw_name;
  }
  return {};
}

std::optional<gid_t> group_id(std::string_view name) {
  if (name.empty()) return std::nullopt;
  struct group gr {};
  struct group* out = nullptr;
  char buf[8192];
  std::string n(name);
  if (::getgrnam_r(n.c_str(), &gr, buf, sizeof(buf), &out) == 0 && out) return out->gr_gid;
  return std::nullopt;
}

// The path is kept encoded for the router (which decodes each parameter once) and decoded
// once for handlers, logs and the public-path check.
void split_target(std::string_view target, Request& r) {
  auto q = target.find('?');
  r.raw_path = std::string(target.substr(0, q));
  r.path = url_decode(r.raw_path);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    if (!key.empty()) r.query[key] = value;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
}

// A bounded pool of threads for handlers that may block. submit() refuses work when
// `max_queued` tasks already wait. Thread-safe.
class WorkerPool {
 public:
  void start(int threads, std::size_t max_queued) {
    max_queued_ = max_queued;
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { run(); });
  }
  [[nodiscard]] bool submit(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || queue_.size() >= max_queued_) return false;
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }
  // Runs the tasks already started to their end, drops the queued ones, joins the threads.
  void stop() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      dropped.swap(queue_);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;  // guards queue_ and stopping_; cv_ waits on it
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::size_t max_queued_ = 0;
  std::vector<std::thread> threads_;
};

// Connections and SSE streams per peer. A refusal is logged the first time for a peer, then
// counted; the count is logged when the peer's last connection closes. Thread-safe.
class PeerTable {
 public:
  enum class Kind { kConnection, kStream };

  [[nodiscard]] bool acquire(const std::string& peer, Kind kind, int limit) {
    std::lock_guard lock(mu_);
    Peer& p = peers_[peer];
    int& n = kind == Kind::kConnection ? p.connections : p.streams;
    if (n < limit) {
      ++n;
      return true;
    }
    if (p.refused++ == 0) {
      spdlog::warn(
          "event=peer_limit peer=\"{}\" kind={} limit={} note=\"further refusals of this peer "
          "are counted and logged when its last connection closes\"",
          peer, kind == Kind::kConnection ? "connections" : "streams", limit);
    }
    erase_if_unused(peer, p);
    return false;
  }

  void release(const std::string& peer, Kind kind) {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    int& n = kind == Kind::kConnection ? it->second.connections : it->second.streams;
    if (n > 0) --n;
    erase_if_unused(peer, it->second);
  }

 private:
  struct Peer {
    int connections = 0;
    int streams = 0;
    std::uint64_t refused = 0;
  };
  void erase_if_unused(const std::string& peer, Peer& p) {
    if (p.connections > 0 || p.streams > 0) return;
    if (p.refused > 1) {
      spdlog::warn("event=peer_limit_summary peer=\"{}\" refused={}", peer, p.refused);
    }
    // Nothing is kept for a peer that holds nothing: the table is as small as the set of
    // peers connected now.
    peers_.erase(peer);
  }

  std::mutex mu_;                      // guards peers_
  std::map<std::string, Peer> peers_;  // guarded by mu_
};

}  // namespace

Role role_for_peer(long uid, long gid, std::span<const gid_t> groups, long daemon_uid,
                   std::string_view admin_group) {
  if (uid == 0 || uid == daemon_uid) return Role::kAdmin;
  auto admin_gid = group_id(admin_group);
  if (!admin_gid) return Role::kViewer;
  if (gid == static_cast<long>(*admin_gid)) return Role::kAdmin;
  for (gid_t g : groups) {
    if (g == *admin_gid) return Role::kAdmin;
  }
  return Role::kViewer;
}

bool plaintext_tokens_refused(std::string_view address, bool tls, bool accepts_tokens,
                              bool allow_plaintext_tokens) {
  if (tls || !accepts_tokens || allow_plaintext_tokens) return false;
  beast::error_code ec;
  auto addr = net::ip::make_address(std::string(address), ec);
  if (ec) return true;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return !net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6()).is_loopback();
  }
  return !addr.is_loopback();
}

Role role_for_peer(long uid, long gid, long daemon_uid, std::string_view admin_group) {
  if (uid == 0 || uid == daemon_uid) return Role::kAdmin;
  auto admin_gid = group_id(admin_group);
  if (!admin_gid) return Role::kViewer;
  if (gid == static_cast<long>(*admin_gid)) return Role::kAdmin;
  for (gid_t g : user_groups(static_cast<uid_t>(uid), static_cast<gid_t>(gid))) {
    if (g == *admin_gid) return Role::kAdmin;
  }
  return Role::kViewer;
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Called by the server when it stops: closes the connection unless a request is being
  // handled (that one closes after its response).
  virtual void close_when_idle() = 0;
};

class Server::Impl {
 public:
  Impl(ServerOptions o, const Router& r, Authenticator a)
      : options(std::move(o)),
        router(r),
        authenticate(std::move(a)),
        acceptor_strand(net::make_strand(ioc)) {}

  Status open_unix();
  Status open_tcp();
  Status open_tls();
  void accept_unix();
  void accept_tcp();
  void track(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(sessions_mu);
    if (sessions.size() > 256) {
      std::erase_if(sessions, [](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
    }
    sessions.push_back(s);
  }
  // Answers a connection over its peer's cap with 429 (plain listeners) and closes it. The
  // socket is fresh, so the short answer fits its send buffer; it is written without waiting.
  template <class Socket>
  void refuse(Socket& s, bool tls);

  ServerOptions options;
  const Router& router;
  Authenticator authenticate;
  PeerTable peers;  // outlives the sessions, which release their slots when destroyed
  WorkerPool workers;
  net::io_context ioc;
  net::strand<net::io_context::executor_type> acceptor_strand;
  std::unique_ptr<net::ssl::context> tls;  // set: the TCP listener speaks TLS
  std::unique_ptr<local::acceptor> unix_acceptor;
  std::unique_ptr<tcp::acceptor> tcp_acceptor;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::vector<ListenerInfo> infos;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;  // guards sessions (the acceptors add, stop() walks them)
  std::vector<std::weak_ptr<SessionBase>> sessions;
  long daemon_uid = static_cast<long>(::geteuid());
  bool started = false;
};

template <class Socket>
void Server::Impl::refuse(Socket& s, bool tls_listener) {
  beast::error_code ec;
  if (!tls_listener) {
    const std::string body =
        "{\"error\":{\"code\":\"too_many_requests\",\"message\":\"this peer already holds " +
        std::to_string(options.max_connections_per_peer) +
        " connections to aiond (the per-peer limit); close some and retry\"}}";
    const std::string out =
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    s.non_blocking(true, ec);
    s.write_some(net::buffer(out), ec);
  }
  s.shutdown(net::socket_base::shutdown_both, ec);
  s.close(ec);
}

namespace {

// One connection. Every handler of a session runs on its strand (the socket's executor);
// the worker pool hands results back to it with net::post. `deadline_` bounds the current
// read or write (its generation makes a stale expiry harmless); `tick_` paces SSE polls.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `args` construct the stream in place (a TLS stream must not be moved once made).
  template <class... Args>
  Session(Server::Impl& server, std::optional<Identity> peer, std::string peer_key, Args&&... args)
      : stream_(std::forward<Args>(args)...),
        server_(server),
        deadline_(stream_.get_executor()),
        tick_(stream_.get_executor()),
        peer_(std::move(peer)),
        peer_key_(std::move(peer_key)) {}

  ~Session() override {
    server_.peers.release(peer_key_, PeerTable::Kind::kConnection);
    if (holds_stream_) server_.peers.release(peer_key_, PeerTable::Kind::kStream);
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        self->arm(self->server_.options.header_timeout);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          self->disarm();
          if (ec) return self->close();
          self->read();
        });
      } else {
        self->read();
      }
    });
  }

  void close_when_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->busy_) self->close();
    });
  }

 private:
  auto& socket() { return beast::get_lowest_layer(stream_); }

  // Closes the connection when `after` passes before disarm() or the next arm().
  void arm(std::chrono::milliseconds after) {
    const std::uint64_t gen = ++deadline_gen_;
    deadline_.expires_after(after);
    deadline_.async_wait([weak = this->weak_from_this(), gen](beast::error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (self && self->deadline_gen_ == gen) self->close();
    });
  }
  void disarm() {
    ++deadline_gen_;
    deadline_.cancel();
  }

  // A request: up to idle_timeout for its first byte, then header_timeout for the rest of
  // the header (a client that trickles it is closed), then idle_timeout for the body.
  void read() {
    if (server_.stopping || closed_) return close();
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    if (buffer_.size() > 0) return read_header();
    // Beast parses a header only once it is complete, so the first byte is waited for here.
    arm(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (self->closed_) return;
                              if (ec) return self->on_read(ec);
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    arm(server_.options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (closed_) return;
    if (!ec && !parser_->is_done()) {
      arm(server_.options.idle_timeout);
      return http::async_read(stream_, buffer_, *parser_,
                              [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                self->on_read(e);
                              });
    }
    on_read(ec);
  }

  void on_read(beast::error_code ec) {
    disarm();
    if (closed_) return;
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::bad_descriptor || ec == net::error::broken_pipe ||
        ec == net::ssl::error::stream_truncated) {
      return close();
    }
    busy_ = true;
    ++server_.in_flight;
    if (ec == http::error::body_limit) {
      return send(Response::error(413, "payload_too_large",
                                  "request body exceeds the limit of " +
                                      std::to_string(server_.options.max_body_bytes) +
                                      " bytes (config api.max_body_bytes)"),
                  false);
    }
    if (ec == http::error::header_limit) {
      return send(
          Response::error(431, "headers_too_large",
                          "request headers exceed " + std::to_string(kHeaderLimit) + " bytes"),
          false);
    }
    if (ec) {
      return send(Response::error(400, "bad_request", "malformed HTTP request: " + ec.message()),
                  false);
    }
    handle(parser_->release());
  }

  void handle(http::request<http::string_body> req) {
    Request r;
    r.method = std::string(req.method_string());
    split_target(std::string_view(req.target().data(), req.target().size()), r);
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    r.body = std::move(req.body());
    bool keep_alive = req.keep_alive();

    if (req.version() != 11 && req.version() != 10) {
      return send(Response::error(400, "bad_request", "only HTTP/1.0 and HTTP/1.1 are served"),
                  false);
    }
    if (r.path.empty() || r.path.front() != '/') {
      return send(Response::error(400, "bad_request", "request target must be an absolute path"),
                  keep_alive);
    }
    if (server_.router.runs_inline(r.method, r.raw_path)) {
      Response res = process(r);
      return respond(std::move(res), keep_alive);
    }
    // Everything else may block (disk, SQLite, NVML, child processes): a worker runs it and
    // hands the response back to this connection's strand.
    auto task = [self = this->shared_from_this(), r = std::move(r), keep_alive]() mutable {
      Response res = self->process(r);
      net::post(self->stream_.get_executor(), [self, res = std::move(res), keep_alive]() mutable {
        self->respond(std::move(res), keep_alive);
      });
    };
    if (!server_.workers.submit(std::move(task))) {
      Response busy = Response::error(
          503, "unavailable",
          "aiond is busy: " + std::to_string(server_.options.max_queued) +
              " requests already wait for a worker (config api.workers); retry shortly");
      busy.headers["Retry-After"] = "1";
      send(std::move(busy), keep_alive);
    }
  }

  // Authenticates and dispatches; may run on a worker thread, touches no session state.
  Response process(Request& r) {
    auto started = SteadyClock::now();
    Response res;
    if (auto who = identify(r); !who) {
      res = Response::from_error(who.error());
      if (res.status == 401) res.headers["WWW-Authenticate"] = "Bearer realm=\"aiond\"";
    } else {
      r.caller = std::move(*who);
      res = server_.router.dispatch(r);
    }
    if (spdlog::should_log(spdlog::level::debug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started);
      spdlog::debug("event=http method={} path={} status={} us={} caller=\"{}\"", r.method, r.path,
                    res.status, us.count(), r.caller.name);
    }
    return res;
  }

  void respond(Response res, bool keep_alive) {
    if (closed_) {
      --server_.in_flight;
      busy_ = false;
      return;
    }
    if (res.sse && res.status == 200) return start_sse(std::move(res.sse));
    send(std::move(res), keep_alive);
  }

  Result<Identity> identify(const Request& r) {
    if (peer_) return *peer_;
    auto it = r.headers.find("authorization");
    if (it == r.headers.end() && server_.router.is_public(r.method, r.raw_path)) {
      return Identity{Role::kViewer, "anonymous", -1};
    }
    if (it == r.headers.end() && server_.options.sessions) {
      if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
        if (auto id = cookie_value(c->second, kSessionCookie)) return from_session(r, *id);
      }
    }
    if (it == r.headers.end() && server_.options.tcp_anonymous) {
      return Identity{Role::kViewer, "anonymous", -1};
    }
    if (it == r.headers.end() && r.method == "GET" &&
        std::find(server_.options.public_paths.begin(), server_.options.public_paths.end(),
                  r.path) != server_.options.public_paths.end()) {
      return Identity{Role::kViewer, "anonymous", -1};
    }
    if (it == r.headers.end()) {
      return fail(ErrorCode::kUnauthenticated,
                  "the TCP API needs 'Authorization: Bearer <token>' (create one with "
                  "`aion admin token create --role viewer`)");
    }
    std::string_view v = it->second;
    constexpr std::string_view kBearer = "Bearer ";
    if (v.size() <= kBearer.size() || v.substr(0, kBearer.size()) != kBearer) {
      return fail(ErrorCode::kUnauthenticated, "Authorization header must be 'Bearer <token>'");
    }
    if (!server_.authenticate)
      return fail(ErrorCode::kUnauthenticated, "token authentication is not configured");
    return server_.authenticate(v.substr(kBearer.size()));
  }

  // A caller that presents a dashboard session cookie: the session's token is verified again
  // (a revoked token ends its sessions), and a state-changing request must pass the CSRF rule.
  Result<Identity> from_session(const Request& r, std::string_view id) {
    auto session = server_.options.sessions->find(id);
    if (!session) {
      return fail(ErrorCode::kUnauthenticated,
                  "the dashboard session has ended (logged out, idle too long, or aiond "
                  "restarted); log in again");
    }
    if (auto why = csrf_refusal(r, session->csrf); !why.empty()) {
      return fail(ErrorCode::kPermissionDenied, why);
    }
    if (!server_.authenticate)
      return fail(ErrorCode::kUnauthenticated, "token authentication is not configured");
    auto who = server_.authenticate(session->token);
    if (!who) server_.options.sessions->remove(id);
    return who;
  }

  void send(Response res, bool keep_alive) {
    keep_alive = keep_alive && !server_.stopping;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(res.status));
    res_.set(http::field::server, std::string("aiond/") + kVersion);
    res_.set(http::field::content_type, res.content_type);
    res_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : res.headers) res_.set(k, v);
    res_.body() = std::move(res.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    arm(server_.options.write_timeout);
    http::async_write(
        stream_, res_,
        [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
          self->disarm();
          --self->server_.in_flight;
          self->busy_ = false;
          if (ec || !keep_alive) return self->close();
          self->read();
        });
  }

  void start_sse(std::shared_ptr<SseSource> source) {
    if (!server_.peers.acquire(peer_key_, PeerTable::Kind::kStream,
                               server_.options.max_streams_per_peer)) {
      Response r = Response::error(429, "too_many_requests",
                                   "this peer already holds " +
                                       std::to_string(server_.options.max_streams_per_peer) +
                                       " event streams (the per-peer limit); close one and retry");
      r.headers["Retry-After"] = "1";
      return send(std::move(r), false);
    }
    holds_stream_ = true;
    sse_ = std::move(source);
    sse_out_ = "HTTP/1.1 200 OK\r\nServer: aiond/" + std::string(kVersion) +
               "\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               "Connection: close\r\n\r\n";
    last_write_ = SteadyClock::now();
    arm(server_.options.write_timeout);
    net::async_write(stream_, net::buffer(sse_out_),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->disarm();
                       --self->server_.in_flight;
                       self->busy_ = false;
                       if (ec) return self->close();
                       self->watch_close();
                       self->sse_tick();
                     });
  }

  // While a stream is sent, one read stays pending so that a peer that goes away (a reloaded
  // page, a closed tab) is noticed at once, not at the next frame or keepalive: its slot of
  // max_streams_per_peer is free again for the page that replaces it. Bytes a peer sends
  // after its request are read and ignored.
  void watch_close() {
    stream_.async_read_some(net::buffer(sse_discard_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->closed_) return self->close();
                              self->watch_close();
                            });
  }

  // One frame at a time: the source is polled again only once the peer took the last frame,
  // so a peer that does not read holds at most one frame, and is dropped at write_timeout.
  void sse_tick() {
    if (closed_ || server_.stopping) return close();
    std::string out;
    bool alive = sse_->poll(out);
    auto now = SteadyClock::now();
    if (out.empty() && now - last_write_ > kSseKeepalive) out = ": keepalive\n\n";
    if (out.empty()) {
      if (!alive) return close();
      tick_.expires_after(kSsePollInterval);
      tick_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->sse_tick();
      });
      return;
    }
    sse_out_ = std::move(out);
    last_write_ = now;
    arm(server_.options.write_timeout);
    net::async_write(stream_, net::buffer(sse_out_),
                     [self = this->shared_from_this(), alive](beast::error_code ec, std::size_t) {
                       self->disarm();
                       if (ec || !alive) return self->close();
                       self->sse_tick();
                     });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    deadline_.cancel();
    tick_.cancel();
    socket().shutdown(net::socket_base::shutdown_both, ec);
    socket().close(ec);
  }

  Stream stream_;
  Server::Impl& server_;
  net::steady_timer deadline_;
  net::steady_timer tick_;
  std::uint64_t deadline_gen_ = 0;
  std::optional<Identity> peer_;
  std::string peer_key_;
  std::array<char, 512> sse_discard_{};
  bool holds_stream_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<SseSource> sse_;
  std::string sse_out_;
  SteadyClock::time_point last_write_;
  bool busy_ = false;
  bool closed_ = false;
};

std::optional<Identity> peer_identity(int fd, long daemon_uid, std::string_view admin_group) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  Identity id;
  id.uid = cred.uid;
  // The groups the connecting process holds, not what the group database says now.
  std::vector<gid_t> groups(64);
  for (;;) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      id.role = role_for_peer(cred.uid, cred.gid, groups, daemon_uid, admin_group);
      break;
    }
    if (errno == ERANGE && glen / sizeof(gid_t) > groups.size()) {
      groups.resize(glen / sizeof(gid_t));
      continue;
    }
    if (errno == ENOPROTOOPT) {
      id.role = role_for_peer(cred.uid, cred.gid, daemon_uid, admin_group);
    } else {
      id.role =
          role_for_peer(cred.uid, cred.gid, std::span<const gid_t>(), daemon_uid, admin_group);
    }
    break;
  }
  std::string name = user_name(cred.uid);
  id.name = "uid:" + std::to_string(cred.uid) + (name.empty() ? "" : " (" + name + ")");
  return id;
}

}  // namespace

Status Server::Impl::open_unix() {
  const auto& path = options.unix_socket;
  if (path.string().size() >= sizeof(sockaddr_un::sun_path)) {
    return fail(ErrorCode::kInvalidArgument, "socket path " + path.string() + " is longer than " +
                                                 std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                                 " bytes; choose a shorter daemon.socket");
  }
  std::error_code fec;
  std::filesystem::create_directories(path.parent_path(), fec);
  if (fec) {
    return std::unexpected(
        errno_error(fec.value(), "creating socket directory " + path.parent_path().string())
            .context("set daemon.socket or --socket to a writable place"));
  }
  beast::error_code ec;
  if (std::filesystem::exists(path, fec)) {
    // A socket left by a daemon that died; refuse only when something still answers on it.
    local::socket probe(ioc);
    probe.connect(local::endpoint(path.string()), ec);
    if (!ec) {
      return fail(ErrorCode::kConflict, "another aiond is already listening on " + path.string());
    }
    std::filesystem::remove(path, fec);
  }
  unix_acceptor = std::make_unique<local::acceptor>(acceptor_strand);
  unix_acceptor->open(local(), ec);
  if (!ec) unix_acceptor->bind(local::endpoint(path.string()), ec);
  if (!ec) unix_acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot listen on " + path.string() + ": " + ec.message());
  // Mode and group are set relative to the directory's fd and never through a link: if the
  // socket's name was swapped for a link after bind, the calls fail instead of changing the
  // link's target.
  std::string dir = path.has_parent_path() ? path.parent_path().string() : std::string(".");
  std::string name = path.filename().string();
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return std::unexpected(errno_error(errno, "opening socket directory " + dir));
  struct stat sst {};
  if (::fstatat(dir_fd, name.c_str(), &sst, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK(sst.st_mode)) {
    ::close(dir_fd);
    return fail(ErrorCode::kIo, path.string() +
                                    " is no longer the socket aiond bound (replaced meanwhile); "
                                    "put daemon.socket in a directory only root can write");
  }
  if (::fchmodat(dir_fd, name.c_str(), options.socket_mode, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    ::close(dir_fd);
    return std::unexpected(errno_error(err, "chmod " + path.string()));
  }
  if (auto gid = group_id(options.socket_group)) {
    if (::fchownat(dir_fd, name.c_str(), static_cast<uid_t>(-1), *gid, AT_SYMLINK_NOFOLLOW) != 0) {
      spdlog::debug("event=socket_chgrp_skipped socket={} group={} reason=\"{}\"", path.string(),
                    options.socket_group, std::strerror(errno));
    }
  }
  ::close(dir_fd);
  infos.push_back({"unix", path.string()});
  return {};
}

Status Server::Impl::open_tcp() {
  std::string spec = *options.tcp_listen;
  auto colon = spec.rfind(':');
  if (colon == std::string::npos) {
    return fail(ErrorCode::kConfig,
                "api.tcp.listen '" + spec + "' must be host:port, e.g. 127.0.0.1:7070");
  }
  std::string host = spec.substr(0, colon);
  std::string port_text = spec.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  int port = 0;
  try {
    port = std::stoi(port_text);
  } catch (...) {
    port = -1;
  }
  if (ec || port < 0 || port > 65535) {
    return fail(ErrorCode::kConfig, "api.tcp.listen '" + spec + "' is not an IP address and port");
  }
  tcp_acceptor = std::make_unique<tcp::acceptor>(acceptor_strand);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  tcp_acceptor->open(ep.protocol(), ec);
  if (!ec) tcp_acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) tcp_acceptor->bind(ep, ec);
  if (!ec) tcp_acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot listen on TCP " + spec + ": " + ec.message());
  auto bound = tcp_acceptor->local_endpoint();
  std::string addr_text = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                  : bound.address().to_string();
  infos.push_back({"tcp", addr_text + ":" + std::to_string(bound.port())});
  return {};
}

Status Server::Impl::open_tls() {
  const auto& cert = options.tls_cert;
  const auto& key = options.tls_key;
  if (cert.empty() && key.empty()) return {};
  if (cert.empty() || key.empty()) {
    return fail(ErrorCode::kConfig,
                "api.tcp.tls_cert and api.tcp.tls_key must be set together (one is empty); set "
                "both to PEM files, or neither to serve plain HTTP");
  }
  tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  beast::error_code ec;
  tls->use_certificate_chain_file(cert.string(), ec);
  if (ec) {
    return fail(ErrorCode::kConfig, "api.tcp.tls_cert " + cert.string() +
                                        ": cannot load a PEM certificate chain (" + ec.message() +
                                        "); check the path and that it is PEM");
  }
  tls->use_private_key_file(key.string(), net::ssl::context::pem, ec);
  if (ec) {
    return fail(ErrorCode::kConfig, "api.tcp.tls_key " + key.string() +
                                        ": cannot load the PEM private key of the certificate (" +
                                        ec.message() + "); check the path and its permissions");
  }
  return {};
}

void Server::Impl::accept_unix() {
  unix_acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, local::socket s) {
    if (ec) {
      if (ec == net::error::operation_aborted || stopping) return;
      spdlog::warn("event=accept_failed listener=unix error=\"{}\"", ec.message());
    } else {
      auto id = peer_identity(s.native_handle(), daemon_uid, options.socket_group);
      if (!id) {
        spdlog::warn("event=peercred_failed error=\"{}\"", std::strerror(errno));
        id = Identity{Role::kViewer, "uid:unknown", -1};
      }
      std::string key = "uid:" + std::to_string(id->uid);
      if (!peers.acquire(key, PeerTable::Kind::kConnection, options.max_connections_per_peer)) {
        refuse(s, false);
      } else {
        auto session = std::make_shared<Session<local::socket>>(*this, std::move(id),
                                                                std::move(key), std::move(s));
        track(session);
        session->start();
      }
    }
    if (!stopping) accept_unix();
  });
}

void Server::Impl::accept_tcp() {
  tcp_acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (ec == net::error::operation_aborted || stopping) return;
      spdlog::warn("event=accept_failed listener=tcp error=\"{}\"", ec.message());
    } else {
      beast::error_code nd;
      s.set_option(tcp::no_delay(true), nd);
      auto remote = s.remote_endpoint(nd);
      std::string key = nd ? "tcp:unknown" : remote.address().to_string();
      if (!peers.acquire(key, PeerTable::Kind::kConnection, options.max_connections_per_peer)) {
        refuse(s, tls != nullptr);
      } else if (tls) {
        auto session = std::make_shared<Session<TlsStream>>(*this, std::nullopt, std::move(key),
                                                            std::move(s), *tls);
        track(session);
        session->start();
      } else {
        auto session = std::make_shared<Session<tcp::socket>>(*this, std::nullopt, std::move(key),
                                                              std::move(s));
        track(session);
        session->start();
      }
    }
    if (!stopping) accept_tcp();
  });
}

Server::Server(ServerOptions options, const Router& router, Authenticator authenticate)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(authenticate))) {}

Server::~Server() {
  stop(std::chrono::milliseconds(0));
}

Status Server::start() {
  if (impl_->started) return fail(ErrorCode::kInternal, "server already started");
  const bool unix = !impl_->options.unix_socket.empty();
  if (!unix && !impl_->options.tcp_listen) {
    return fail(ErrorCode::kInvalidArgument, "the server needs a unix socket or a TCP address");
  }
  if (unix) {
    if (auto st = impl_->open_unix(); !st) return st;
  }
  if (impl_->options.tcp_listen) {
    auto st = impl_->open_tls();
    if (st) st = impl_->open_tcp();
    if (st) {
      const std::string bound = impl_->tcp_acceptor->local_endpoint().address().to_string();
      if (plaintext_tokens_refused(bound, impl_->tls != nullptr,
                                   static_cast<bool>(impl_->authenticate),
                                   impl_->options.allow_plaintext_tokens)) {
        beast::error_code ec;
        impl_->tcp_acceptor->close(ec);
        st = fail(ErrorCode::kConfig,
                  "api.tcp.listen " + *impl_->options.tcp_listen +
                      " is not a loopback address and the listener has no TLS, so bearer tokens "
                      "would cross the network in clear text; set api.tcp.tls_cert and "
                      "api.tcp.tls_key, listen on 127.0.0.1, or set "
                      "api.tcp.allow_plaintext_tokens = true to accept that risk");
      }
    }
    if (!st) {
      if (unix) {
        beast::error_code ec;
        impl_->unix_acceptor->close(ec);
        std::error_code rm;
        std::filesystem::remove(impl_->options.unix_socket, rm);
      }
      return st;
    }
  }
  impl_->started = true;
  impl_->workers.start(impl_->options.workers, impl_->options.max_queued);
  impl_->work.emplace(impl_->ioc.get_executor());
  net::post(impl_->acceptor_strand, [impl = impl_.get()] {
    if (impl->unix_acceptor) impl->accept_unix();
    if (impl->tcp_acceptor) impl->accept_tcp();
  });
  int n = std::max(1, impl_->options.threads);
  for (int i = 0; i < n; ++i)
    impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  return {};
}

void Server::stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  s.stopping = true;
  std::promise<void> closed;
  net::post(s.acceptor_strand, [&s, &closed] {
    beast::error_code ec;
    if (s.unix_acceptor) s.unix_acceptor->close(ec);
    if (s.tcp_acceptor) s.tcp_acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
  // Drain: requests being handled finish and get their response.
  auto deadline = SteadyClock::now() + grace;
  while (s.in_flight.load() > 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (s.in_flight.load() > 0) {
    spdlog::warn("event=drain_timeout in_flight={} grace_ms={}", s.in_flight.load(), grace.count());
  }
  // Handlers already running finish; requests still queued are dropped with their sessions.
  s.workers.stop();
  {
    std::lock_guard lock(s.sessions_mu);
    for (auto& w : s.sessions) {
      if (auto session = w.lock()) session->close_when_idle();
    }
  }
  s.work.reset();
  // Give the sessions a moment to close, then end the loop whatever remains.
  auto close_deadline = SteadyClock::now() + std::chrono::milliseconds(500);
  while (SteadyClock::now() < close_deadline) {
    bool any = false;
    {
      std::lock_guard lock(s.sessions_mu);
      for (auto& w : s.sessions) any = any || !w.expired();
    }
    if (!any) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  std::error_code ec;
  std::filesystem::remove(s.options.unix_socket, ec);
}

std::vector<ListenerInfo> Server::listeners() const {
  return impl_->infos;
}

int Server::in_flight() const {
  return impl_->in_flight.load();
}

}  // namespace aion::api
