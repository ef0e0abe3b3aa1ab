// The shared test support itself: TempDir makes private directories and removes them, fixture
// paths point into the source tree.
#include "support/temp_dir.h"

#include <sys/stat.h>

#include <filesystem>
#include <utility>

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;

TEST(TempDirTest, IsAFreshPrivateDirectoryRemovedWithEverythingInIt) {
  fs::path kept;
  {
    const TempDir a("support");
    const TempDir b("support");
    ASSERT_TRUE(fs::is_directory(a.path()));
    EXPECT_NE(a.path(), b.path());
    EXPECT_TRUE(fs::is_empty(a.path()));
    EXPECT_EQ(a.path().filename().string().rfind("aion-support-", 0), 0u) << a.path();
    struct stat st {};
    ASSERT_EQ(::stat(a.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    const fs::path file = a.write("x/y/z.txt", std::string("bytes\0and more", 14));
    EXPECT_EQ(file, a / "x/y/z.txt");
    EXPECT_EQ(a.read("x/y/z.txt"), std::string("bytes\0and more", 14));
    EXPECT_EQ(a.mkdir("d/e"), a.path() / "d/e");
    EXPECT_TRUE(fs::is_directory(a / "d/e"));
    EXPECT_EQ(a.read("missing"), "");
    kept = a.path();
  }
  EXPECT_FALSE(fs::exists(kept));
}

TEST(TempDirTest, KeepLeavesTheDirectoryAndMoveHandsItOver) {
  fs::path kept;
  {
    TempDir a("support");
    a.keep();
    kept = a.path();
  }
  EXPECT_TRUE(fs::is_directory(kept));
  fs::remove_all(kept);

  fs::path moved;
  {
    TempDir a("support");
    moved = a.path();
    TempDir b(std::move(a));
    EXPECT_TRUE(a.path().empty());
    EXPECT_EQ(b.path(), moved);
  }
  EXPECT_FALSE(fs::exists(moved));
}

TEST(TempDirTest, ReachableMeansEveryUserMayEnter) {
  const TempDir a("support");
  a.make_reachable();
  struct stat st {};
  ASSERT_EQ(::stat(a.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(FixturesTest, PathsPointIntoTheSourceTree) {
  EXPECT_TRUE(fs::is_directory(fixtures_dir()));
  EXPECT_TRUE(fs::is_directory(fixture_path("hw/dgx-a100")));
  EXPECT_EQ(hw_fixture_root("dgx-a100"), fixture_path("hw/dgx-a100") / "root");
  EXPECT_TRUE(fs::exists(hw_fixture_root("dgx-a100") / "proc/cpuinfo"));
  EXPECT_NE(read_fixture("hw/dgx-a100/root/proc/sys/kernel/hostname").find("dgx-a100-like"),
            std::string::npos);
  EXPECT_EQ(read_fixture("no/such/file"), "");
  EXPECT_TRUE(fs::exists(source_path("data")));
  EXPECT_EQ(bin_path("aion").filename(), "aion");

  const TempDir t("support");
  copy_fixture("hw/cpu-vm", t / "cpu-vm");
  EXPECT_TRUE(fs::is_symlink(t / "cpu-vm/root/sys/block/vda"));
  EXPECT_EQ(fs::read_symlink(t / "cpu-vm/root/sys/block/vda"),
            fs::read_symlink(hw_fixture_root("cpu-vm") / "sys/block/vda"));
}

}  // namespace
}  // namespace aion::testing
