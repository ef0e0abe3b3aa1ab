#include "aion/logs/header_detect.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace aion::logs {
namespace {

HeaderDetector shipped() {
  auto d = HeaderDetector::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/headers.toml");
  EXPECT_TRUE(d) << d.error().message();
  return std::move(*d);
}

struct Case {
  std::string layout;
  std::vector<std::string> lines;
  std::string content;  // the first line's message
};

// Lines written in each layout's documented form (hand-written examples, not captures).
const std::vector<Case> kCases = {
    {"journal-short-iso",
     {"2026-12-07T00:52:32+0000 gpu01 systemd[1]: Started Session 3 of user alice.",
      "2026-12-07T00:52:33+0000 gpu01 kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=1234",
      "2026-12-07T00:52:34.123456+00:00 gpu01 sshd[2201]: Accepted publickey for bob"},
     "Started Session 3 of user alice."},
    {"syslog-rfc3164",
     {"Dec  7 00:52:32 gpu01 sshd[2201]: Accepted publickey for bob from 10.0.0.9 port 22",
      "Dec  7 00:52:33 gpu01 kernel: [  12.345] usb 1-1: new high-speed USB device",
      "Dec  7 00:52:34 gpu01 CRON[991]: (root) CMD (run-parts /etc/cron.hourly)"},
     "Accepted publickey for bob from 10.0.0.9 port 22"},
    {"syslog-rfc5424",
     {"<34>1 2026-12-07T00:52:32.003Z gpu01 su - ID47 - 'su root' failed for alice on /dev/pts/8",
      "<165>1 2026-12-07T00:52:33Z gpu01 evntslog 12 ID47 [exampleSDID@32473 iut=\"3\"] An event"},
     "'su root' failed for alice on /dev/pts/8"},
    {"klog",
     {"I1207 00:52:32.123456    4321 kubelet.go:2345] \"SyncLoop ADD\" source=\"api\"",
      "E1207 00:52:33.000001    4321 pod_workers.go:1298] \"Error syncing pod\" err=\"x\""},
     "\"SyncLoop ADD\" source=\"api\""},
    {"cri",
     {"2026-12-07T00:52:32.123456789Z stdout F Epoch 3: loss 0.412",
      "2026-12-07T00:52:33.223456789Z stderr P partial line"},
     "Epoch 3: loss 0.412"},
    {"slurm",
     {"[2026-12-07T00:52:32.123] _slurm_rpc_submit_batch_job: JobId=42 InitPrio=4294901759",
      "[2026-12-07T00:52:33.456] sched: Allocate JobId=42 NodeList=gpu01 #CPUs=8"},
     "_slurm_rpc_submit_batch_job: JobId=42 InitPrio=4294901759"},
    {"nginx-error",
     {"2026/12/07 00:52:32 [error] 1234#1234: *1 open() \"/srv/x\" failed (2: No such file)",
      "2026/12/07 00:52:33 [warn] 1234#1235: *2 an upstream response is buffered"},
     "*1 open() \"/srv/x\" failed (2: No such file)"},
    {"access-log",
     {"10.0.0.9 - - [07/Dec/2026:00:52:32 +0000] \"GET /v1/models HTTP/1.1\" 200 512 \"-\" "
      "\"curl\"",
      "10.0.0.8 - alice [07/Dec/2026:00:52:33 +0000] \"POST /v1/chat HTTP/1.1\" 500 17"},
     "\"GET /v1/models HTTP/1.1\" 200 512 \"-\" \"curl\""},
    {"log4j",
     {"2026-12-07 00:52:32,123 INFO [main] org.apache.spark.SparkContext: Running Spark",
      "2026-12-07 00:52:33,456 WARN [dispatcher-1] o.a.s.Executor: Lost task 1.0"},
     "Running Spark"},
    {"python-logging",
     {"2026-12-07 00:52:32,123 - trainer - INFO - epoch 1 loss 0.5",
      "2026-12-07 00:52:33,456 - trainer - WARNING - grad norm 1e9"},
     "epoch 1 loss 0.5"},
    {"go-log",
     {"2026/12/07 00:52:32 listening on :8080", "2026/12/07 00:52:33 shutting down"},
     "listening on :8080"},
    {"kernel",
     {"[    0.000000] Linux version 6.1.0-18-amd64",
      "[   12.345678] nvidia: loading out-of-tree module"},
     "Linux version 6.1.0-18-amd64"},
};

TEST(HeaderDetectorTest, FindsEachCommonLayoutByItself) {
  HeaderDetector d = shipped();
  for (const auto& c : kCases) {
    auto found = d.detect(c.lines);
    ASSERT_TRUE(found) << c.layout << ": nothing found";
    EXPECT_EQ(found->layout.name, c.layout);
    EXPECT_EQ(found->matched, c.lines.size()) << c.layout;
    auto f = d.split(d.index_of(found->layout.name), c.lines[0]);
    ASSERT_TRUE(f) << c.layout;
    EXPECT_EQ(f->content, c.content) << c.layout;
  }
}

TEST(HeaderDetectorTest, PlainTextHasNoHeader) {
  HeaderDetector d = shipped();
  EXPECT_FALSE(d.detect({"hello world this is a message", "another plain line of text here",
                         "and a third one without any header at all"}));
  EXPECT_FALSE(d.detect({}));
  EXPECT_FALSE(d.detect({"", "   "}));
}

TEST(HeaderDetectorTest, TypedFieldsKeepLooseLayoutsFromClaimingText) {
  // "<Date> <Time> <Content>" would split any line of three words; the types refuse these.
  EXPECT_FALSE(valid_header_field("Date", "hello"));
  EXPECT_FALSE(valid_header_field("Time", "25:61"));
  EXPECT_TRUE(valid_header_field("Time", "7:05:09.123"));
  EXPECT_TRUE(valid_header_field("Timestamp", "2026-12-07T00:52:32.5+08:00"));
  EXPECT_FALSE(valid_header_field("Timestamp", "2026-12-07T00:52:32 trailing"));
  EXPECT_TRUE(valid_header_field("Level", "warning"));
  EXPECT_FALSE(valid_header_field("Level", "words"));
  EXPECT_FALSE(valid_header_field("Program", "two words"));
  EXPECT_TRUE(valid_header_field("Anything", "goes here"));
}

TEST(HeaderDetectorTest, AJournalExportKeepsEachLinesProgram) {
  HeaderDetector d = shipped();
  std::vector<std::string> lines = {
      "2026-12-07T00:52:32+0000 gpu01 systemd[1]: Started Session 3 of user alice.",
      "2026-12-07T00:52:33+0000 gpu01 sshd[2201]: Accepted publickey for bob",
      "2026-12-07T00:52:34+0000 gpu01 kernel: nvidia-nvlink: Nvlink Core is being initialized"};
  auto found = d.detect(lines);
  ASSERT_TRUE(found);
  const std::size_t i = d.index_of(found->layout.name);
  std::vector<std::string> sources;
  for (const auto& l : lines) sources.push_back(HeaderDetector::source_of(*d.split(i, l)));
  EXPECT_EQ(sources, (std::vector<std::string>{"systemd", "sshd", "kernel"}));
}

TEST(HeaderDetectorTest, ABrokenLayoutFileNamesTheLine) {
  auto d = HeaderDetector::parse(
      "schema_version = 1\n[[layout]]\nname = \"a\"\nformat = \"<Date> <Time>\"\n", "h.toml");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(d.error().message().find("h.toml:2"), std::string::npos) << d.error().message();
  EXPECT_NE(d.error().message().find("no <Content>"), std::string::npos);
  auto unknown = HeaderDetector::parse(
      "schema_version = 1\n[[layout]]\nname = \"a\"\nformat = \"<Content>\"\nfromat = \"x\"\n",
      "h.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("fromat"), std::string::npos);
}

}  // namespace
}  // namespace aion::logs
