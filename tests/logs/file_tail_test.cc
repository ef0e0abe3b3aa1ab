#include "aion/logs/file_tail.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

class FileTailTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(root_ / "var/log"); }
  void append(const std::string& text) {
    std::ofstream(root_ / "var/log/app.log", std::ios::app) << text;
  }
  std::vector<std::string> poll(FileTail& t) {
    auto r = t.poll();
    EXPECT_TRUE(r);
    return r ? *r : std::vector<std::string>{};
  }
  ::aion::testing::TempDir tmp_{"tail"};
  fs::path root_ = tmp_.path();
};

using Lines = std::vector<std::string>;

TEST_F(FileTailTest, StartsAtTheEndAndReadsAppendedLines) {
  append("old 1\nold 2\n");
  FileTail t(HostFs(root_), "/var/log/app.log");
  EXPECT_EQ(poll(t), Lines{});
  append("new 1\nnew ");
  EXPECT_EQ(poll(t), Lines{"new 1"});
  append("2\n");
  EXPECT_EQ(poll(t), Lines{"new 2"});
}

TEST_F(FileTailTest, FollowsRotationReadingTheOldFileToItsEnd) {
  append("a\n");
  FileTail t(HostFs(root_), "/var/log/app.log", FileCursor{0, 0});
  EXPECT_EQ(poll(t), Lines{"a"});
  append("b\n");
  fs::rename(root_ / "var/log/app.log", root_ / "var/log/app.log.1");
  append("c\n");  // the new file
  EXPECT_EQ(poll(t), (Lines{"b", "c"}));
  EXPECT_EQ(t.rotations(), 1u);
  append("d\n");
  EXPECT_EQ(poll(t), Lines{"d"});
}

TEST_F(FileTailTest, RestartsAfterTruncation) {
  append("one\ntwo\n");
  FileTail t(HostFs(root_), "/var/log/app.log", FileCursor{0, 0});
  EXPECT_EQ(poll(t), (Lines{"one", "two"}));
  fs::resize_file(root_ / "var/log/app.log", 0);
  append("x\n");
  EXPECT_EQ(poll(t), Lines{"x"});
  EXPECT_EQ(t.truncations(), 1u);
}

TEST_F(FileTailTest, ResumesFromASavedCursor) {
  append("one\ntwo\n");
  FileCursor saved;
  {
    FileTail t(HostFs(root_), "/var/log/app.log", FileCursor{0, 0});
    EXPECT_EQ(poll(t), (Lines{"one", "two"}));
    append("thr");
    EXPECT_EQ(poll(t), Lines{});
    saved = t.cursor();  // before the partial line
  }
  append("ee\nfour\n");
  FileTail t(HostFs(root_), "/var/log/app.log", saved);
  EXPECT_EQ(poll(t), (Lines{"three", "four"}));
}

TEST_F(FileTailTest, ACursorOfARotatedFileReadsTheNewFileWhole) {
  append("one\n");
  FileCursor saved;
  {
    FileTail t(HostFs(root_), "/var/log/app.log", FileCursor{0, 0});
    poll(t);
    saved = t.cursor();
  }
  fs::rename(root_ / "var/log/app.log", root_ / "var/log/app.log.1");
  append("fresh\n");
  FileTail t(HostFs(root_), "/var/log/app.log", saved);
  EXPECT_EQ(poll(t), Lines{"fresh"});
}

TEST_F(FileTailTest, MissingFileYieldsNothingUntilItAppears) {
  FileTail t(HostFs(root_), "/var/log/app.log", FileCursor{0, 0});
  EXPECT_EQ(poll(t), Lines{});
  append("hello\n");
  EXPECT_EQ(poll(t), Lines{"hello"});
}

}  // namespace
}  // namespace aion::logs
