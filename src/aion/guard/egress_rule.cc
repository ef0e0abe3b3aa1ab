#include "aion/guard/egress_rule.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "aion/core/strings.h"

namespace aion::guard {
namespace {

constexpr std::string_view kForm =
    "expected ADDRESS[/PREFIX][:PORT][/tcp|/udp], e.g. 10.0.0.0/8, 127.0.0.1:8000, [::1]:443 or "
    "192.168.1.5:53/udp";

std::unexpected<Error> bad(std::string_view text, const std::string& why) {
  return fail(ErrorCode::kInvalidArgument,
              "network rule '" + std::string(text) + "': " + why + " (" + std::string(kForm) + ")");
}

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool all_letters(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalpha(c) != 0; });
}

int max_prefix(int family) {
  return family == AF_INET ? 32 : 128;
}

// Whether any bit of `addr` past the first `prefix` bits is set.
bool host_bits_set(const std::array<std::uint8_t, 16>& addr, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    if ((addr[static_cast<std::size_t>(bit / 8)] >> (7 - bit % 8)) & 1) return true;
  }
  return false;
}

// The pieces of a rule once its protocol suffix is taken off.
struct Pieces {
  std::string_view address, prefix, port;
  bool bracketed = false;
};

// Splits "ADDRESS[/PREFIX][:PORT]" (IPv6 in brackets when a port follows).
Result<Pieces> split_pieces(std::string_view text, std::string_view s) {
  Pieces p;
  std::string_view rest;
  if (s.starts_with('[')) {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return bad(text, "'[' without its ']'");
    p.address = s.substr(1, close - 1);
    p.bracketed = true;
    rest = s.substr(close + 1);
  } else if (std::count(s.begin(), s.end(), ':') >= 2) {  // bare IPv6: no port possible
    const std::size_t slash = s.find('/');
    p.address = s.substr(0, slash);
    if (slash != std::string_view::npos) p.prefix = s.substr(slash + 1);
    if (p.prefix.empty() && slash != std::string_view::npos) return bad(text, "empty prefix");
    return p;
  } else {
    const std::size_t end = s.find_first_of("/:");
    p.address = s.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  if (rest.starts_with('/')) {
    const std::size_t colon = rest.find(':');
    p.prefix = rest.substr(1, colon == std::string_view::npos ? rest.npos : colon - 1);
    if (p.prefix.empty()) return bad(text, "empty prefix after '/'");
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  if (rest.starts_with(':')) {
    p.port = rest.substr(1);
    if (p.port.empty()) return bad(text, "empty port after ':'");
    rest = {};
  }
  if (!rest.empty()) return bad(text, "unexpected '" + std::string(rest) + "'");
  return p;
}

Status parse_address(std::string_view text, const Pieces& p, NetRule& rule) {
  if (p.address.empty()) return bad(text, "no address");
  const std::string address(p.address);
  if (::inet_pton(AF_INET, address.c_str(), rule.addr.data()) == 1 && !p.bracketed) {
    rule.family = AF_INET;
    return {};
  }
  if (::inet_pton(AF_INET6, address.c_str(), rule.addr.data()) == 1) {
    rule.family = AF_INET6;
    return {};
  }
  rule.addr = {};
  if (p.bracketed) return bad(text, "'" + address + "' in brackets is not an IPv6 address");
  const bool name_like = std::any_of(address.begin(), address.end(),
                                     [](unsigned char c) { return std::isalpha(c) != 0; });
  if (name_like && address.find(':') == std::string::npos) {
    return bad(text, "'" + address +
                         "' is not an IP address; rules take addresses, so resolve "
                         "host names before building the policy");
  }
  return bad(text, "'" + address + "' is not an IPv4 or IPv6 address");
}

Status parse_prefix(std::string_view text, std::string_view prefix, NetRule& rule) {
  const int limit = max_prefix(rule.family);
  rule.prefix = limit;
  if (prefix.empty()) return {};
  const auto n = all_digits(prefix) ? parse_int<int>(prefix) : std::nullopt;
  if (!n || *n > limit) {
    return bad(text, "prefix '" + std::string(prefix) + "' is not a number from 0 to " +
                         std::to_string(limit) + (rule.family == AF_INET ? " (IPv4)" : " (IPv6)"));
  }
  rule.prefix = *n;
  return {};
}

Status parse_port(std::string_view text, std::string_view port, NetRule& rule) {
  if (port.empty()) return {};
  const auto n = all_digits(port) ? parse_int<int>(port) : std::nullopt;
  if (!n || *n < 1 || *n > 65535) {
    return bad(text, "port '" + std::string(port) +
                         "' is not a number from 1 to 65535 (leave the port out to allow "
                         "every port)");
  }
  rule.port = static_cast<std::uint16_t>(*n);
  return {};
}

// Takes a trailing "/tcp" or "/udp" off `s` and sets the rule's protocol. A trailing "/WORD"
// of letters is always a protocol (a prefix is digits), so "/icmp" is refused here.
Status take_protocol(std::string_view text, std::string_view& s, NetRule& rule) {
  const std::size_t slash = s.rfind('/');
  if (slash == std::string_view::npos || !all_letters(s.substr(slash + 1))) return {};
  const std::string name = lower(s.substr(slash + 1));
  if (name == "tcp") {
    rule.protocol = IPPROTO_TCP;
  } else if (name == "udp") {
    rule.protocol = IPPROTO_UDP;
  } else {
    return bad(text, "unknown protocol '" + name + "': use tcp or udp, or leave it out for both");
  }
  s = s.substr(0, slash);
  return {};
}

std::string address_text(const NetRule& rule) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(rule.family, rule.addr.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

}  // namespace

Result<NetRule> parse_net_rule(std::string_view text) {
  std::string_view s = trim_view(text);
  if (s.empty()) return bad(text, "empty rule");
  NetRule rule;
  if (auto st = take_protocol(text, s, rule); !st) return std::unexpected(st.error());
  auto pieces = split_pieces(text, s);
  if (!pieces) return std::unexpected(pieces.error());
  if (auto st = parse_address(text, *pieces, rule); !st) return std::unexpected(st.error());
  if (auto st = parse_prefix(text, pieces->prefix, rule); !st) return std::unexpected(st.error());
  if (auto st = parse_port(text, pieces->port, rule); !st) return std::unexpected(st.error());
  if (host_bits_set(rule.addr, rule.prefix)) {
    NetRule masked = rule;
    for (int bit = rule.prefix; bit < 128; ++bit) {
      masked.addr[static_cast<std::size_t>(bit / 8)] &=
          static_cast<std::uint8_t>(~(1u << (7 - bit % 8)));
    }
    return bad(text, "the address has bits set past the /" + std::to_string(rule.prefix) +
                         " prefix; did you mean " + format_net_rule(masked) + "?");
  }
  return rule;
}

std::string format_net_rule(const NetRule& rule) {
  // Built by appending: GCC 12 reports `"[" + text` (a literal plus a temporary) as an
  // overlapping copy, a known false positive of -Wrestrict.
  const bool v6 = rule.family == AF_INET6;
  const bool bracket = v6 && rule.port != 0;
  std::string out;
  if (bracket) out.push_back('[');
  out.append(address_text(rule));
  if (bracket) out.push_back(']');
  if (rule.prefix != max_prefix(rule.family)) out.append("/").append(std::to_string(rule.prefix));
  if (rule.port != 0) out.append(":").append(std::to_string(rule.port));
  if (rule.protocol == IPPROTO_TCP) out.append("/tcp");
  if (rule.protocol == IPPROTO_UDP) out.append("/udp");
  return out;
}

Status validate_net_rule(const NetRule& rule) {
  const auto invalid = [](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "network rule: " + why);
  };
  if (rule.family != AF_INET && rule.family != AF_INET6) {
    return invalid("family " + std::to_string(rule.family) + " is neither AF_INET nor AF_INET6");
  }
  if (rule.prefix < 0 || rule.prefix > max_prefix(rule.family)) {
    return invalid("prefix " + std::to_string(rule.prefix) + " out of range for " +
                   (rule.family == AF_INET ? "IPv4 (0-32)" : "IPv6 (0-128)"));
  }
  if (host_bits_set(rule.addr, rule.prefix)) {
    return invalid(format_net_rule(rule) + " has address bits set past its prefix");
  }
  if (rule.protocol != 0 && rule.protocol != IPPROTO_TCP && rule.protocol != IPPROTO_UDP) {
    return invalid("protocol " + std::to_string(rule.protocol) + " is not 0, TCP or UDP");
  }
  return {};
}

}  // namespace aion::guard
