#include "aion/logs/journal.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace aion::logs
