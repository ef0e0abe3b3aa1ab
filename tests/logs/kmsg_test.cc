#include "aion/logs/kmsg.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

class KmsgTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(root_ / "dev"); }
  void write(const std::string& text) { std::ofstream(root_ / "dev/kmsg") << text; }
  ::aion::testing::TempDir tmp_{"kmsg"};
  fs::path root_ = tmp_.path();
};

TEST(KmsgRecordTest, ParsesPrefixAndMessage) {
  auto r = parse_kmsg_record("3,1042,5829374,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1234");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->priority, 3);
  EXPECT_EQ(r->facility, 0);
  EXPECT_EQ(r->seq, 1042u);
  EXPECT_EQ(r->ts_usec, 5829374u);
  EXPECT_EQ(r->message, "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234");
  auto user = parse_kmsg_record("14,7,100,-,caller=T1;hello");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->priority, 6);
  EXPECT_EQ(user->facility, 1);
  EXPECT_FALSE(parse_kmsg_record("no semicolon here"));
  EXPECT_FALSE(parse_kmsg_record("x,1,2,-;bad priority"));
  EXPECT_FALSE(parse_kmsg_record("6,1;too few fields"));
}

TEST_F(KmsgTest, ReadsRecordsAndSkipsContinuationLines) {
  write("6,1,10,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.0\n4,2,20,-;second\n");
  KmsgReader r{HostFs(root_)};
  ASSERT_TRUE(r.open(std::nullopt));
  auto got = r.read();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].message, "first");
  EXPECT_EQ((*got)[1].priority, 4);
  EXPECT_EQ(got->back().seq, 2u);
  EXPECT_EQ(r.missed(), 0u);
}

TEST_F(KmsgTest, ResumesAfterSavedSeqWithoutRereading) {
  write("6,5,10,-;five\n6,6,20,-;six\n6,7,30,-;seven\n");
  KmsgReader r{HostFs(root_)};
  ASSERT_TRUE(r.open(6));
  auto got = r.read();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].message, "seven");
  EXPECT_EQ(r.missed(), 0u);
}

TEST_F(KmsgTest, CountsRecordsOverwrittenBeforeTheyWereRead) {
  // Saved seq 3; the ring now starts at 10 (4..9 overwritten) and has a hole at 12.
  write("6,10,10,-;ten\n6,11,20,-;eleven\n6,13,30,-;thirteen\n");
  KmsgReader r{HostFs(root_)};
  ASSERT_TRUE(r.open(3));
  auto got = r.read();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 3u);
  EXPECT_EQ(r.missed(), 6u + 1u);
  EXPECT_EQ(got->back().seq, 13u);
}

TEST_F(KmsgTest, MalformedRecordsAreCountedAndSkipped) {
  write("garbage line\n6,1,10,-;good\n");
  KmsgReader r{HostFs(root_)};
  ASSERT_TRUE(r.open(std::nullopt));
  auto got = r.read();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 1u);
  EXPECT_EQ(r.malformed(), 1u);
}

TEST_F(KmsgTest, MissingDeviceIsAnErrorNamingIt) {
  KmsgReader r{HostFs(root_ / "nothing")};
  auto st = r.open(std::nullopt);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("dev/kmsg"), std::string::npos);
}

}  // namespace
}  // namespace aion::logs
