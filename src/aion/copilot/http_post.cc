#include "aion/copilot/http_post.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include "aion/core/fd.h"
#include "aion/core/strings.h"

namespace aion::copilot {
namespace {

// A model's reply is at most this large.
constexpr std::size_t kMaxReplyBytes = 8 << 20;

using Clock = std::chrono::steady_clock;

// When every wait of one exchange ends: at its deadline, or soon after the caller's cancel
// flag is set (checked every 100 ms).
struct Deadline {
  Clock::time_point at;
  const std::atomic<bool>* cancel = nullptr;
  bool cancelled() const { return cancel && cancel->load(); }
};

int ms_left(const Deadline& deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events`; false when the deadline passes or the exchange is
// cancelled first.
bool wait_for(int fd, short events, const Deadline& deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    if (deadline.cancelled()) return false;
    const int left = ms_left(deadline);
    const int r = ::poll(&p, 1, deadline.cancel ? std::min(left, 100) : left);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
    if (r == 0 && left == 0) return false;
  }
}

Result<Fd> connect_to(const std::string& host, const std::string& port, const Deadline& deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0 ||
        (errno == EINPROGRESS && wait_for(fd.get(), POLLOUT, deadline))) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) {
        ::freeaddrinfo(res);
        return fd;
      }
      why = std::strerror(err);
    } else {
      why = errno == EINPROGRESS ? "timed out" : std::strerror(errno);
    }
  }
  ::freeaddrinfo(res);
  return fail(ErrorCode::kUnavailable, "cannot connect to " + host + ":" + port + ": " + why);
}

// The last OpenSSL errors of this thread, as one line ("" when there are none).
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ::ERR_get_error()) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

bool is_ip_literal(const std::string& host) {
  unsigned char addr[16];
  return ::inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// One connection to the endpoint: plain TCP, or TLS over it once start_tls() succeeded. Every
// call waits at most until the deadline.
class Conn {
 public:
  explicit Conn(Fd fd) : fd_(std::move(fd)) {}

  // The TLS handshake as a client of `host`: TLS 1.2 or newer, the certificate verified
  // against the system's store or `tls.ca_file`, and it must name `host` (a DNS name, sent as
  // SNI too, or an IP address).
  Status start_tls(const std::string& host, const PostOptions& tls, const Deadline& deadline) {
    ctx_.reset(::SSL_CTX_new(::TLS_client_method()));
    if (!ctx_) return fail(ErrorCode::kInternal, "TLS: " + ssl_errors());
    ::SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
    // A server that closes without close_notify ends the body like a plain close does; the
    // reply's own framing (length, chunks) says whether it is whole.
    ::SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    ::SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    const int loaded = tls.ca_file.empty() ? ::SSL_CTX_set_default_verify_paths(ctx_.get())
                                           : ::SSL_CTX_load_verify_locations(
                                                 ctx_.get(), tls.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return fail(ErrorCode::kUnavailable,
                  "cannot load the trusted certificates" +
                      (tls.ca_file.empty() ? std::string() : " from " + tls.ca_file) + ": " +
                      ssl_errors());
    }
    ssl_.reset(::SSL_new(ctx_.get()));
    if (!ssl_ || ::SSL_set_fd(ssl_.get(), fd_.get()) != 1)
      return fail(ErrorCode::kInternal, "TLS: " + ssl_errors());
    if (is_ip_literal(host)) {
      ::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(ssl_.get()), host.c_str());
    } else {
      ::SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
      ::SSL_set1_host(ssl_.get(), host.c_str());
    }
    while (true) {
      ::ERR_clear_error();
      const int r = ::SSL_connect(ssl_.get());
      if (r == 1) return {};
      if (auto st = wait_tls(r, deadline); !st) {
        const long verdict = ::SSL_get_verify_result(ssl_.get());
        if (verdict != X509_V_OK) {
          return fail(ErrorCode::kUnavailable,
                      "the TLS certificate of " + host +
                          " was refused: " + ::X509_verify_cert_error_string(verdict) +
                          (tls.ca_file.empty() ? " (a private CA: set copilot.ca_file)" : ""));
        }
        return fail(ErrorCode::kUnavailable,
                    "TLS handshake with " + host + " failed: " + st.error().message());
      }
    }
  }

  Status send_all(std::string_view data, const Deadline& deadline) {
    while (!data.empty()) {
      if (ssl_) {
        ::ERR_clear_error();
        const int n = ::SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
        if (n > 0) {
          data.remove_prefix(static_cast<std::size_t>(n));
        } else if (auto st = wait_tls(n, deadline); !st) {
          return fail(ErrorCode::kUnavailable, "sending: " + st.error().message());
        }
        continue;
      }
      if (!wait_for(fd_.get(), POLLOUT, deadline))
        return fail(ErrorCode::kUnavailable, "timed out sending");
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0)
        return fail(ErrorCode::kUnavailable, std::string("sending: ") + std::strerror(errno));
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  // Bytes read into `buf` (> 0), or 0 once the server closed.
  Result<std::size_t> read_some(char* buf, std::size_t size, const Deadline& deadline) {
    while (true) {
      if (ssl_) {  // what TLS already decrypted is read before waiting on the socket
        ::ERR_clear_error();
        const int n = ::SSL_read(ssl_.get(), buf, static_cast<int>(size));
        if (n > 0) return static_cast<std::size_t>(n);
        const int e = ::SSL_get_error(ssl_.get(), n);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (auto st = wait_tls(n, deadline); !st) return std::unexpected(st.error());
        continue;
      }
      if (!wait_for(fd_.get(), POLLIN, deadline))
        return fail(ErrorCode::kUnavailable, "timed out waiting for the answer");
      const ssize_t n = ::recv(fd_.get(), buf, size, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0)
        return fail(ErrorCode::kUnavailable, std::string("reading: ") + std::strerror(errno));
      return static_cast<std::size_t>(n);
    }
  }

 private:
  // After a TLS call returned `r` <= 0: waits for what it wants (ok) or says why it failed.
  Status wait_tls(int r, const Deadline& deadline) {
    const int e = ::SSL_get_error(ssl_.get(), r);
    const short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (want == 0) {
      std::string why = ssl_errors();
      if (why.empty()) why = e == SSL_ERROR_SYSCALL ? "the connection broke" : "TLS error";
      return fail(ErrorCode::kUnavailable, why);
    }
    if (!wait_for(fd_.get(), want, deadline))
      return fail(ErrorCode::kUnavailable, "timed out waiting for the answer");
    return {};
  }

  Fd fd_;
  std::unique_ptr<SSL_CTX, decltype(&::SSL_CTX_free)> ctx_{nullptr, ::SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&::SSL_free)> ssl_{nullptr, ::SSL_free};
};

// Decodes a reply as its bytes arrive: the head, then the body by Content-Length, chunked
// transfer or the connection's end, handing each piece of body to `on_body` as it is decoded.
class ReplyDecoder {
 public:
  explicit ReplyDecoder(const BodyFn& on_body) : on_body_(on_body) {}

  // Takes bytes; true once the reply is complete.
  bool feed(std::string_view bytes) {
    if (!head_done_) {
      head_.append(bytes);
      const auto end = head_.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      const std::string head = lower(head_.substr(0, end));
      reply_.status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
      chunked_ = head.find("transfer-encoding: chunked") != std::string::npos;
      if (auto cl = head.find("content-length:"); cl != std::string::npos && !chunked_)
        length_ = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
      head_done_ = true;
      bytes = std::string_view(head_).substr(end + 4);
      return take(std::string(bytes));
    }
    return take(std::string(bytes));
  }
  bool head_done() const { return head_done_; }
  std::size_t size() const { return reply_.body.size() + raw_.size() + head_.size(); }
  HttpReply&& reply() { return std::move(reply_); }

 private:
  void emit(std::string_view piece) {
    reply_.body.append(piece);
    if (on_body_ && !piece.empty()) on_body_(piece);
  }
  bool take(std::string bytes) {
    if (!chunked_) {
      if (length_ != std::string::npos && reply_.body.size() + bytes.size() > length_)
        bytes.resize(length_ - reply_.body.size());
      emit(bytes);
      return length_ != std::string::npos && reply_.body.size() >= length_;
    }
    raw_ += bytes;
    while (true) {  // whole chunks only: "<hex size>\r\n<data>\r\n", a 0 size ends the body
      const auto eol = raw_.find("\r\n");
      if (eol == std::string::npos) return false;
      const std::size_t n = std::strtoul(raw_.substr(0, eol).c_str(), nullptr, 16);
      if (n == 0) return true;
      if (raw_.size() < eol + 2 + n + 2) return false;
      emit(std::string_view(raw_).substr(eol + 2, n));
      raw_.erase(0, eol + 2 + n + 2);
    }
  }

  const BodyFn& on_body_;
  std::string head_;
  bool head_done_ = false;
  bool chunked_ = false;
  std::size_t length_ = std::string::npos;  // npos: until the connection closes
  std::string raw_;                         // chunked bytes not yet decoded
  HttpReply reply_;
};

// Reads the reply until it is complete (by its framing) or the server closes.
Result<HttpReply> read_reply(Conn& conn, const Deadline& deadline, const BodyFn& on_body) {
  ReplyDecoder d(on_body);
  char buf[16384];
  while (true) {
    if (d.size() > kMaxReplyBytes)
      return fail(ErrorCode::kResourceExhausted, "the reply is larger than 8 MiB");
    auto n = conn.read_some(buf, sizeof buf, deadline);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) {  // closed: what came is the reply, when its head is whole
      if (!d.head_done())
        return fail(ErrorCode::kUnavailable, "the connection closed without an answer");
      return d.reply();
    }
    if (d.feed(std::string_view(buf, *n))) return d.reply();
  }
}

}  // namespace

Result<HttpReply> http_post(const std::string& url, const std::string& body,
                            const std::string& bearer, std::chrono::seconds timeout,
                            const BodyFn& on_body, const PostOptions& options) {
  const bool secure = url.rfind("https://", 0) == 0;
  if (!secure && url.rfind("http://", 0) != 0)
    return fail(ErrorCode::kInvalidArgument, "not an http:// or https:// URL: " + url);
  const std::size_t scheme = secure ? 8 : 7;
  const std::size_t slash = url.find('/', scheme);
  const std::string authority =
      url.substr(scheme, slash == std::string::npos ? std::string::npos : slash - scheme);
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  std::string host = authority, port = secure ? "443" : "80";
  if (auto c = authority.rfind(':');
      c != std::string::npos && authority.find(']', c) == std::string::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) return fail(ErrorCode::kInvalidArgument, "no host in " + url);
  const Deadline deadline{Clock::now() + timeout, options.cancel};
  auto timed_out = [&](Error e) -> Result<HttpReply> {
    if (deadline.cancelled()) return fail(ErrorCode::kUnavailable, "the request was cancelled");
    if (e.code() == ErrorCode::kUnavailable && ms_left(deadline) == 0)
      return fail(ErrorCode::kUnavailable,
                  "no answer within " + std::to_string(timeout.count()) + " s");
    return std::unexpected(std::move(e));
  };
  auto fd = connect_to(host, port, deadline);
  if (!fd) return timed_out(fd.error());
  Conn conn(std::move(*fd));
  if (secure) {
    if (auto st = conn.start_tls(host, options, deadline); !st) return timed_out(st.error());
  }
  std::string req =
      "POST " + path + " HTTP/1.1\r\nHost: " + authority +
      "\r\nUser-Agent: aion\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  req += "\r\n";
  if (auto st = conn.send_all(req, deadline); !st) return timed_out(st.error());
  if (auto st = conn.send_all(body, deadline); !st) return timed_out(st.error());
  auto r = read_reply(conn, deadline, on_body);
  if (!r) return timed_out(r.error());
  return r;
}

HttpPost http_transport(PostOptions tls) {
  return [tls = std::move(tls)](const std::string& url, const std::string& body,
                                const std::string& bearer, std::chrono::seconds timeout,
                                const BodyFn& on_body) {
    return http_post(url, body, bearer, timeout, on_body, tls);
  };
}

}  // namespace aion::copilot
