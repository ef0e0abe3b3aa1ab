// http_post(): one HTTP/1.1 POST over TCP with a deadline on the whole exchange, the transport
// aion uses for model endpoints (http://host:port/path). The reply body is bounded (a model's
// answer is kilobytes; a larger body is refused) and read by Content-Length, chunked transfer
// or until the server closes. https:// is not spoken: a TLS-terminating proxy on the node
// serves such APIs. Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <string>

#include "aion/copilot/llm.h"
#include "aion/core/error.h"

namespace aion::copilot {

// kUnavailable (no connection, timed out, connection broke), kUnsupported (not http://),
// kInvalidArgument (malformed URL), kResourceExhausted (reply over 8 MiB).
// `on_body`, when set, gets each piece of the body as it arrives (a streamed answer); the
// reply holds the whole body all the same.
Result<HttpReply> http_post(const std::string& url, const std::string& body,
                            const std::string& bearer, std::chrono::seconds timeout,
                            const BodyFn& on_body);

}  // namespace aion::copilot
