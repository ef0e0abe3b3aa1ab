// Staging: a verified copy (or hard links) in a target directory, a source that changed since
// `add` refused, and the bounded stage cache evicting whole versions, least recently used first.
#include <sys/stat.h>

#include <string>

#include <gtest/gtest.h>

#include "aion/pipeline/dataset_verify.h"
#include "aion/pipeline/stage.h"
#include "pipeline_test_util.h"

namespace aion::pipeline {
namespace {

using aion::testing::TempDir;
using test::add_ok;
using test::open_catalog;

TEST(StageTest, CopiesVerifiesAndKeepsLinksThatStayInside) {
  TempDir tmp("pipeline-stage");
  tmp.write("tree/a.txt", "alpha\n");
  tmp.write("tree/sub/b.bin", std::string(3 << 20, 'b'));  // several hash blocks
  std::filesystem::create_symlink("../a.txt", tmp / "tree/sub/up-link");
  std::filesystem::create_symlink("/etc/passwd", tmp / "tree/out-link");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v = add_ok(*cat, "d", tmp / "tree").version;
  auto r = stage_dataset(*cat, v, {.to = tmp / "staged", .threads = 2}, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files, 2u);
  EXPECT_EQ(r->bytes, v.bytes);
  EXPECT_EQ(r->symlinks, 1u);
  EXPECT_EQ(r->skipped_symlinks, 1u);
  EXPECT_EQ(tmp.read("staged/sub/b.bin").size(), 3u << 20);
  EXPECT_TRUE(std::filesystem::is_symlink(tmp / "staged/sub/up-link"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(tmp / "staged/out-link")));
  // No partial directory is left beside the target.
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  }
  // The staged copy verifies as the dataset (the link left out is its only finding).
  auto check = verify_dataset(*cat, v, {.root = tmp / "staged", .threads = 2});
  ASSERT_TRUE(check) << check.error().message();
  ASSERT_EQ(check->findings.size(), 1u);
  EXPECT_EQ(check->findings[0].path, "out-link");
  EXPECT_EQ(check->findings[0].state, VerifyState::kMissing);
  // A target that is not empty is refused.
  auto again = stage_dataset(*cat, v, {.to = tmp / "staged"}, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
}

TEST(StageTest, HardLinksOnTheSameFileSystem) {
  TempDir tmp("pipeline-stage");
  tmp.write("tree/a.txt", "alpha\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v = add_ok(*cat, "d", tmp / "tree").version;
  auto r = stage_dataset(*cat, v, {.to = tmp / "linked", .link = true}, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->linked, 1u);
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((tmp / "tree/a.txt").c_str(), &a), 0);
  ASSERT_EQ(::stat((tmp / "linked/a.txt").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST(StageTest, ASourceThatChangedSinceAddIsRefusedAndLeavesNothing) {
  TempDir tmp("pipeline-stage");
  tmp.write("tree/a.txt", "alpha\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v = add_ok(*cat, "d", tmp / "tree").version;
  tmp.write("tree/a.txt", "ALPHA\n");
  auto r = stage_dataset(*cat, v, {.to = tmp / "staged"}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("a.txt no longer matches the manifest"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(std::filesystem::exists(tmp / "staged"));
}

TEST(StageTest, TheCacheReusesAndEvictsLeastRecentlyUsedVersions) {
  TempDir tmp("pipeline-stage");
  tmp.write("one/f", std::string(400, '1'));
  tmp.write("two/f", std::string(400, '2'));
  tmp.write("three/f", std::string(400, '3'));
  tmp.write("huge/f", std::string(2000, 'h'));
  ManualClock clock;
  auto opened = DatasetCatalog::open(tmp / "state/datasets.db", &clock);
  ASSERT_TRUE(opened);
  auto& cat = **opened;
  auto one = add_ok(cat, "one", tmp / "one").version;
  auto two = add_ok(cat, "two", tmp / "two").version;
  auto three = add_ok(cat, "three", tmp / "three").version;
  auto huge = add_ok(cat, "huge", tmp / "huge").version;
  const StageCacheConfig cache{tmp / "cache", 1000};  // room for two of the small ones
  auto s1 = stage_dataset(cat, one, {}, cache);
  ASSERT_TRUE(s1) << s1.error().message();
  EXPECT_EQ(s1->dir, (tmp / "cache/one@1").string());
  clock.advance(std::chrono::seconds(1));
  ASSERT_TRUE(stage_dataset(cat, two, {}, cache));
  clock.advance(std::chrono::seconds(1));
  // Using "one" again makes "two" the least recently used.
  auto reuse = stage_dataset(cat, one, {}, cache);
  ASSERT_TRUE(reuse);
  EXPECT_TRUE(reuse->reused);
  clock.advance(std::chrono::seconds(1));
  auto s3 = stage_dataset(cat, three, {}, cache);
  ASSERT_TRUE(s3) << s3.error().message();
  ASSERT_EQ(s3->evicted.size(), 1u);
  EXPECT_EQ(s3->evicted[0].version_id, two.id);
  EXPECT_FALSE(std::filesystem::exists(tmp / "cache/two@1"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "cache/one@1/f"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "cache/three@1/f"));
  // A version larger than the whole cache is refused with the key to change.
  auto big = stage_dataset(cat, huge, {}, cache);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(big.error().message().find("datasets.stage_cache_max_bytes"), std::string::npos);
  // Removing a dataset removes its staged copy.
  auto rm = remove_dataset(cat, {"three", std::nullopt});
  ASSERT_TRUE(rm);
  EXPECT_EQ(rm->staged_dirs_removed.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(tmp / "cache/three@1"));
}

TEST(StageTest, ManifestPathsThatLeaveTheTargetAreRefused) {
  EXPECT_TRUE(safe_relative_path("a/b.txt"));
  EXPECT_FALSE(safe_relative_path("../x"));
  EXPECT_FALSE(safe_relative_path("a/../../x"));
  EXPECT_FALSE(safe_relative_path("/etc/passwd"));
  EXPECT_FALSE(safe_relative_path("a//b"));
  EXPECT_FALSE(safe_relative_path(""));
}

}  // namespace
}  // namespace aion::pipeline
