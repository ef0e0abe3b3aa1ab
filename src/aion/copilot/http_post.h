// http_post(): one HTTP/1.1 POST over TCP, or over TLS for https://, with a deadline on the whole
// exchange: the transport aion uses for model endpoints. The reply body is bounded (a model's
// answer is kilobytes; a larger body is refused) and read by Content-Length, chunked transfer
// or until the server closes. TLS is 1.2 or newer through OpenSSL; the server's certificate
// must chain to the system's trust store (or to `ca_file`) and name the URL's host, which is
// also sent as the server name (SNI). Thread-safe (no shared state).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "aion/copilot/llm.h"
#include "aion/core/error.h"

namespace aion::copilot {

struct PostOptions {
  // https:// only: the PEM file of the certificate authorities to trust instead of the system's (a
  // private CA in front of a rented endpoint); "" = the system's store (/etc/ssl/certs).
  std::string ca_file;
  // Set by another thread: the exchange ends within about 100 ms (kUnavailable, "the request
  // was cancelled"). Null: it runs to its reply or its timeout.
  const std::atomic<bool>* cancel = nullptr;
};

// kUnavailable (no connection, timed out, connection broke, TLS handshake or certificate
// refused: the message says which), kInvalidArgument (malformed URL, not http:// or
// https://), kResourceExhausted (reply over 8 MiB).
// `on_body`, when set, gets each piece of the body as it arrives (a streamed answer); the
// reply holds the whole body all the same.
Result<HttpReply> http_post(const std::string& url, const std::string& body,
                            const std::string& bearer, std::chrono::seconds timeout,
                            const BodyFn& on_body, const PostOptions& options = {});

// http_post() bound to `options`, as ask_model() takes its transport.
HttpPost http_transport(PostOptions options);

}  // namespace aion::copilot
