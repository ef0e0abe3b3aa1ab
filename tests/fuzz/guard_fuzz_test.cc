// Fuzzes what the guard reads from outside: the head of a TLS ClientHello a sandboxed job sent
// (the job controls every byte), the kernel audit records (text the kernel quotes from paths a
// job chose), and the network rules and checksum lists a user writes. Invariants: a server
// name found is a plain DNS name; a refusal has a known kind; a rule that parses prints back
// to itself; a checksum line that parses has 64 hex digits. Seeds: a real-shaped ClientHello
// (TLS 1.3, with SNI), the records this project's test machine printed, rule and sum forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <span>

#include "aion/guard/audit.h"
#include "aion/guard/egress_rule.h"
#include "aion/guard/egress_tls.h"
#include "aion/guard/integrity.h"
#include "mutator.h"

namespace aion::guard {
namespace {

using fuzz::Verdict;

void put16(std::string& s, std::size_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}

// A TLS record holding a ClientHello (RFC 8446 4.1.2) for `name`: version, random, session
// id, one cipher suite, null compression, and the server_name (RFC 6066 3) and
// supported_versions extensions.
std::string client_hello(const std::string& name) {
  std::string sni;
  put16(sni, name.size() + 3);  // server_name_list
  sni += '\0';                  // host_name
  put16(sni, name.size());
  sni += name;
  std::string ext;
  put16(ext, 0);  // server_name
  put16(ext, sni.size());
  ext += sni;
  put16(ext, 43);  // supported_versions
  put16(ext, 3);
  ext += std::string("\x02\x03\x04", 3);
  std::string body = std::string("\x03\x03", 2) + std::string(32, '\x11');
  body += '\0';    // empty session id
  put16(body, 2);  // one cipher suite
  body += std::string("\x13\x01", 2);
  body += std::string("\x01\x00", 2);  // null compression
  put16(body, ext.size());
  body += ext;
  std::string hs = "\x01";
  hs += static_cast<char>(0);
  put16(hs, body.size());
  hs += body;
  std::string record = std::string("\x16\x03\x01", 3);
  put16(record, hs.size());
  return record + hs;
}

bool dns_name(const std::string& n) {
  return !n.empty() && n.size() <= 255 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

TEST(GuardFuzz, ClientHellosNeverYieldMoreThanADnsName) {
  const std::string seed = client_hello("api.openai.com");
  auto found = client_hello_server_name(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
  ASSERT_EQ(found.value_or(""), "api.openai.com");  // the seed is one the parser reads
  auto target = [](std::string_view in) -> Verdict {
    auto name = client_hello_server_name(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(in.data()), in.size()));
    if (name && !dns_name(*name)) return {true, "a server name that is not a DNS name"};
    return {name.has_value(), ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, {seed, client_hello("dashscope.aliyuncs.com")}, {},
                  false);
  m.max_size = 2048;
  EXPECT_TRUE(fuzz::run_fuzz("guard_client_hello", m, fuzz::fuzz_options(50000), target));
}

TEST(GuardFuzz, AuditRecordsBecomeKnownKindsOfRefusal) {
  const std::vector<std::string> seeds = {
      "audit(1796686298.707:11): domain=14c757c32 blockers=fs.read_file "
      "path=\"/etc/ld.so.cache\" dev=\"vda\" ino=794",
      "audit(1796686298.707:11): domain=14c757c32 status=allocated mode=enforcing pid=11028 "
      "uid=0 exe=\"/tmp/aud2\" comm=\"aud2\"",
      "audit(1796686298.707:11): arch=c000003e syscall=257 success=no exit=-13 ppid=11026 "
      "pid=11028 comm=\"cat\" exe=\"/usr/bin/cat\" key=(null)",
      "audit(1.5:7): domain=1a blockers=net.connect_tcp daddr=127.0.0.1 dest=5000",
      "audit(1796686266.403:1): pid=10877 comm=\"aud2\" exe=\"/tmp/aud2\" sig=0 "
      "arch=c000003e syscall=110 compat=0 code=0x50000"};
  const int types[] = {1423, 1424, 1300, 1326, 1320};
  AuditAssembler assembler(0);
  const std::set<std::string> kinds = {"file",   "network", "syscall", "signal",
                                       "ptrace", "socket",  "other"};
  std::int64_t now = 0;
  auto target = [&](std::string_view in) -> Verdict {
    const int type = types[in.size() % 5];
    auto r = parse_audit_record(type, in);
    if (!r) return {false, ""};
    for (const auto& d : assembler.feed(*r, ++now))
      if (!kinds.contains(d.kind)) return {true, "a refusal of unknown kind '" + d.kind + "'"};
    return {true, ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds, {"=", "\"", " ", "audit(", "):", ":"}, true);
  m.max_size = 4096;
  EXPECT_TRUE(fuzz::run_fuzz("guard_audit_record", m, fuzz::fuzz_options(50000), target));
}

TEST(GuardFuzz, RulesThatParsePrintBackToThemselves) {
  auto target = [](std::string_view in) -> Verdict {
    auto rule = parse_net_rule(in);
    if (!rule) return {false, ""};
    if (!validate_net_rule(*rule)) return {true, "parsed a rule that does not validate"};
    auto again = parse_net_rule(format_net_rule(*rule));
    if (!again || !(*again == *rule)) return {true, "format_net_rule does not parse back"};
    return {true, ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed,
                  {"10.0.0.0/8", "127.0.0.1:8000/tcp", "[::1]:443", "192.168.1.5:53/udp",
                   "2001:db8::/32", "[2001:db8::]/32:443/tcp"},
                  {"/", ":", "[", "]", "tcp", "udp", "::", "."}, true);
  m.max_size = 256;
  EXPECT_TRUE(fuzz::run_fuzz("guard_net_rule", m, fuzz::fuzz_options(50000), target));
}

TEST(GuardFuzz, ChecksumListsParseOnlyWholeSums) {
  auto target = [](std::string_view in) -> Verdict {
    auto sums = parse_sums(in, "SUMS");
    if (!sums) return {false, ""};
    for (const auto& s : *sums)
      if (s.sha256.size() != 64) return {true, "a sum that is not 64 hex digits"};
    return {true, ""};
  };
  fuzz::Mutator m(
      fuzz::fuzz_options(0).seed,
      {"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  model.safetensors\n"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *tokenizer.json\n"},
      {"  ", " *", "\n", "#"}, true);
  EXPECT_TRUE(fuzz::run_fuzz("guard_sums", m, fuzz::fuzz_options(20000), target));
}

}  // namespace
}  // namespace aion::guard
