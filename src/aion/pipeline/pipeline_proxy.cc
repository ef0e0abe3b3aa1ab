#include "aion/pipeline/pipeline_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <chrono>

namespace aion::pipeline {
namespace {

// How often blocked threads look at stopping_: the bound on how long closing a proxy takes.
constexpr int kPollMs = 100;

// A backend on loopback answers a connect at once or refuses it; this only bounds the odd
// stuck case.
constexpr int kBackendConnectMs = 1000;

}  // namespace

int connect_loopback(int port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (errno != EINPROGRESS || ::poll(&p, 1, timeout_ms) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      return -1;
    }
  }
  // Blocking from here on: callers poll before they read or write.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<std::unique_ptr<ServiceProxy>> ServiceProxy::open(int port, int backend_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(errno_error(errno, "making the service proxy's socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0) {
    int e = errno;
    ::close(fd);
    return fail(ErrorCode::kUnavailable,
                "cannot listen on 127.0.0.1:" + std::to_string(port) +
                    " for the service proxy: " + errno_error(e, "bind").message() +
                    " (another program holds the port: choose another service.port)");
  }
  return std::unique_ptr<ServiceProxy>(new ServiceProxy(fd, port, backend_port));
}

ServiceProxy::ServiceProxy(int listen_fd, int port, int backend_port)
    : listen_fd_(listen_fd), port_(port), backend_(backend_port) {
  acceptor_ = std::thread([this] { accept_loop(); });
}

ServiceProxy::~ServiceProxy() {
  stopping_.store(true);
  {
    std::lock_guard lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  // Workers are detached; each one's last touch of *this is under mu_ (see serve()).
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return active_.load() == 0; });
  ::close(listen_fd_);
}

void ServiceProxy::set_backend(int backend_port) {
  std::lock_guard lock(mu_);
  backend_.store(backend_port);
}

int ServiceProxy::connections_to(int backend_port) {
  std::lock_guard lock(mu_);
  auto it = per_backend_.find(backend_port);
  return it == per_backend_.end() ? 0 : it->second;
}

void ServiceProxy::accept_loop() {
  while (!stopping_.load()) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kPollMs),
                   [this] { return stopping_.load() || active_.load() < kMaxConnections; });
      if (stopping_.load()) return;
      if (active_.load() >= kMaxConnections) continue;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) != 1) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    if (stopping_.load()) {
      ::close(client);
      return;
    }
    active_.fetch_add(1);
    conn_fds_.push_back(client);
    // The backend is chosen here, under mu_, and counted at once: a set_backend() after this
    // line finds the connection counted against the backend it goes to.
    const int backend_port = backend_.load();
    ++per_backend_[backend_port];
    std::thread([this, client, backend_port] { serve(client, backend_port); }).detach();
  }
}

void ServiceProxy::serve(int client, int backend_port) {
  int backend = backend_port > 0 ? connect_loopback(backend_port, kBackendConnectMs) : -1;
  if (backend >= 0) {
    {
      std::lock_guard lock(mu_);
      conn_fds_.push_back(backend);
    }
    pollfd p[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
    bool open_in[2] = {true, true};
    char buf[16384];
    while (!stopping_.load() && (open_in[0] || open_in[1])) {
      p[0].events = open_in[0] ? POLLIN : 0;
      p[1].events = open_in[1] ? POLLIN : 0;
      int n = ::poll(p, 2, kPollMs);
      if (n <= 0) continue;
      bool broken = false;
      for (int i = 0; i < 2 && !broken; ++i) {
        if (!open_in[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = ::recv(p[i].fd, buf, sizeof buf, 0);
        int peer = p[1 - i].fd;
        if (got <= 0) {
          // EOF one way: pass the half-close on, keep the other direction.
          open_in[i] = false;
          ::shutdown(peer, SHUT_WR);
          if (got < 0) broken = true;
          continue;
        }
        std::size_t off = 0;
        while (off < static_cast<std::size_t>(got)) {
          ssize_t w = ::send(peer, buf + off, static_cast<std::size_t>(got) - off, MSG_NOSIGNAL);
          if (w <= 0) {
            broken = true;
            break;
          }
          off += static_cast<std::size_t>(w);
        }
      }
      if (broken) break;
    }
  }
  std::lock_guard lock(mu_);
  if (auto it = per_backend_.find(backend_port); it != per_backend_.end() && --it->second <= 0) {
    per_backend_.erase(it);
  }
  std::erase(conn_fds_, client);
  if (backend >= 0) std::erase(conn_fds_, backend);
  ::close(client);
  if (backend >= 0) ::close(backend);
  active_.fetch_sub(1);
  cv_.notify_all();
}

}  // namespace aion::pipeline
