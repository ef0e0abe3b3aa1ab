// The kernel's audit records of sandbox refusals, as this project's test machine (Linux 6.18,
// Landlock ABI 7) printed them: one event's records joined into one refusal naming the
// process, what it tried, and the sandbox's creator; seccomp's own record; hostile text.
#include <gtest/gtest.h>

#include "aion/guard/audit.h"

namespace aion::guard {
namespace {

// Records of one refused open of /etc/ld.so.cache by `cat` in a Landlock domain, in the order
// the kernel sent them (types 1423, 1424, 1300, 1327, 1320).
const std::pair<int, const char*> kLandlockEvent[] = {
    {1423,
     "audit(1796686298.707:11): domain=14c757c32 blockers=fs.read_file "
     "path=\"/etc/ld.so.cache\" dev=\"vda\" ino=794"},
    {1424,
     "audit(1796686298.707:11): domain=14c757c32 status=allocated mode=enforcing pid=11028 "
     "uid=0 exe=\"/tmp/aud2\" comm=\"aud2\""},
    {1300,
     "audit(1796686298.707:11): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c "
     "a1=7f1fc000f0b1 a2=80000 a3=0 items=0 ppid=11026 pid=11028 auid=4294967295 uid=0 gid=0 "
     "euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"cat\" "
     "exe=\"/usr/bin/cat\" key=(null)"},
    {1327, "audit(1796686298.707:11): proctitle=636174002F6574632F686F73746E616D65"},
    {1320, "audit(1796686298.707:11): "},
};

TEST(GuardAudit, ARecordParses) {
  auto r = parse_audit_record(kLandlockEvent[0].first, kLandlockEvent[0].second);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->time_ms, 1796686298707);
  EXPECT_EQ(r->serial, 11u);
  EXPECT_EQ(r->fields.at("path"), "/etc/ld.so.cache");
  EXPECT_EQ(r->fields.at("blockers"), "fs.read_file");
}

TEST(GuardAudit, OneEventBecomesOneRefusal) {
  AuditAssembler a;
  std::vector<Denial> out;
  for (const auto& [type, text] : kLandlockEvent) {
    auto r = parse_audit_record(type, text);
    ASSERT_TRUE(r.has_value()) << text;
    for (auto& d : a.feed(*r, 1000)) out.push_back(d);
  }
  ASSERT_EQ(out.size(), 1u);  // at the end-of-event record, not before
  EXPECT_EQ(out[0].kind, "file");
  EXPECT_EQ(out[0].what, "fs.read_file /etc/ld.so.cache");
  EXPECT_EQ(out[0].pid, 11028);
  EXPECT_EQ(out[0].domain_creator, 11028);
  EXPECT_EQ(out[0].comm, "cat");
  EXPECT_EQ(out[0].exe, "/usr/bin/cat");
  EXPECT_EQ(out[0].time_ms, 1796686298707);
}

TEST(GuardAudit, ASeccompRecordStandsAlone) {
  AuditAssembler a(300);
  auto r = parse_audit_record(
      1326,
      "audit(1796686266.403:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=10877 "
      "comm=\"aud2\" exe=\"/tmp/aud2\" sig=0 arch=c000003e syscall=110 compat=0 "
      "ip=0x7fa95ccb3829 code=0x50000");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(a.feed(*r, 1000).empty());  // it may still be joined by more
  const auto out = a.flush(1300);         // nothing more came
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, "syscall");
  EXPECT_EQ(out[0].pid, 10877);
  EXPECT_EQ(out[0].comm, "aud2");
#if defined(__x86_64__)
  EXPECT_EQ(out[0].what, "syscall getppid");  // 110 on x86_64
#endif
}

TEST(GuardAudit, NetworkAndScopeRefusalsAreNamed) {
  AuditAssembler a;
  auto net = parse_audit_record(
      1423, "audit(1.5:7): domain=1a blockers=net.connect_tcp daddr=127.0.0.1 dest=5000");
  auto sig = parse_audit_record(
      1423, "audit(1.5:8): domain=1a blockers=scope.signal opid=4242 ocomm=\"sshd\"");
  ASSERT_TRUE(net && sig);
  a.feed(*net, 0);
  a.feed(*sig, 0);
  const auto out = a.flush(1000);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, "network");
  EXPECT_EQ(out[0].what, "net.connect_tcp 127.0.0.1:5000");
  EXPECT_EQ(out[1].kind, "signal");
  EXPECT_EQ(out[1].what, "signal to pid 4242 (sshd)");
}

// A path holding a space or a control character comes as bare hex (the kernel does not trust
// it): it is decoded, control characters shown as '?'.
TEST(GuardAudit, UntrustedStringsAreDecoded) {
  auto r = parse_audit_record(
      1423,
      "audit(1.2:3): domain=1 blockers=fs.read_file path=2F746D702F6120622E747874 "
      "comm=6576696C1B5B306D");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->fields.at("path"), "/tmp/a b.txt");
  EXPECT_EQ(r->fields.at("comm"), "evil?[0m");  // no escape sequence reaches a terminal
  auto plain = parse_audit_record(1423, "audit(1.2:3): path=\"/ABCD\" ino=794");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->fields.at("path"), "/ABCD");
  EXPECT_EQ(plain->fields.at("ino"), "794");
}

TEST(GuardAudit, MalformedTextIsNoRecord) {
  for (const char* bad : {"", "audit(", "audit(x.y:z): a=b", "audit(1.2:3) a=b", "hello",
                          "audit(12:3.4): a=b", "audit(1.2:): a=b",
                          // found by the fuzzer: seconds whose milliseconds overflow
                          "audit(155555555796686298.707:11): a=b", "audit(-1.2:3): a=b"})
    EXPECT_FALSE(parse_audit_record(1423, bad).has_value()) << bad;
  // Unterminated quotes and stray '=' do not read past the end.
  auto r = parse_audit_record(1423, "audit(1.2:3): path=\"/a b=c d= =e");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->fields.at("path"), "/a b=c d= =e");
}

}  // namespace
}  // namespace aion::guard
