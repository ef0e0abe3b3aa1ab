// The gate's audit log and its shared placeholders.
#include "aion/privacy/gate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace aion::privacy {
namespace {

namespace fs = std::filesystem;

TEST(AuditLogTest, RecordsAppendAndReadBackOwnerOnly) {
  testing::TempDir tmp("audit");
  const fs::path log = audit_log_path(tmp.path() / "state");
  auto empty = read_audit(log, 10);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->records.empty());
  for (int i = 0; i < 5; ++i) {
    AuditRecord r;
    r.time_ms = 1000 + i;
    r.caller = "support-bundle";
    r.destination = "/tmp/b" + std::to_string(i) + ".tar.gz";
    r.bytes = 10u * i;
    r.sha256 = sha256_hex(std::to_string(i));
    r.replaced[static_cast<int>(Category::kSecret)] = i;
    ASSERT_TRUE(append_audit(log, r));
  }
  EXPECT_EQ(fs::status(log).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto last = read_audit(log, 2);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->records.size(), 2u);
  EXPECT_EQ(last->records[0].time_ms, 1003);
  EXPECT_EQ(last->records[1].destination, "/tmp/b4.tar.gz");
  EXPECT_EQ(last->records[1].replaced[static_cast<int>(Category::kSecret)], 4);
}

TEST(AuditLogTest, BrokenLinesAreSkippedAndCounted) {
  testing::TempDir tmp("audit");
  const fs::path log = tmp.path() / "audit.jsonl";
  AuditRecord r;
  r.time_ms = 1;
  r.caller = "copilot";
  ASSERT_TRUE(append_audit(log, r));
  std::ofstream(log, std::ios::app) << "not json\n{\"time_ms\": \"x\"}\n"
                                    << std::string(70000, 'a') << "\n";
  ASSERT_TRUE(append_audit(log, r));
  auto read = read_audit(log, 100);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->records.size(), 2u);
  EXPECT_EQ(read->skipped, 3u);
}

TEST(AuditLogTest, Sha256MatchesTheStandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace aion::privacy
