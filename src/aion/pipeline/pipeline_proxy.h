// ServiceProxy: the stable front of a pipeline service stage. It listens on 127.0.0.1:<port>
// and forwards each new connection to the current backend port on 127.0.0.1; set_backend()
// switches where new connections go (connections already open keep their backend until they
// close), so a new version takes over without clients changing port; connections_to() says
// when the old backend has none left and may stop. Plain POSIX sockets: one
// accept thread and one thread per connection, at most kMaxConnections at once (more wait in
// the listen backlog). Thread-safe: set_backend()/backend() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "aion/core/error.h"

namespace aion::pipeline {

class ServiceProxy {
 public:
  static constexpr int kMaxConnections = 256;

  // Binds 127.0.0.1:port (SO_REUSEADDR) and starts accepting. kUnavailable naming the port
  // when it is taken.
  static Result<std::unique_ptr<ServiceProxy>> open(int port, int backend_port);
  ~ServiceProxy();  // closes the listener, shuts down open connections, joins every thread
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  void set_backend(int backend_port);
  int backend() const { return backend_.load(); }
  // Open connections forwarded to `backend_port` (counted from their accept, so none accepted
  // before a set_backend() is missed).
  int connections_to(int backend_port);
  int port() const { return port_; }
  int active_connections() const { return active_.load(); }

 private:
  ServiceProxy(int listen_fd, int port, int backend_port);
  void accept_loop();
  void serve(int client_fd, int backend_port);

  int listen_fd_;
  int port_;
  std::atomic<int> backend_;
  std::atomic<int> active_{0};
  std::atomic<bool> stopping_{false};
  // Guards conn_fds_ (open sockets, shut down at close), per_backend_ and the writes of
  // backend_; cv_ wakes the acceptor when a connection slot frees up and the destructor when
  // the last connection thread ends.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> conn_fds_;
  std::map<int, int> per_backend_;  // backend port -> open connections to it
  std::thread acceptor_;
};

// A TCP connection to 127.0.0.1:port made within `timeout_ms`, as a blocking descriptor;
// -1 when refused or timed out. Thread-safe.
int connect_loopback(int port, int timeout_ms);

}  // namespace aion::pipeline
