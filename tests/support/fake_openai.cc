#include "support/fake_openai.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>

#include "support/daemon_harness.h"
#include "support/sockets.h"

namespace aion::testing {

namespace fs = std::filesystem;

// One accepted connection, plain or TLS; reads and writes block.
struct FakeModel::Peer {
  int fd = -1;
  SSL* ssl = nullptr;
  ssize_t read(char* buf, std::size_t n) const {
    return ssl ? SSL_read(ssl, buf, static_cast<int>(n)) : ::read(fd, buf, n);
  }
  void write(const std::string& s) const {
    if (ssl)
      SSL_write(ssl, s.data(), static_cast<int>(s.size()));
    else [[maybe_unused]]
      auto w = ::write(fd, s.data(), s.size());
  }
  void close() const {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ::close(fd);
  }
};

FakeModel::FakeModel(std::vector<Reply> script, std::optional<Cert> cert)
    : script_(std::move(script)) {
  if (cert) {
    tls_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(tls_, cert->cert.c_str());
    SSL_CTX_use_PrivateKey_file(tls_, cert->key.c_str(), SSL_FILETYPE_PEM);
  }
  fd_ = bind_loopback(SOCK_STREAM, port_);
  thread_ = std::thread([this] { serve(); });
}

FakeModel::~FakeModel() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
  if (tls_) SSL_CTX_free(tls_);
}

std::vector<std::string> FakeModel::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

void FakeModel::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    Peer c{::accept(fd_, nullptr, nullptr)};
    if (c.fd < 0) continue;
    if (tls_) {
      c.ssl = SSL_new(tls_);
      SSL_set_fd(c.ssl, c.fd);
      if (SSL_accept(c.ssl) != 1) {  // the client refused the certificate
        c.close();
        continue;
      }
    }
    answer(c);
  }
}

void FakeModel::answer(const Peer& c) {
  std::string in;
  char buf[65536];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || in.size() < need) {
    const ssize_t n = c.read(buf, sizeof buf);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
    const auto end = in.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::string head = in.substr(0, end);
      for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const auto cl = head.find("content-length:");
      need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15)));
    }
  }
  Reply r{500, R"({"error":{"message":"script exhausted"}})", 0};
  {
    std::lock_guard lock(mu_);
    received_.push_back(in.substr(std::min(in.size(), in.find("\r\n\r\n") + 4)));
    if (next_ < script_.size()) r = script_[next_++];
  }
  if (r.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
  if (!r.events.empty()) return stream(c, r);
  c.write("HTTP/1.1 " + std::to_string(r.status) +
          " X\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body);
  c.close();
}

void FakeModel::stream(const Peer& c, const Reply& r) {
  c.write(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
      "chunked\r\nConnection: close\r\n\r\n");
  for (const std::string& e : r.events) {
    const std::string frame = "data: " + e + "\n\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", frame.size());
    c.write(size + frame + "\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(r.event_delay_ms));
  }
  c.write("0\r\n\r\n");
  c.close();
}

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1"), made in `dir`.
Cert make_cert(const fs::path& dir, const std::string& san) {
  Cert c{dir / "cert.pem", dir / "key.pem"};
  Exit r = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", c.key.string(), "-out",
                        c.cert.string(), "-days", "2", "-subj", "/CN=aion test endpoint", "-addext",
                        "subjectAltName=" + san});
  EXPECT_EQ(r.code, 0) << r.out;
  return c;
}

bool have_openssl_command() {
  return fs::exists("/usr/bin/openssl");
}

std::string completion(const Json& message) {
  return Json{{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"created", 1765100000},
              {"model", "qwen2.5-7b-instruct"},
              {"choices",
               {{{"index", 0},
                 {"message", message},
                 {"finish_reason", message.contains("tool_calls") ? "tool_calls" : "stop"}}}},
              {"usage", {{"prompt_tokens", 900}, {"completion_tokens", 20}, {"total_tokens", 920}}}}
      .dump();
}

std::string tool_call(const std::string& name, const std::string& args) {
  return completion({{"role", "assistant"},
                     {"content", nullptr},
                     {"tool_calls",
                      {{{"id", "call_" + name},
                        {"type", "function"},
                        {"function", {{"name", name}, {"arguments", args}}}}}}});
}

std::string final_answer(const std::string& text) {
  return completion({{"role", "assistant"}, {"content", text}});
}

// A streamed chunk of a chat completion with this delta.
std::string delta(const Json& d) {
  return Json{{"id", "chatcmpl-2"},
              {"object", "chat.completion.chunk"},
              {"model", "qwen2.5-7b-instruct"},
              {"choices", {{{"index", 0}, {"delta", d}, {"finish_reason", nullptr}}}}}
      .dump();
}

}  // namespace aion::testing
