#include "aion/logs/service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "aion/logs/file_tail.h"
#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class LogServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "dev");
    fs::create_directories(root_ / "var/log");
    options_.kmsg = true;
    options_.journal = false;
    options_.files = {"/var/log/app.log"};
    options_.state_dir = root_ / "state";
    options_.masks_file = fs::path(AION_SOURCE_DIR) / "data/logs/masks.toml";
    options_.poll_interval = 10ms;
  }

  // Runs a service until `want` lines were delivered to on_line (or 10 s passed).
  std::vector<LogLine> run(std::size_t want) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<LogLine> got;
    LogService svc(options_, HostFs(root_),
                   [this](const std::string& kind, const std::string&, const std::string& msg,
                          const std::string&) { events_.push_back(kind + ": " + msg); });
    svc.on_line([&](const LogLine& l) {
      std::lock_guard lock(mu);
      got.push_back(l);
      cv.notify_all();
    });
    auto st = svc.start();
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 10s, [&] { return got.size() >= want; });
    }
    std::this_thread::sleep_for(50ms);  // anything beyond `want` would show up now
    svc.stop();
    std::lock_guard lock(mu);
    return got;
  }

  ::aion::testing::TempDir tmp_{"logsvc"};
  fs::path root_ = tmp_.path();
  LogOptions options_;
  std::vector<std::string> events_;
};

TEST_F(LogServiceTest, DeliversParsedLinesAndResumesAfterRestart) {
  std::ofstream(root_ / "dev/kmsg") << "3,1,100,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=11\n"
                                    << "3,2,200,-;NVRM: Xid (PCI:0000:5e:00): 79, pid=12\n";
  std::ofstream(root_ / "var/log/app.log") << "";
  auto first = run(2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].source, "kmsg");
  EXPECT_EQ(first[0].priority, 3);
  EXPECT_EQ(first[0].template_id, first[1].template_id);
  EXPECT_TRUE(first[0].new_template);
  EXPECT_FALSE(first[1].new_template);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_NE(events_[0].find("log_template: first time seen: NVRM: Xid"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "state/templates.json"));
  EXPECT_TRUE(fs::exists(root_ / "state/cursors.json"));

  // The restart sees the same ring buffer plus one record, and a line in the file.
  std::ofstream(root_ / "dev/kmsg", std::ios::app)
      << "3,3,300,-;NVRM: Xid (PCI:0000:af:00): 79, pid=13\n";
  std::ofstream(root_ / "var/log/app.log", std::ios::app) << "worker 7 started\n";
  events_.clear();
  auto second = run(2);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].content, "NVRM: Xid (PCI:0000:af:00): 79, pid=13");
  EXPECT_EQ(second[0].template_id, first[0].template_id);
  EXPECT_FALSE(second[0].new_template);
  EXPECT_EQ(second[1].source, "/var/log/app.log");
  EXPECT_EQ(events_.size(), 1u);
}

// The restart item in full: the reader is stopped and started again three times on the same
// ring buffer file, with records (and the continuation and malformed lines a stream
// holds) appended while it was stopped. Every record is delivered exactly once, in order,
// and the saved sequence number is the last one delivered.
TEST_F(LogServiceTest, KmsgResumesAcrossRestartsWithoutLossOrDuplication) {
  options_.files.clear();
  std::vector<std::string> written;
  std::uint64_t seq = 0;
  auto append = [&](int n) {
    std::ofstream out(root_ / "dev/kmsg", std::ios::app);
    for (int i = 0; i < n; ++i) {
      ++seq;
      std::string msg = "nvme nvme0: I/O " + std::to_string(seq) + " QID 4 timeout, aborting";
      out << "4," << seq << "," << seq * 1000 << ",-;" << msg << "\n";
      if (seq % 3 == 0) out << " SUBSYSTEM=nvme\n DEVICE=c259:0\n";
      if (seq % 4 == 0) out << "this line is no record\n";
      written.push_back(msg);
    }
  };
  std::vector<std::string> delivered;
  auto cursor = [&] {
    std::ifstream in(root_ / "state/cursors.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  for (int round = 0; round < 3; ++round) {
    append(5 + round);
    auto got = run(5 + round);
    for (const auto& l : got) {
      EXPECT_EQ(l.source, "kmsg");
      delivered.push_back(l.content);
    }
    EXPECT_EQ(got.size(), static_cast<std::size_t>(5 + round)) << "round " << round;
    EXPECT_NE(cursor().find("\"kmsg_seq\": " + std::to_string(seq)), std::string::npos) << cursor();
  }
  EXPECT_EQ(delivered, written);
  // A restart with nothing new delivers nothing.
  EXPECT_TRUE(run(0).empty());
}

// Blank lines (an empty kmsg message, a file line of spaces) are delivered but not mined:
// the state saved afterwards loads again at the next start.
TEST_F(LogServiceTest, BlankLinesAreNotMinedAndTheSavedStateLoadsAgain) {
  std::ofstream(root_ / "dev/kmsg") << "6,1,100,-;\n6,2,200,-; \t \n6,3,300,-;real line 1\n";
  std::ofstream(root_ / "var/log/app.log") << "";
  auto first = run(3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].template_id, 0u);
  EXPECT_EQ(first[1].template_id, 0u);
  EXPECT_NE(first[2].template_id, 0u);
  LogService again(options_, HostFs(root_), nullptr);
  auto st = again.start();
  EXPECT_TRUE(st) << (st ? "" : st.error().message());
  EXPECT_EQ(again.templates().size(), 1u);
  again.stop();
}

// Sequence numbers restart at every boot: after a reboot (another boot_id) the saved number
// must not hide the new boot's records, which are usually the fault's.
TEST_F(LogServiceTest, KmsgReadsTheNewBootsRecordsAfterAReboot) {
  options_.files.clear();
  fs::create_directories(root_ / "proc/sys/kernel/random");
  std::ofstream(root_ / "proc/sys/kernel/random/boot_id") << "4d1c-first-boot\n";
  std::ofstream(root_ / "dev/kmsg") << "6,1,10,-;boot one\n6,2,20,-;a\n6,3,30,-;b\n";
  ASSERT_EQ(run(3).size(), 3u);
  // Same boot, aiond restarted: nothing is read twice.
  EXPECT_TRUE(run(0).empty());
  // Rebooted: a new boot id, a new ring buffer numbered from 1 again.
  std::ofstream(root_ / "proc/sys/kernel/random/boot_id", std::ios::trunc) << "9e07-second\n";
  std::ofstream(root_ / "dev/kmsg", std::ios::trunc)
      << "6,1,10,-;boot two\n3,2,20,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen\n";
  auto after = run(2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].content, "boot two");
  for (const auto& e : events_) EXPECT_EQ(e.find("log_gap"), std::string::npos) << e;
}

TEST_F(LogServiceTest, ReportsKmsgRecordsLostWhileStopped) {
  std::ofstream(root_ / "dev/kmsg") << "6,1,100,-;boot\n";
  run(1);
  std::ofstream(root_ / "dev/kmsg", std::ios::trunc) << "6,9,900,-;later\n";
  events_.clear();
  run(1);
  bool gap = false;
  for (const auto& e : events_) gap = gap || e.find("log_gap: kmsg: 7 kernel log records") == 0;
  EXPECT_TRUE(gap) << (events_.empty() ? "no events" : events_[0]);
}

// stats() is called by API threads while the reader thread reads: it reports the readers'
// counters as of their last read (a line's oversized predecessor is counted by the time the
// line is delivered), and a source the reader drops (a kmsg that cannot be read) is gone from
// under stats() safely, however often it asks meanwhile.
TEST_F(LogServiceTest, StatsAreSafeToReadWhileTheReaderRunsAndDropsASource) {
  fs::create_directories(root_ / "dev/kmsg");  // read() fails with EISDIR: the source is dropped
  std::ofstream(root_ / "var/log/app.log")
      << std::string(kMaxLineBytes + 10, 'x') << "\nworker 7 started\n";
  // A saved cursor at the file's start, so that the tail reads what is there already.
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "var/log/app.log").c_str(), &st), 0);
  fs::create_directories(options_.state_dir);
  std::ofstream(options_.state_dir / "cursors.json")
      << "{\"schema_version\": 1, \"files\": {\"/var/log/app.log\": {\"inode\": " << st.st_ino
      << ", \"offset\": 0}}}";
  std::mutex mu;
  std::condition_variable cv;
  std::vector<LogLine> got;
  LogService svc(options_, HostFs(root_), nullptr);
  svc.on_line([&](const LogLine& l) {
    std::lock_guard lock(mu);
    got.push_back(l);
    cv.notify_all();
  });
  ASSERT_TRUE(svc.start());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) (void)svc.stats();
  });
  LogStats at_delivery;
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return !got.empty(); });
  }
  at_delivery = svc.stats();
  done = true;
  reader.join();
  svc.stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content, "worker 7 started");
  EXPECT_EQ(at_delivery.file_oversized, 1u);
  EXPECT_EQ(at_delivery.kmsg_missed, 0u);
}

TEST_F(LogServiceTest, BadMasksFileStopsStart) {
  std::ofstream(root_ / "masks.toml")
      << "schema_version = 1\n[[mask]]\nname = 'x'\nregex = '('\ntoken = '<X>'\n";
  options_.masks_file = root_ / "masks.toml";
  LogService svc(options_, HostFs(root_), nullptr);
  auto st = svc.start();
  ASSERT_FALSE(st);
  // A masks file that does not load is a broken data file (kCorrupt, exit 1), as every data
  // file is; the message names the file and the mask.
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(st.error().message().find("masks.toml"), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace aion::logs
