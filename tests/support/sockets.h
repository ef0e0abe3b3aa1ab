// Loopback TCP helpers for tests: a free port for a server the test starts (Prometheus,
// slurmctld), and raw connections for the attacker tests: connect from a chosen loopback
// source address (127.0.0.2 is a second peer on the same host), send bytes, read until the
// server closes. Thread-safe (last_read_closed is per thread).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

namespace aion::testing {

// A socket of `type` (SOCK_STREAM, listening, or SOCK_DGRAM) bound to 127.0.0.1 on a port the
// kernel picks, which goes to `port` (0 when binding failed); -1 when no socket could be had.
inline int bind_loopback(int type, int& port) {
  port = 0;
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (type == SOCK_STREAM) ::listen(fd, 8);
  return fd;
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it); 0 when no socket
// could be had (then the server under test fails to start and says why).
inline int free_port() {
  int port = 0;
  const int fd = bind_loopback(SOCK_STREAM, port);
  if (fd >= 0) ::close(fd);
  return port;
}

// Whether the last read_until_closed() on this thread ended because the peer closed.
inline thread_local bool last_read_closed = false;

// A connected socket from `source` (an address of 127.0.0.0/8) to 127.0.0.1:port; -1 on error.
inline int connect_from(const char* source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<unsigned short>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Everything the server sends until it closes the connection or `timeout` passes.
inline std::string read_until_closed(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  last_read_closed = false;
  const auto end = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      last_read_closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace aion::testing
