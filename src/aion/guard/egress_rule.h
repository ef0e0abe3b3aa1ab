// NetRule: one destination a job's network policy allows (an address block, a port, a
// transport protocol), and its text form. The egress monitor (egress.h) enforces a list of
// them. Plain values and pure functions; thread-safe.
//
// Grammar of the text form:
//   RULE     = ADDRESS [ "/" PREFIX ] [ ":" PORT ] [ "/" PROTOCOL ]
//   ADDRESS  = IPv4 dotted quad ("10.1.2.3") | "[" IPv6 "]" | IPv6 (bare only without a port)
//   PREFIX   = 0-32 for IPv4, 0-128 for IPv6; left out: the single host (/32, /128)
//   PORT     = 1-65535; left out: every port
//   PROTOCOL = "tcp" | "udp" (any case); left out: both
// Examples: "10.0.0.0/8", "127.0.0.1:8000", "[::1]:443", "192.168.1.5:53/udp",
// "0.0.0.0/0:443/tcp", "2001:db8::/32", "[2001:db8::]/32:443/tcp". An address with bits set
// past its prefix ("10.0.0.1/8") is refused rather than silently widened. Host names are not
// rules: resolve them first.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "aion/core/error.h"

namespace aion::guard {

struct NetRule {
  int family = 0;                       // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
  int prefix = 0;                       // significant leading bits of addr
  std::uint16_t port = 0;               // 0: any port
  int protocol = 0;                     // 0: TCP and UDP; IPPROTO_TCP; IPPROTO_UDP

  bool operator==(const NetRule&) const = default;
};

// The rule `text` states (grammar above); kInvalidArgument naming the text, the part that is
// wrong and the form expected.
Result<NetRule> parse_net_rule(std::string_view text);

// The text form of a rule, in the shortest spelling parse_net_rule() reads back to the same
// rule ("10.0.0.0/8:443/tcp", "[::1]:8000", "2001:db8::/32").
std::string format_net_rule(const NetRule& rule);

// Whether `rule` is one parse_net_rule() could have made: a known family, a prefix in range,
// no address bits past the prefix, protocol 0, TCP or UDP. kInvalidArgument says which.
Status validate_net_rule(const NetRule& rule);

}  // namespace aion::guard
