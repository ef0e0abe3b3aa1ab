// Reading block files whose bytes were damaged on disk.
#include "aion/tsdb/block.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

TEST(BlockTest, ReadChunksWithADamagedChunkCountIsCorruptNotAnAllocation) {
  const ::aion::testing::TempDir tmp("block-test");
  const fs::path path = tmp / "block";
  {
    // A span of 8 bytes whose chunk count says 0xffffffff: reserving that many chunks would
    // ask for hundreds of gigabytes and end the process.
    std::ofstream out(path, std::ios::binary);
    const char bytes[8] = {'\xff', '\xff', '\xff', '\xff', 1, 0, 0, 0};
    out.write(bytes, sizeof bytes);
  }
  auto chunks = read_chunks(path, Span{.offset = 0, .length = 8});
  ASSERT_FALSE(chunks.has_value());
  EXPECT_EQ(chunks.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(chunks.error().message().find("truncated"), std::string::npos)
      << chunks.error().message();
}

}  // namespace
}  // namespace aion::tsdb
