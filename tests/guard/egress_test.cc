// The egress monitor: the rule grammar and the ClientHello parser (pure, hostile input), and
// live tests that attach the BPF programs to a fresh cgroup2 directory and make a child in
// it do real socket work against listeners of the test on loopback. The live tests need
// root, bpf() and a cgroup2 mount; where one is missing they skip and say which.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aion/guard/egress.h"
#include "aion/guard/egress_tls.h"
#include "support/temp_dir.h"

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

// ---------------------------------------------------------------------------------------
// attach() arguments, checked before any BPF is loaded.

TEST(EgressMonitorArgs, RefusesBadPoliciesAndDirectories) {
  EgressPolicy too_many{NetMode::kAllowList, {}};
  too_many.allow.assign(kMaxNetRules + 1, *parse_net_rule("10.0.0.0/8"));
  auto r = EgressMonitor::attach("/nonexistent", too_many);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("65 allow rules; at most 64"), std::string::npos)
      << r.error().message();

  EgressPolicy malformed{NetMode::kAllowList, {NetRule{AF_INET, {}, 40, 0, 0}}};
  r = EgressMonitor::attach("/nonexistent", malformed);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("prefix 40 out of range"), std::string::npos);

  r = EgressMonitor::attach("/nonexistent/aion-job", EgressPolicy{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("/nonexistent/aion-job"), std::string::npos);
  EXPECT_NE(r.error().message().find("must exist"), std::string::npos);

  aion::testing::TempDir plain("egress");
  r = EgressMonitor::attach(plain.string(), EgressPolicy{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("is not a directory of the cgroup2 file system"),
            std::string::npos)
      << r.error().message();
}

// ---------------------------------------------------------------------------------------
// Live: a child in a cgroup with the programs attached, talking to listeners of the test.

// The cgroup2 mount point ("" when none), read as the monitor reads it.
std::string cgroup2_root() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, point, type, rest, found;
  while (in >> dev >> point >> type && std::getline(in, rest)) {
    if (type == "cgroup2" && (found.empty() || point == "/sys/fs/cgroup")) found = point;
  }
  return found;
}

sockaddr_storage loopback(int family, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  return ss;
}

// ::ffff:127.0.0.1, an IPv4 destination reached through an IPv6 socket.
sockaddr_storage v4_mapped_loopback(std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  ::inet_pton(AF_INET6, "::ffff:127.0.0.1", &a->sin6_addr);
  len = sizeof *a;
  return ss;
}

// A TCP listener on loopback: each connection gets `reply_bytes` once it has sent
// `read_bytes` (or closed its side), then is closed. Records the bytes of the last one.
class TcpServer {
 public:
  TcpServer(int family, std::size_t read_bytes, std::size_t reply_bytes)
      : read_bytes_(read_bytes), reply_bytes_(reply_bytes) {
    fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = 0;
    sockaddr_storage a = loopback(family, 0, len);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&a)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TcpServer() {
    stop_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::size_t got = 0;
      char buf[4096];
      while (got < read_bytes_) {
        const ssize_t n = ::recv(c, buf, std::min(sizeof buf, read_bytes_ - got), 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      const std::string reply(reply_bytes_, 'r');
      std::size_t sent = 0;
      while (sent < reply.size()) {
        const ssize_t n = ::send(c, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::size_t read_bytes_, reply_bytes_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A UDP socket on 127.0.0.1 that nobody reads (datagrams to it are sent all the same).
class UdpSink {
 public:
  UdpSink() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = 0;
    sockaddr_storage a = loopback(AF_INET, 0, len);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
    }
  }
  ~UdpSink() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  // Datagrams waiting now.
  int pending() const {
    int n = 0;
    char buf[2048];
    while (::recv(fd_, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++n;
    return n;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// One thing the child does. Addresses are made before fork(): the child only makes system
// calls (no allocation), as a child of a threaded process must.
struct Step {
  enum Op { kTcp, kUdp, kWait } op = kTcp;
  int family = AF_INET;
  sockaddr_storage to{};
  socklen_t to_len = 0;
  const std::uint8_t* payload = nullptr;  // sent as is when set, else `send_bytes` of 's'
  std::size_t send_bytes = 0;
  std::size_t recv_bytes = 0;
  int repeat = 1;  // UDP datagrams
};

struct StepResult {
  int err = 0;  // errno of the call that failed; 0 when every call succeeded
  std::size_t received = 0;
};

Step tcp(int family, std::uint16_t port, std::size_t send = 0, std::size_t recv = 0) {
  Step s;
  s.op = Step::kTcp;
  s.family = family;
  s.to = loopback(family, port, s.to_len);
  s.send_bytes = send;
  s.recv_bytes = recv;
  return s;
}

Step udp(std::uint16_t port, std::size_t bytes, int repeat) {
  Step s;
  s.op = Step::kUdp;
  s.to = loopback(AF_INET, port, s.to_len);
  s.send_bytes = bytes;
  s.repeat = repeat;
  return s;
}

Step wait_for_parent() {
  Step s;
  s.op = Step::kWait;
  return s;
}

int send_all(int fd, const std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, data, n, MSG_NOSIGNAL);
    if (k <= 0) return errno;
    data += k;
    n -= static_cast<std::size_t>(k);
  }
  return 0;
}

StepResult child_tcp(const Step& s, const std::uint8_t* filler) {
  StepResult r;
  const int fd = ::socket(s.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, 0};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&s.to), s.to_len) != 0) {
    r.err = errno;
  } else {
    r.err = send_all(fd, s.payload != nullptr ? s.payload : filler, s.send_bytes);
    std::uint8_t buf[4096];
    while (r.err == 0 && r.received < s.recv_bytes) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      r.received += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  return r;
}

StepResult child_udp(const Step& s, const std::uint8_t* filler) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, 0};
  StepResult r;
  for (int i = 0; i < s.repeat && r.err == 0; ++i) {
    if (::sendto(fd, filler, s.send_bytes, 0, reinterpret_cast<const sockaddr*>(&s.to), s.to_len) <
        0) {
      r.err = errno;
    }
  }
  ::close(fd);
  return r;
}

// A child process that joins a cgroup, names itself "egress-child" and runs its steps,
// reporting each result over a pipe; at a kWait step it waits for go().
class Child {
 public:
  static constexpr const char* kComm = "egress-child";

  Child(const std::string& cgroup_dir, std::vector<Step> steps, const char* comm = kComm)
      : steps_(std::move(steps)), comm_(comm) {
    const std::string procs = cgroup_dir + "/cgroup.procs";
    int results[2], go[2];
    if (::pipe2(results, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(results[0]);
      ::close(go[1]);
      run(procs.c_str(), results[1], go[0]);
    }
    ::close(results[1]);
    ::close(go[0]);
    results_ = results[0];
    go_ = go[1];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (results_ >= 0) ::close(results_);
    if (go_ >= 0) ::close(go_);
  }

  pid_t pid() const { return pid_; }

  // The next step's result; err -1 when the child does not answer within 10 s.
  StepResult next() {
    StepResult r{-1, 0};
    pollfd p{results_, POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1 && ::read(results_, &r, sizeof r) != sizeof r) r = {-1, 0};
    return r;
  }
  void go() { (void)!::write(go_, "g", 1); }
  // The child's exit status once it is done (-1 on timeout).
  int wait() {
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
      }
      ::usleep(10000);
    }
    return -1;
  }

 private:
  [[noreturn]] void run(const char* procs, int results, int go) {
    char pid_text[16];
    int n = 0;
    for (pid_t p = ::getpid(); p > 0; p /= 10) pid_text[n++] = static_cast<char>('0' + p % 10);
    std::reverse(pid_text, pid_text + n);
    const int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, pid_text, static_cast<std::size_t>(n)) != n) ::_exit(3);
    ::close(fd);
    ::prctl(PR_SET_NAME, comm_, 0, 0, 0);
    static std::uint8_t filler[65536];
    std::memset(filler, 's', sizeof filler);
    for (const Step& s : steps_) {
      StepResult r;
      if (s.op == Step::kWait) {
        char c;
        if (::read(go, &c, 1) != 1) ::_exit(4);
      } else {
        r = s.op == Step::kTcp ? child_tcp(s, filler) : child_udp(s, filler);
      }
      if (::write(results, &r, sizeof r) != sizeof r) ::_exit(5);
    }
    ::_exit(0);
  }

  std::vector<Step> steps_;
  const char* comm_;
  pid_t pid_ = -1;
  int results_ = -1, go_ = -1;
};

class EgressLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to load and attach cgroup BPF programs";
    if (auto st = EgressMonitor::probe(); !st) GTEST_SKIP() << st.error().message();
    root_ = cgroup2_root();
    if (root_.empty()) GTEST_SKIP() << "no cgroup2 file system mounted";
  }
  void TearDown() override {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      std::error_code ec;
      std::filesystem::remove(*it, ec);  // rmdir: a cgroup directory holds only kernel files
      EXPECT_FALSE(ec) << "removing " << *it << ": " << ec.message();
    }
  }

  // A fresh cgroup directory, removed after the test.
  std::string make_cgroup(std::string_view tag) {
    static int counter = 0;
    const std::string dir = root_ + "/aion-egress-test-" + std::to_string(::getpid()) + "-" +
                            std::string(tag) + "-" + std::to_string(++counter);
    std::error_code ec;
    std::filesystem::create_directory(dir, ec);
    EXPECT_FALSE(ec) << "creating " << dir << ": " << ec.message();
    dirs_.push_back(dir);
    return dir;
  }

  std::unique_ptr<EgressMonitor> attach(const std::string& dir, const EgressPolicy& policy) {
    auto m = EgressMonitor::attach(dir, policy);
    EXPECT_TRUE(m.has_value()) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }

  std::string root_;
  std::vector<std::string> dirs_;
};

NetRule rule(const std::string& text) {
  auto r = parse_net_rule(text);
  EXPECT_TRUE(r.has_value()) << text;
  return r.value_or(NetRule{});
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const EgressEvent* find_event(const std::vector<EgressEvent>& events, EgressEvent::Kind kind,
                              std::uint16_t port, int nth = 0) {
  for (const EgressEvent& e : events) {
    if (e.kind == kind && e.port == port && nth-- == 0) return &e;
  }
  return nullptr;
}

int count_events(const std::vector<EgressEvent>& events, EgressEvent::Kind kind,
                 std::uint16_t port) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const EgressEvent& e) {
    return e.kind == kind && e.port == port;
  }));
}

const EgressFlow* find_flow(const std::vector<EgressFlow>& flows, int protocol,
                            std::uint16_t port) {
  for (const EgressFlow& f : flows) {
    if (f.protocol == protocol && f.port == port) return &f;
  }
  return nullptr;
}

// Whether this process (not in the job's cgroup) can connect to `port`.
bool outsider_connects(std::uint16_t port) {
  Step s = tcp(AF_INET, port);
  static const std::uint8_t none[1] = {0};
  return child_tcp(s, none).err == 0;
}

TEST_F(EgressLive, AllowListEnforcesRecordsCountsAndDetaches) {
  const std::int64_t start_ms = now_ms();
  const Bytes client_hello = hello({supported_versions_13(), sni_extension("example.test")});
  TcpServer allowed(AF_INET, 3000, 5000), tls(AF_INET, client_hello.size(), 100),
      denied(AF_INET, 0, 0);
  UdpSink udp_allowed, udp_denied;
  ASSERT_TRUE(allowed.port() && tls.port() && denied.port() && udp_allowed.port() &&
              udp_denied.port());
  const EgressPolicy policy{
      NetMode::kAllowList,
      {rule("127.0.0.1:" + std::to_string(allowed.port()) + "/tcp"),
       rule("127.0.0.1:" + std::to_string(tls.port()) + "/tcp"),
       rule("127.0.0.1:" + std::to_string(udp_allowed.port()) + "/udp"), rule("10.0.0.0/8"),
       rule("[::1]:" + std::to_string(denied.port()) + "/udp")}};
  const std::string dir = make_cgroup("allow");
  auto monitor = attach(dir, policy);
  ASSERT_NE(monitor, nullptr);

  Step hello_step = tcp(AF_INET, tls.port(), client_hello.size(), 100);
  hello_step.payload = client_hello.data();
  Step mapped = tcp(AF_INET6, denied.port());
  mapped.to = v4_mapped_loopback(denied.port(), mapped.to_len);
  Child child(dir, {tcp(AF_INET, allowed.port(), 3000, 5000), tcp(AF_INET, denied.port()),
                    udp(udp_allowed.port(), 100, 5), udp(udp_denied.port(), 100, 1), hello_step,
                    mapped, wait_for_parent(), tcp(AF_INET, denied.port())});
  ASSERT_GT(child.pid(), 0);

  const StepResult tcp_ok = child.next();
  EXPECT_EQ(tcp_ok.err, 0) << std::strerror(tcp_ok.err);
  EXPECT_EQ(tcp_ok.received, 5000u);
  EXPECT_EQ(child.next().err, EPERM);  // TCP to a port no rule allows
  EXPECT_EQ(child.next().err, 0);      // 5 datagrams to the allowed UDP port
  EXPECT_EQ(child.next().err, EPERM);  // a datagram to another port
  const StepResult tls_ok = child.next();
  EXPECT_EQ(tls_ok.err, 0);
  EXPECT_EQ(tls_ok.received, 100u);
  EXPECT_EQ(child.next().err, EPERM);  // ::ffff:127.0.0.1 is 127.0.0.1 for the policy
  EXPECT_EQ(udp_allowed.pending(), 5);
  EXPECT_EQ(udp_denied.pending(), 0);
  EXPECT_EQ(denied.accepted(), 0);

  // The policy binds the cgroup's processes only.
  EXPECT_TRUE(outsider_connects(denied.port()));

  const std::vector<EgressEvent> events = monitor->drain();
  const EgressEvent* c = find_event(events, EgressEvent::kConnect, allowed.port());
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->denied);
  EXPECT_EQ(c->pid, child.pid());
  EXPECT_EQ(c->comm, Child::kComm);
  EXPECT_EQ(c->protocol, IPPROTO_TCP);
  EXPECT_EQ(c->address, "127.0.0.1");
  EXPECT_GE(c->time_ms, start_ms - 1000);
  EXPECT_LE(c->time_ms, now_ms() + 1000);
  ASSERT_EQ(count_events(events, EgressEvent::kConnect, denied.port()), 2);
  for (int i = 0; i < 2; ++i) {
    const EgressEvent* d = find_event(events, EgressEvent::kConnect, denied.port(), i);
    EXPECT_TRUE(d->denied);
    EXPECT_EQ(d->address, "127.0.0.1");
    EXPECT_EQ(d->pid, child.pid());
  }
  EXPECT_EQ(count_events(events, EgressEvent::kSend, udp_allowed.port()), 1);  // 5 sends, 1 s
  const EgressEvent* u = find_event(events, EgressEvent::kSend, udp_allowed.port());
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(u->denied);
  EXPECT_EQ(u->protocol, IPPROTO_UDP);
  const EgressEvent* ud = find_event(events, EgressEvent::kSend, udp_denied.port());
  ASSERT_NE(ud, nullptr);
  EXPECT_TRUE(ud->denied);
  const EgressEvent* s = find_event(events, EgressEvent::kServerName, tls.port());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->server_name, "example.test");
  EXPECT_EQ(s->pid, child.pid());
  EXPECT_EQ(s->comm, Child::kComm);
  for (const EgressEvent& e : events) EXPECT_NE(e.pid, ::getpid()) << e.port;
  EXPECT_TRUE(monitor->drain().empty());

  const std::vector<EgressFlow> flows = monitor->flows();
  const EgressFlow* f = find_flow(flows, IPPROTO_TCP, allowed.port());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->address, "127.0.0.1");
  EXPECT_EQ(f->bytes_out, 3000u);
  EXPECT_EQ(f->bytes_in, 5000u);
  EXPECT_GE(f->packets_out, 1u);  // the data; handshake, ACKs and FIN carry none
  EXPECT_LE(f->packets_out, 3u);
  EXPECT_GE(f->packets_in, 1u);
  EXPECT_LE(f->packets_in, 4u);
  EXPECT_LE(f->first_ms, f->last_ms);
  EXPECT_GE(f->first_ms, start_ms - 1000);
  const EgressFlow* fu = find_flow(flows, IPPROTO_UDP, udp_allowed.port());
  ASSERT_NE(fu, nullptr);
  EXPECT_EQ(fu->bytes_out, 500u);
  EXPECT_EQ(fu->packets_out, 5u);
  EXPECT_EQ(fu->bytes_in, 0u);
  const EgressFlow* ft = find_flow(flows, IPPROTO_TCP, tls.port());
  ASSERT_NE(ft, nullptr);
  EXPECT_EQ(ft->bytes_out, client_hello.size());
  EXPECT_EQ(ft->bytes_in, 100u);
  EXPECT_EQ(ft->server_name, "example.test");
  EXPECT_EQ(find_flow(flows, IPPROTO_TCP, denied.port()), nullptr);
  EXPECT_EQ(find_flow(flows, IPPROTO_UDP, udp_denied.port()), nullptr);
  EXPECT_EQ(monitor->lost_events(), 0u);

  monitor.reset();  // detaches
  child.go();
  EXPECT_EQ(child.next().err, 0);  // the same connect, now unrestricted
  EXPECT_EQ(child.wait(), 0);
}

TEST_F(EgressLive, RecordModeAllowsAndRecordsEverything) {
  TcpServer server(AF_INET, 10, 20);
  UdpSink sink;
  const std::string dir = make_cgroup("record");
  auto monitor = attach(dir, EgressPolicy{NetMode::kRecord, {rule("10.0.0.0/8")}});
  ASSERT_NE(monitor, nullptr);
  // A process names itself: control characters must not reach a log line or a table.
  Child child(dir, {tcp(AF_INET, server.port(), 10, 20), udp(sink.port(), 64, 1)},
              "agent\x1b[2J\x7f");
  const StepResult t = child.next();
  EXPECT_EQ(t.err, 0);
  EXPECT_EQ(t.received, 20u);
  EXPECT_EQ(child.next().err, 0);
  EXPECT_EQ(child.wait(), 0);
  const auto events = monitor->drain();
  const EgressEvent* c = find_event(events, EgressEvent::kConnect, server.port());
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->denied);
  EXPECT_EQ(c->comm, "agent?[2J?");
  const EgressEvent* u = find_event(events, EgressEvent::kSend, sink.port());
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(u->denied);
  const auto flows = monitor->flows();
  const EgressFlow* f = find_flow(flows, IPPROTO_TCP, server.port());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->bytes_out, 10u);
  EXPECT_EQ(f->bytes_in, 20u);
  EXPECT_TRUE(f->server_name.empty());
}

TEST_F(EgressLive, Ipv6RulesMatchIpv6Destinations) {
  TcpServer allowed(AF_INET6, 0, 7), other(AF_INET6, 0, 0);
  if (allowed.port() == 0 || other.port() == 0) GTEST_SKIP() << "no IPv6 loopback (::1)";
  const std::string dir = make_cgroup("v6");
  auto monitor =
      attach(dir, EgressPolicy{NetMode::kAllowList,
                               {rule("[::1]:" + std::to_string(allowed.port()) + "/tcp"),
                                rule("127.0.0.1:" + std::to_string(other.port()))}});  // IPv4 only
  ASSERT_NE(monitor, nullptr);
  Child child(dir, {tcp(AF_INET6, allowed.port(), 0, 7), tcp(AF_INET6, other.port())});
  const StepResult ok = child.next();
  EXPECT_EQ(ok.err, 0);
  EXPECT_EQ(ok.received, 7u);
  EXPECT_EQ(child.next().err, EPERM);
  EXPECT_EQ(child.wait(), 0);
  const auto events = monitor->drain();
  const EgressEvent* c = find_event(events, EgressEvent::kConnect, allowed.port());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->address, "::1");
  EXPECT_FALSE(c->denied);
  const EgressEvent* d = find_event(events, EgressEvent::kConnect, other.port());
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->denied);
  const auto flows = monitor->flows();
  const EgressFlow* f = find_flow(flows, IPPROTO_TCP, allowed.port());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->address, "::1");
  EXPECT_EQ(f->bytes_in, 7u);
}

TEST_F(EgressLive, TwoJobsShareNothing) {
  TcpServer server(AF_INET, 0, 1);
  const std::string busy = make_cgroup("busy"), idle = make_cgroup("idle");
  auto watching = attach(busy, EgressPolicy{});
  auto other = attach(idle, EgressPolicy{NetMode::kAllowList, {}});  // refuses everything
  ASSERT_TRUE(watching && other);
  Child child(busy, {tcp(AF_INET, server.port(), 0, 1)});
  EXPECT_EQ(child.next().err, 0);  // the other job's empty allow list does not apply here
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(count_events(watching->drain(), EgressEvent::kConnect, server.port()), 1);
  EXPECT_TRUE(other->drain().empty());
  EXPECT_TRUE(other->flows().empty());
}

// probe() run as an unprivileged user says root is needed.
TEST(EgressProbe, NamesWhatIsMissing) {
  if (cgroup2_root().empty()) GTEST_SKIP() << "no cgroup2 file system mounted";
  if (::geteuid() != 0) {
    auto st = EgressMonitor::probe();
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(st.error().message().find("needs root"), std::string::npos);
    return;
  }
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    auto st = EgressMonitor::probe();
    const std::string text = st ? std::string("ok") : st.error().message();
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(st || st.error().code() != ErrorCode::kPermissionDenied ? 1 : 0);
  }
  ::close(out[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_NE(text.find("needs root"), std::string::npos) << text;
  EXPECT_NE(text.find("uid 65534"), std::string::npos) << text;
}

}  // namespace
}  // namespace aion::guard
