#include "aion/api/client.h"

#include <utility>  // Boost 1.74 asio needs it under C++23

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "aion/core/json.h"
#include "aion/core/version.h"

namespace aion::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = net::local::stream_protocol;
using tcp = net::ip::tcp;

ErrorCode code_for_status(int status) {
  switch (status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    case 409: return ErrorCode::kConflict;
    case 413: return ErrorCode::kResourceExhausted;
    case 501: return ErrorCode::kUnsupported;
    case 503: return ErrorCode::kUnavailable;
    case 504: return ErrorCode::kTimeout;
    default: return status >= 500 ? ErrorCode::kInternal : ErrorCode::kInvalidArgument;
  }
}

}  // namespace

Error HttpResponse::error() const {
  std::string message = "HTTP " + std::to_string(status);
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    message = j["error"].value("message", message);
  }
  return Error(code_for_status(status), message);
}

class Client::Impl {
 public:
  net::io_context ioc;
  std::optional<local::socket> unix_socket;
  std::optional<tcp::socket> tcp_socket;
  std::string token;
  std::string host = "localhost";
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout{30000};

  template <class F>
  auto with_socket(F&& f) {
    if (unix_socket) return f(*unix_socket);
    return f(*tcp_socket);
  }

  void set_timeouts() {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    int fd = unix_socket ? unix_socket->native_handle() : tcp_socket->native_handle();
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  http::request<http::string_body> make(std::string_view method, std::string_view target,
                                        std::string_view body) {
    http::request<http::string_body> req;
    req.method_string(beast::string_view(method.data(), method.size()));
    req.target(beast::string_view(target.data(), target.size()));
    req.version(11);
    req.set(http::field::host, host);
    req.set(http::field::user_agent, std::string("aion/") + kVersion);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(body);
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<Client> Client::connect_unix(const std::filesystem::path& socket,
                                    std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  impl->unix_socket.emplace(impl->ioc);
  beast::error_code ec;
  impl->unix_socket->connect(local::endpoint(socket.string()), ec);
  if (ec) {
    std::string why =
        ec == net::error::access_denied
            ? "permission denied on " + socket.string() + " (join the 'aion' group, or use sudo)"
            : "aiond is not running (nothing listens on " + socket.string() + ": " + ec.message() +
                  "); start it with `aiond` or `sudo systemctl start aiond`";
    return fail(
        ec == net::error::access_denied ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
        why);
  }
  impl->set_timeouts();
  return Client(std::move(impl));
}

Result<Client> Client::connect_tcp(std::string_view host_port, std::string token,
                                   std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  impl->token = std::move(token);
  std::string spec(host_port);
  auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    return fail(ErrorCode::kInvalidArgument, "expected host:port, got " + spec);
  std::string host = spec.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  impl->host = spec;
  tcp::resolver resolver(impl->ioc);
  beast::error_code ec;
  auto results = resolver.resolve(host, spec.substr(colon + 1), ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot resolve " + spec + ": " + ec.message());
  impl->tcp_socket.emplace(impl->ioc);
  net::connect(*impl->tcp_socket, results, ec);
  if (ec)
    return fail(ErrorCode::kUnavailable,
                "cannot connect to aiond at " + spec + ": " + ec.message());
  impl->tcp_socket->set_option(tcp::no_delay(true), ec);
  impl->set_timeouts();
  return Client(std::move(impl));
}

Result<HttpResponse> Client::request(std::string_view method, std::string_view target,
                                     std::string_view body) {
  auto req = impl_->make(method, target, body);
  beast::error_code ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256ull << 20);
  impl_->with_socket([&](auto& s) {
    http::write(s, req, ec);
    if (!ec) http::read(s, impl_->buffer, parser, ec);
  });
  if (ec) {
    return fail(ErrorCode::kUnavailable, "talking to aiond (" + std::string(method) + " " +
                                             std::string(target) + "): " + ec.message());
  }
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  return out;
}

Status Client::stream(std::string_view target,
                      const std::function<bool(std::string_view)>& on_event) {
  auto req = impl_->make("GET", target, {});
  req.set(http::field::accept, "text/event-stream");
  beast::error_code ec;
  impl_->with_socket([&](auto& s) { http::write(s, req, ec); });
  if (ec) return fail(ErrorCode::kUnavailable, "talking to aiond: " + ec.message());
  // The server answers with a header block and then a raw event stream until it closes.
  std::string pending;
  bool header_done = false;
  char buf[8192];
  while (true) {
    std::size_t n = 0;
    impl_->with_socket([&](auto& s) { n = s.read_some(net::buffer(buf), ec); });
    if (ec) {
      if (ec == net::error::eof) return {};
      // A receive timeout on an idle stream is not an error: keep waiting.
      if (ec == net::error::would_block || ec == net::error::try_again) continue;
      return fail(ErrorCode::kUnavailable, "event stream ended: " + ec.message());
    }
    pending.append(buf, n);
    if (!header_done) {
      auto end = pending.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::string head = pending.substr(0, end);
      if (head.rfind("HTTP/1.1 200", 0) != 0) {
        HttpResponse r;
        r.status = std::atoi(head.substr(9, 3).c_str());
        r.body = pending.substr(end + 4);
        return std::unexpected(r.error());
      }
      pending.erase(0, end + 4);
      header_done = true;
    }
    std::size_t frame_end;
    while ((frame_end = pending.find("\n\n")) != std::string::npos) {
      std::string frame = pending.substr(0, frame_end);
      pending.erase(0, frame_end + 2);
      std::string data;
      std::size_t pos = 0;
      while (pos <= frame.size()) {
        std::size_t nl = frame.find('\n', pos);
        std::string line =
            frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("data:", 0) == 0) {
          std::string_view v = std::string_view(line).substr(5);
          if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
          if (!data.empty()) data += '\n';
          data += v;
        }
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      if (!data.empty() && !on_event(data)) return {};
    }
  }
}

Result<std::string> Client::raw_exchange(std::string_view bytes, std::size_t limit) {
  beast::error_code ec;
  impl_->with_socket([&](auto& s) { net::write(s, net::buffer(bytes.data(), bytes.size()), ec); });
  // The server may answer and close before reading everything we sent: still read.
  std::string out;
  char buf[8192];
  while (out.size() < limit) {
    std::size_t n = 0;
    beast::error_code rec;
    impl_->with_socket([&](auto& s) { n = s.read_some(net::buffer(buf), rec); });
    if (rec) break;
    out.append(buf, n);
    // One full response is enough: stop once headers and the declared body are in.
    auto end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = out.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) {
        std::size_t len = std::strtoul(out.c_str() + cl + 16, nullptr, 10);
        if (out.size() >= end + 4 + len) break;
      }
    }
  }
  if (out.empty() && ec) return fail(ErrorCode::kUnavailable, "raw exchange: " + ec.message());
  return out;
}

}  // namespace aion::api
