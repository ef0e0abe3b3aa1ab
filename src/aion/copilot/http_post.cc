#include "aion/copilot/http_post.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aion/core/fd.h"
#include "aion/core/strings.h"

namespace aion::copilot {
namespace {

// A model's reply is at most this large.
constexpr std::size_t kMaxReplyBytes = 8 << 20;

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, ms_left(deadline));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

Result<Fd> connect_to(const std::string& host, const std::string& port,
                      Clock::time_point deadline) {
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

Status send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    if (!wait_for(fd, POLLOUT, deadline)) return fail(ErrorCode::kUnavailable, "timed out sending");
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0)
      return fail(ErrorCode::kUnavailable, std::string("sending: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

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
Result<HttpReply> read_reply(int fd, Clock::time_point deadline, const BodyFn& on_body) {
  ReplyDecoder d(on_body);
  char buf[16384];
  while (true) {
    if (d.size() > kMaxReplyBytes)
      return fail(ErrorCode::kResourceExhausted, "the reply is larger than 8 MiB");
    if (!wait_for(fd, POLLIN, deadline))
      return fail(ErrorCode::kUnavailable, "timed out waiting for the answer");
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0)
      return fail(ErrorCode::kUnavailable, std::string("reading: ") + std::strerror(errno));
    if (n == 0) {  // closed: what came is the reply, when its head is whole
      if (!d.head_done())
        return fail(ErrorCode::kUnavailable, "the connection closed without an answer");
      return d.reply();
    }
    if (d.feed(std::string_view(buf, static_cast<std::size_t>(n)))) return d.reply();
  }
}

}  // namespace

Result<HttpReply> http_post(const std::string& url, const std::string& body,
                            const std::string& bearer, std::chrono::seconds timeout,
                            const BodyFn& on_body) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return fail(
        ErrorCode::kUnsupported,
        "https:// endpoints are not spoken directly; run a TLS-terminating proxy on this "
        "node in front of the API and point copilot.base_url at it (http://127.0.0.1:PORT/...)");
  }
  if (url.rfind(kHttp, 0) != 0)
    return fail(ErrorCode::kInvalidArgument, "not an http:// URL: " + url);
  const std::size_t slash = url.find('/', kHttp.size());
  const std::string authority = url.substr(
      kHttp.size(), slash == std::string::npos ? std::string::npos : slash - kHttp.size());
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  std::string host = authority, port = "80";
  if (auto c = authority.rfind(':');
      c != std::string::npos && authority.find(']', c) == std::string::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) return fail(ErrorCode::kInvalidArgument, "no host in " + url);
  const auto deadline = Clock::now() + timeout;
  auto fd = connect_to(host, port, deadline);
  if (!fd) return std::unexpected(fd.error());
  std::string req =
      "POST " + path + " HTTP/1.1\r\nHost: " + authority +
      "\r\nUser-Agent: aion\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  req += "\r\n";
  if (auto st = send_all(fd->get(), req, deadline); !st) return std::unexpected(st.error());
  if (auto st = send_all(fd->get(), body, deadline); !st) return std::unexpected(st.error());
  auto r = read_reply(fd->get(), deadline, on_body);
  if (!r && r.error().code() == ErrorCode::kUnavailable && ms_left(deadline) == 0)
    return fail(ErrorCode::kUnavailable,
                "no answer within " + std::to_string(timeout.count()) + " s");
  return r;
}

}  // namespace aion::copilot
