// FakeModel: a local server speaking the OpenAI chat-completions protocol (HTTP/1.1, or
// HTTPS with a certificate made by make_cert()), replaying a scripted conversation: each POST
// gets the next scripted reply (500 once the script is done), as one JSON body or as server-sent
// events in chunked transfer, as vLLM and llama.cpp's server stream. It keeps every request
// body it received, for tests that check what left the node. One thread; thread-safe to query.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/json.h"

namespace aion::testing {

struct Reply {
  int status = 200;
  std::string body;
  int delay_ms = 0;  // before the reply starts
  // Server-sent events, each sent as its own HTTP chunk (Transfer-Encoding: chunked): `body`
  // is then ignored.
  std::vector<std::string> events;
  int event_delay_ms = 5;  // between two events
};

// A certificate and its key for the TLS server.
struct Cert {
  std::filesystem::path cert, key;
};

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1", "DNS:api.example"), made in `dir`
// by the openssl command (see have_openssl_command()).
Cert make_cert(const std::filesystem::path& dir, const std::string& san);
bool have_openssl_command();

class FakeModel {
 public:
  explicit FakeModel(std::vector<Reply> script, std::optional<Cert> cert = std::nullopt);
  ~FakeModel();
  FakeModel(const FakeModel&) = delete;
  FakeModel& operator=(const FakeModel&) = delete;

  int port() const { return port_; }
  std::vector<std::string> received() const;

 private:
  struct Peer;
  void serve();
  void answer(const Peer& c);
  static void stream(const Peer& c, const Reply& r);

  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* tls_ = nullptr;
  std::vector<Reply> script_;
  std::size_t next_ = 0;               // guarded by mu_
  std::vector<std::string> received_;  // guarded by mu_
  mutable std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Chat-completion bodies as an endpoint sends them.
std::string completion(const Json& message);
std::string tool_call(const std::string& name, const std::string& args);
std::string final_answer(const std::string& text);
// A streamed chunk of a chat completion with this delta.
std::string delta(const Json& d);

}  // namespace aion::testing
