#include "aion/logs/journal.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::logs {
namespace {

// Needs a readable local journal with entries; skipped (with the reason) elsewhere, such as
// in containers without journald.
TEST(JournalReaderTest, ResumingFromACursorNeverRereadsItsEntry) {
  auto probe = JournalReader::open("", std::nullopt, false);
  if (!probe) GTEST_SKIP() << "no journal readable here: " << probe.error().message();
  std::string tail = (*probe)->cursor();
  if (tail.empty()) GTEST_SKIP() << "the journal is readable but holds no entries";

  // Resume from the last entry: nothing old comes back.
  auto again = JournalReader::open(tail, std::nullopt, false);
  ASSERT_TRUE(again) << again.error().message();
  auto entries = (*again)->read(100000);
  ASSERT_TRUE(entries) << entries.error().message();
  for (const auto& e : *entries) EXPECT_NE(e.cursor, tail);
  EXPECT_FALSE((*again)->cursor().empty());
}

TEST(JournalReaderTest, MissingDirectoryIsUnavailable) {
  auto r = JournalReader::open("", std::filesystem::path("/nonexistent/journal"), false);
  if (r) GTEST_SKIP() << "sd-journal opened a missing directory as empty on this system";
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

// journald rotates: the active file is archived and a new one takes the next entries. A
// reader opened before the rotation must read the new file's entries too.
TEST(JournalReaderTest, EntriesInAFileCreatedAfterOpenAreRead) {
  namespace fs = std::filesystem;
  const char* remote = "/lib/systemd/systemd-journal-remote";
  if (!fs::exists(remote)) GTEST_SKIP() << remote << " is missing (systemd-journal-remote)";
  const ::aion::testing::TempDir tmp("journal");
  const fs::path dir = tmp.path();
  auto write = [&](const std::string& file, const std::string& message, int n) {
    const fs::path exp = dir / "record.export";
    std::ofstream(exp) << "__REALTIME_TIMESTAMP=" << 1'700'000'000'000'000LL + n * 1000
                       << "\n__MONOTONIC_TIMESTAMP=" << n * 1000
                       << "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                       << "_TRANSPORT=syslog\nMESSAGE=" << message << "\n\n";
    const std::string cmd = std::string(remote) + " -o " + (dir / file).string() + " " +
                            exp.string() + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    fs::remove(exp);
  };
  write("system.journal", "before the reader", 1);
  auto r = JournalReader::open("", dir, false);
  ASSERT_TRUE(r) << r.error().message();
  write("system.journal", "appended", 2);
  write("system@0001.journal", "in a new file", 3);
  std::vector<std::string> seen;
  for (int i = 0; i < 50 && seen.size() < 2; ++i) {
    auto entries = (*r)->read();
    ASSERT_TRUE(entries) << entries.error().message();
    for (const auto& e : *entries) seen.push_back(e.message);
    if (seen.size() < 2) ::usleep(20'000);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"appended", "in a new file"}));
}

}  // namespace
}  // namespace aion::logs
