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

// The body of a chunked transfer; nullopt while incomplete.
std::optional<std::string> dechunk(std::string_view in) {
  std::string out;
  while (true) {
    const auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    const std::size_t size = std::strtoul(std::string(in.substr(0, eol)).c_str(), nullptr, 16);
    if (size == 0) return out;
    if (in.size() < eol + 2 + size + 2) return std::nullopt;
    out.append(in.substr(eol + 2, size));
    in.remove_prefix(eol + 2 + size + 2);
  }
}

// Reads the reply until it is complete (by its framing) or the server closes.
Result<HttpReply> read_reply(int fd, Clock::time_point deadline) {
  std::string in;
  char buf[16384];
  while (true) {
    const auto head_end = in.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::string head = lower(in.substr(0, head_end));
      const std::string_view rest = std::string_view(in).substr(head_end + 4);
      HttpReply r;
      r.status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
      if (head.find("transfer-encoding: chunked") != std::string::npos) {
        if (auto body = dechunk(rest)) return HttpReply{r.status, std::move(*body)};
      } else if (auto cl = head.find("content-length:"); cl != std::string::npos) {
        const std::size_t len = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        if (rest.size() >= len) return HttpReply{r.status, std::string(rest.substr(0, len))};
      }
    }
    if (in.size() > kMaxReplyBytes)
      return fail(ErrorCode::kResourceExhausted, "the reply is larger than 8 MiB");
    if (!wait_for(fd, POLLIN, deadline))
      return fail(ErrorCode::kUnavailable, "timed out waiting for the answer");
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0)
      return fail(ErrorCode::kUnavailable, std::string("reading: ") + std::strerror(errno));
    if (n == 0) {  // closed: what came is the reply, when its head is whole
      const auto end = in.find("\r\n\r\n");
      if (end == std::string::npos)
        return fail(ErrorCode::kUnavailable, "the connection closed without an answer");
      return HttpReply{std::atoi(in.c_str() + 9), in.substr(end + 4)};
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

Result<HttpReply> http_post(const std::string& url, const std::string& body,
                            const std::string& bearer, std::chrono::seconds timeout) {
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
  auto r = read_reply(fd->get(), deadline);
  if (!r && r.error().code() == ErrorCode::kUnavailable && ms_left(deadline) == 0)
    return fail(ErrorCode::kUnavailable,
                "no answer within " + std::to_string(timeout.count()) + " s");
  return r;
}

}  // namespace aion::copilot
