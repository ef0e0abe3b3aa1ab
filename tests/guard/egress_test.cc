// The egress monitor's pure parts: the rule grammar and the ClientHello parser (hostile
// input).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "aion/guard/egress_rule.h"
#include "aion/guard/egress_tls.h"

namespace aion::guard {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------
// Rules

TEST(EgressRule, ParsesEveryForm) {
  struct Case {
    const char* text;
    int family;
    const char* addr;
    int prefix;
    std::uint16_t port;
    int protocol;
  };
  const Case cases[] = {
      {"10.0.0.0/8", AF_INET, "10.0.0.0", 8, 0, 0},
      {"127.0.0.1:8000", AF_INET, "127.0.0.1", 32, 8000, 0},
      {"[::1]:443", AF_INET6, "::1", 128, 443, 0},
      {"192.168.1.5:53/udp", AF_INET, "192.168.1.5", 32, 53, IPPROTO_UDP},
      {"0.0.0.0/0:443/tcp", AF_INET, "0.0.0.0", 0, 443, IPPROTO_TCP},
      {"2001:db8::/32", AF_INET6, "2001:db8::", 32, 0, 0},
      {"[2001:db8::]/32:443/TCP", AF_INET6, "2001:db8::", 32, 443, IPPROTO_TCP},
      {"::1", AF_INET6, "::1", 128, 0, 0},
      {"fd00::/8/udp", AF_INET6, "fd00::", 8, 0, IPPROTO_UDP},
      {"  10.1.2.3  ", AF_INET, "10.1.2.3", 32, 0, 0},
      {"1.2.3.4:65535", AF_INET, "1.2.3.4", 32, 65535, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = parse_net_rule(c.text);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    NetRule want;
    want.family = c.family;
    ASSERT_EQ(::inet_pton(c.family, c.addr, want.addr.data()), 1);
    want.prefix = c.prefix;
    want.port = c.port;
    want.protocol = c.protocol;
    EXPECT_EQ(*r, want);
    auto again = parse_net_rule(format_net_rule(*r));
    ASSERT_TRUE(again.has_value()) << format_net_rule(*r);
    EXPECT_EQ(*again, *r) << format_net_rule(*r);
    EXPECT_TRUE(validate_net_rule(*r).has_value());
  }
}

TEST(EgressRule, FormatsTheShortestSpelling) {
  const char* cases[][2] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"127.0.0.1/32:8000", "127.0.0.1:8000"},
      {"[::1]/128:443/tcp", "[::1]:443/tcp"},
      {"[2001:db8::]/32:53/UDP", "[2001:db8::]/32:53/udp"},
      {"[::1]", "::1"},
  };
  for (const auto& c : cases) {
    auto r = parse_net_rule(c[0]);
    ASSERT_TRUE(r.has_value()) << c[0] << ": " << r.error().message();
    EXPECT_EQ(format_net_rule(*r), c[1]);
  }
}

TEST(EgressRule, ErrorsSayWhatIsWrong) {
  const char* cases[][2] = {
      {"", "empty rule"},
      {"10.0.0.1/8", "did you mean 10.0.0.0/8?"},
      {"10.0.0.0/33", "prefix '33' is not a number from 0 to 32"},
      {"[::]/129", "from 0 to 128"},
      {"1.2.3.4:0", "port '0' is not a number from 1 to 65535"},
      {"1.2.3.4:70000", "port '70000'"},
      {"1.2.3.4:80:90", "'1.2.3.4:80:90' is not an IPv4 or IPv6 address"},
      {"1.2.3.4/icmp", "unknown protocol 'icmp': use tcp or udp"},
      {"api.openai.com:443", "resolve host names"},
      {"[10.0.0.1]:80", "'10.0.0.1' in brackets is not an IPv6 address"},
      {"[::1:443", "'[' without its ']'"},
      {"[::1]x", "unexpected 'x'"},
      {"1.2.3", "'1.2.3' is not an IPv4 or IPv6 address"},
      {"1.2.3.4/8x", "prefix '8x'"},
      {"1.2.3.4/", "empty prefix"},
      {"1.2.3.4:", "empty port"},
      {"/8", "no address"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[0]);
    auto r = parse_net_rule(c[0]);
    ASSERT_FALSE(r.has_value()) << format_net_rule(*r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c[1]), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("network rule '" + std::string(c[0]) + "'"),
              std::string::npos)
        << r.error().message();
  }
}

TEST(EgressRule, ValidateRefusesWhatParseCannotMake) {
  NetRule r;
  EXPECT_NE(validate_net_rule(r).error().message().find("neither AF_INET nor AF_INET6"),
            std::string::npos);
  r.family = AF_INET;
  r.prefix = 33;
  EXPECT_NE(validate_net_rule(r).error().message().find("IPv4 (0-32)"), std::string::npos);
  r.prefix = 8;
  r.addr[1] = 1;
  EXPECT_NE(validate_net_rule(r).error().message().find("bits set past its prefix"),
            std::string::npos);
  r.addr[1] = 0;
  r.protocol = 1;
  EXPECT_NE(validate_net_rule(r).error().message().find("not 0, TCP or UDP"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// ClientHello, built byte by byte from RFC 8446 section 4.1.2 and RFC 6066 section 3.

void put16(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

void put24(Bytes& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 16));
  put16(b, v & 0xffff);
}

void append(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
}

Bytes extension(std::uint16_t type, const Bytes& body) {
  Bytes e;
  put16(e, type);
  put16(e, body.size());
  append(e, body);
  return e;
}

// server_name (0): a ServerNameList with one host_name (0) entry.
Bytes sni_extension(std::string_view name) {
  Bytes entry{0};
  put16(entry, name.size());
  entry.insert(entry.end(), name.begin(), name.end());
  Bytes list;
  put16(list, entry.size());
  append(list, entry);
  return extension(0, list);
}

// A key_share (51) with one X25519MLKEM768 (0x11ec) share of 1216 bytes: what makes a
// post-quantum ClientHello long.
Bytes big_key_share() {
  Bytes share;
  put16(share, 0x11ec);
  put16(share, 1216);
  share.insert(share.end(), 1216, 0xab);
  Bytes body;
  put16(body, share.size());
  append(body, share);
  return extension(51, body);
}

Bytes supported_versions_13() {
  return extension(43, {4, 0x03, 0x04, 0x03, 0x03});
}
Bytes alpn_h2() {
  return extension(16, {0, 3, 2, 'h', '2'});
}

// The ClientHello handshake message: legacy_version, random, a 32-byte session id, three
// cipher suites, null compression, then `extensions` (left out entirely when null).
Bytes client_hello_message(const std::vector<Bytes>* extensions, std::uint16_t version = 0x0303) {
  Bytes body;
  put16(body, version);
  body.insert(body.end(), 32, 0x5a);  // random
  body.push_back(32);                 // legacy_session_id
  body.insert(body.end(), 32, 0x11);
  put16(body, 6);  // cipher_suites
  for (std::uint16_t s : {0x1301, 0x1302, 0xc02f}) put16(body, s);
  body.push_back(1);  // legacy_compression_methods: null
  body.push_back(0);
  if (extensions != nullptr) {
    Bytes all;
    for (const Bytes& e : *extensions) append(all, e);
    put16(body, all.size());
    append(body, all);
  }
  Bytes msg{1};  // client_hello
  put24(msg, body.size());
  append(msg, body);
  return msg;
}

Bytes record(const Bytes& fragment, std::uint8_t type = 22, std::uint16_t version = 0x0301) {
  Bytes r{type};
  put16(r, version);
  put16(r, fragment.size());
  append(r, fragment);
  return r;
}

Bytes hello(const std::vector<Bytes>& extensions) {
  return record(client_hello_message(&extensions));
}

std::optional<std::string> sni(const Bytes& b) {
  return client_hello_server_name(b);
}

// Where `needle` ends in `haystack` (the first match); npos when absent.
std::size_t end_of(const Bytes& haystack, const Bytes& needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end());
  if (it == haystack.end()) return std::string::npos;
  return static_cast<std::size_t>(it - haystack.begin()) + needle.size();
}

TEST(ClientHello, FindsTheServerNameOfTls13AndTls12Hellos) {
  EXPECT_EQ(sni(hello({sni_extension("example.com"), supported_versions_13()})), "example.com");
  // TLS 1.2: no supported_versions, a 1.2 record version.
  const std::vector<Bytes> exts = {alpn_h2(), sni_extension("api.example.org")};
  EXPECT_EQ(sni(record(client_hello_message(&exts), 22, 0x0303)), "api.example.org");
  // Behind a long post-quantum key share, past the first 512 bytes.
  const Bytes pq =
      hello({supported_versions_13(), big_key_share(), alpn_h2(), sni_extension("pq.example.net")});
  ASSERT_GT(pq.size(), 1300u);
  EXPECT_EQ(sni(pq), "pq.example.net");
  EXPECT_EQ(sni(hello({sni_extension("MiXeD.Example.COM")})), "mixed.example.com");
}

TEST(ClientHello, NoNameWithoutAServerNameExtension) {
  EXPECT_EQ(sni(hello({supported_versions_13(), alpn_h2()})), std::nullopt);
  EXPECT_EQ(sni(record(client_hello_message(nullptr))), std::nullopt);  // no extensions
  EXPECT_EQ(sni(hello({})), std::nullopt);
  EXPECT_EQ(sni({}), std::nullopt);
}

TEST(ClientHello, OnlyAClientHelloInAHandshakeRecordCounts) {
  const std::vector<Bytes> exts = {sni_extension("example.com")};
  Bytes msg = client_hello_message(&exts);
  EXPECT_EQ(sni(record(msg, 23)), std::nullopt);          // application_data
  EXPECT_EQ(sni(record(msg, 22, 0x0201)), std::nullopt);  // not TLS 3.x
  Bytes server_hello = msg;
  server_hello[0] = 2;
  EXPECT_EQ(sni(record(server_hello)), std::nullopt);
  EXPECT_EQ(sni(record(client_hello_message(&exts, 0x0200))), std::nullopt);
  EXPECT_EQ(sni(msg), std::nullopt);  // a bare handshake message, no record header
}

TEST(ClientHello, JoinsAHelloFragmentedOverRecords) {
  const std::vector<Bytes> exts = {alpn_h2(), sni_extension("split.example.com")};
  const Bytes msg = client_hello_message(&exts);
  for (std::size_t cut : {std::size_t{1}, std::size_t{4}, std::size_t{40}, msg.size() - 3}) {
    Bytes two = record(Bytes(msg.begin(), msg.begin() + static_cast<long>(cut)));
    append(two, record(Bytes(msg.begin() + static_cast<long>(cut), msg.end())));
    EXPECT_EQ(sni(two), "split.example.com") << "cut at " << cut;
  }
  // A second record of another type ends the handshake bytes.
  Bytes mixed = record(Bytes(msg.begin(), msg.begin() + 40));
  append(mixed, record(Bytes(msg.begin() + 40, msg.end()), 23));
  EXPECT_EQ(sni(mixed), std::nullopt);
}

TEST(ClientHello, EveryTruncationFindsTheNameExactlyWhenItIsWhole) {
  const Bytes full = hello(
      {supported_versions_13(), alpn_h2(), sni_extension("cut.example.com"), big_key_share()});
  const std::size_t name_end = end_of(full, sni_extension("cut.example.com"));
  ASSERT_NE(name_end, std::string::npos);
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const Bytes head(full.begin(), full.begin() + static_cast<long>(n));
    const auto got = sni(head);
    if (n >= name_end) {
      EXPECT_EQ(got, "cut.example.com") << n;
    } else {
      EXPECT_EQ(got, std::nullopt) << n;
    }
  }
}

TEST(ClientHello, MalformedLengthsAreRefused) {
  const Bytes good = hello({sni_extension("example.com")});
  ASSERT_EQ(sni(good), "example.com");
  // Offsets in `good`: record header 5, handshake header 4, version 2, random 32, then the
  // session id length.
  const std::size_t sid = 5 + 4 + 2 + 32;
  const std::size_t suites = sid + 1 + 32;
  const std::size_t compression = suites + 2 + 6;
  const std::size_t ext_list = compression + 2;
  const std::size_t sni_ext = ext_list + 2;  // type, length, list length, name type, name
  struct Patch {
    const char* what;
    std::size_t at;
    Bytes bytes;
  };
  const Patch patches[] = {
      {"session id longer than 32", sid, {33}},
      {"odd cipher suite length", suites, {0, 5}},
      {"no cipher suites", suites, {0, 0}},
      {"no compression methods", compression, {0}},
      {"extension longer than the list", sni_ext + 2, {0xff, 0xff}},
      {"name list longer than its extension", sni_ext + 4, {0xff, 0x00}},
      {"empty host name", sni_ext + 7, {0, 0}},
      {"record longer than TLS allows", 3, {0x40, 0x01}},
      {"empty record", 3, {0, 0}},
  };
  for (const Patch& p : patches) {
    Bytes bad = good;
    std::copy(p.bytes.begin(), p.bytes.end(), bad.begin() + static_cast<long>(p.at));
    EXPECT_EQ(sni(bad), std::nullopt) << p.what;
  }
}

TEST(ClientHello, OnlyPlainDnsNamesAreReturned) {
  for (std::string_view bad :
       {std::string_view("exa mple.com"), std::string_view("a\0b", 3),
        std::string_view("caf\xc3\xa9.fr"), std::string_view("a/b"), std::string_view("[::1]")}) {
    EXPECT_EQ(sni(hello({sni_extension(bad)})), std::nullopt) << bad;
  }
  EXPECT_EQ(sni(hello({sni_extension(std::string(253, 'a'))})), std::string(253, 'a'));
  EXPECT_EQ(sni(hello({sni_extension(std::string(254, 'a'))})), std::nullopt);
  EXPECT_EQ(sni(hello({sni_extension("_dmarc.x-1.example")})), "_dmarc.x-1.example");
}

// Mutated and random inputs: the parser returns nothing or a plain name, and (under the
// sanitizers) never reads outside its input.
TEST(ClientHello, SurvivesMutatedInput) {
  const Bytes base =
      hello({supported_versions_13(), alpn_h2(), sni_extension("fuzz.example"), big_key_share()});
  std::mt19937 rng(20240611);
  auto valid = [](const std::optional<std::string>& name) {
    return !name || (!name->empty() && name->size() <= 253 &&
                     std::all_of(name->begin(), name->end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                              c == '.';
                     }));
  };
  for (int i = 0; i < 20000; ++i) {
    Bytes b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % b.size();
      b[at] = rng() % 3 == 0 ? 0xff : static_cast<std::uint8_t>(rng());
    }
    b.resize(rng() % (b.size() + 1));
    // A copy of exactly the bytes kept, so reading past them is an error ASan sees.
    const auto exact = std::make_unique<std::uint8_t[]>(b.size());
    std::copy(b.begin(), b.end(), exact.get());
    ASSERT_TRUE(valid(client_hello_server_name({exact.get(), b.size()}))) << i;
  }
  for (int i = 0; i < 2000; ++i) {
    Bytes b(rng() % 600);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (!b.empty()) b[0] = 22;
    ASSERT_TRUE(valid(sni(b))) << i;
  }
}

}  // namespace
}  // namespace aion::guard
