// The server name a TLS client asks for, read from the first bytes of its ClientHello as the
// egress monitor copies them off the wire. Pure function over untrusted bytes; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace aion::guard {

// The host_name of the server_name extension (RFC 6066, section 3) of the TLS ClientHello
// that `bytes` start with: TLS records (RFC 8446, section 5.1) of content type handshake
// (22) carrying a handshake message of type client_hello (1) (RFC 8446 section 4.1.2, the
// same layout as TLS 1.0-1.2). A hello fragmented over several records is joined.
//
// `bytes` are hostile: every length is checked against what is really there and nothing past
// the end is read. They may be cut short (only the head of the hello is copied): the name is
// returned when its extension lies whole in what is there, nullopt otherwise. Also nullopt
// when the bytes are not a ClientHello, carry no server_name, or the name is not a plain DNS
// name (1-253 bytes of letters, digits, '-', '_' and '.'); the name is returned lowercase.
std::optional<std::string> client_hello_server_name(std::span<const std::uint8_t> bytes);

}  // namespace aion::guard
