// Client: a synchronous HTTP/1.1 client for aiond's API, used by the CLI, the tests and the
// benchmarks. One Client is one keep-alive connection (unix socket or TCP with a bearer
// token); it is not thread-safe: use one per thread.
//
// connect() fails with kUnavailable when no daemon listens there; the message says how to
// start one. Non-2xx answers are returned as responses, not errors; error() turns an error
// envelope into an aion::Error.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aion/core/error.h"

namespace aion::api {

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // The error envelope's code and message as an Error (kUnavailable etc. by HTTP status).
  Error error() const;
};

class Client {
 public:
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  static Result<Client> connect_unix(const std::filesystem::path& socket,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // host:port, with a bearer token for every request. The CLI talks over the socket; this is
  // how tests reach aiond's TCP listener (and the extender's) as a remote client would.
  static Result<Client> connect_tcp(std::string_view host_port, std::string token,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

  Result<HttpResponse> request(std::string_view method, std::string_view target,
                               std::string_view body = {});
  Result<HttpResponse> get(std::string_view target) { return request("GET", target); }
  Result<HttpResponse> post(std::string_view target, std::string_view body) {
    return request("POST", target, body);
  }

  // Reads a server-sent event stream; calls on_event with each event's data until it returns
  // false or the stream ends.
  Status stream(std::string_view target,
                const std::function<bool(std::string_view data)>& on_event);

  // Sends raw bytes and returns what the server answers until it closes or `limit` bytes
  // arrived (for protocol tests that must send malformed requests).
  Result<std::string> raw_exchange(std::string_view bytes, std::size_t limit = 1 << 16);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aion::api
