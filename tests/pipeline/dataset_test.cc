// Datasets end to end on temporary trees: versions and their diffs, verify's verdicts,
// duplicates across datasets, hostile trees (links out, FIFOs, odd names), removal and a
// damaged catalog file.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/pipeline/dataset.h"
#include "aion/pipeline/dataset_verify.h"
#include "aion/pipeline/stage.h"
#include "pipeline_test_util.h"

namespace aion::pipeline {
namespace {

using aion::testing::TempDir;
using test::add_ok;
using test::open_catalog;

TEST(DatasetTest, ReAddingAnUnchangedTreeMakesNoVersion) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/a.txt", "alpha\n");
  tmp.write("tree/sub/b.csv", "x,y\n1,2\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto first = add_ok(*cat, "demo", tmp / "tree");
  ASSERT_TRUE(first.created);
  EXPECT_EQ(first.version.version, 1);
  EXPECT_EQ(first.version.files, 2u);
  EXPECT_EQ(first.version.bytes, 6u + 8u);
  EXPECT_FALSE(first.diff);
  // Touching a file changes its mtime, not its content: still the same dataset.
  test::set_mtime(tmp / "tree/a.txt", 1'600'000'000'000'000'000);
  auto again = add_ok(*cat, "demo", tmp / "tree");
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.version.id, first.version.id);
  auto versions = cat->versions("demo");
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->size(), 1u);
}

TEST(DatasetTest, AChangedTreeMakesTheNextVersionWithItsDiff) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/keep.txt", "same\n");
  tmp.write("tree/edit.txt", "before\n");
  tmp.write("tree/gone.txt", "bye\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v1 = add_ok(*cat, "demo", tmp / "tree");
  tmp.write("tree/edit.txt", "after!\n");
  std::filesystem::remove(tmp / "tree/gone.txt");
  tmp.write("tree/new/one.txt", "new\n");
  auto v2 = add_ok(*cat, "demo", tmp / "tree");
  ASSERT_TRUE(v2.created);
  EXPECT_EQ(v2.version.version, 2);
  EXPECT_NE(v2.version.manifest_id, v1.version.manifest_id);
  ASSERT_TRUE(v2.diff);
  EXPECT_EQ(v2.diff->added.paths, std::vector<std::string>{"new/one.txt"});
  EXPECT_EQ(v2.diff->removed.paths, std::vector<std::string>{"gone.txt"});
  EXPECT_EQ(v2.diff->changed.paths, std::vector<std::string>{"edit.txt"});
  // Both versions stay addressable; the latest is the default.
  auto latest = cat->resolve({"demo", std::nullopt});
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, 2);
  auto old = cat->resolve({"demo", 1});
  ASSERT_TRUE(old);
  EXPECT_EQ(old->files, 3u);
  auto missing = cat->resolve({"demo", 7});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("has no version 7 (it has 1, 2)"), std::string::npos)
      << missing.error().message();
}

TEST(DatasetTest, VerifyNamesChangedMissingCorruptAndExtraFiles) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/ok.txt", "fine\n");
  tmp.write("tree/changed.txt", "short\n");
  tmp.write("tree/missing.txt", "here\n");
  tmp.write("tree/corrupt.bin", "0123456789");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v = add_ok(*cat, "demo", tmp / "tree").version;
  {
    auto clean = verify_dataset(*cat, v, {.threads = 2});
    ASSERT_TRUE(clean) << clean.error().message();
    EXPECT_TRUE(clean->ok());
    EXPECT_EQ(clean->checked, 4u);
  }
  tmp.write("tree/changed.txt", "much longer now\n");
  std::filesystem::remove(tmp / "tree/missing.txt");
  tmp.write("tree/extra.txt", "surprise\n");
  // Same size, same mtime, other bytes: what bit rot looks like.
  struct stat before {};
  ASSERT_EQ(::stat((tmp / "tree/corrupt.bin").c_str(), &before), 0);
  {
    std::fstream f(tmp / "tree/corrupt.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    f.put('X');
  }
  test::set_mtime(
      tmp / "tree/corrupt.bin",
      static_cast<std::int64_t>(before.st_mtim.tv_sec) * 1'000'000'000 + before.st_mtim.tv_nsec);
  auto r = verify_dataset(*cat, v, {.threads = 2});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->ok());
  std::map<std::string, VerifyState> got;
  for (const auto& f : r->findings) got[f.path] = f.state;
  EXPECT_EQ(got["changed.txt"], VerifyState::kChanged);
  EXPECT_EQ(got["missing.txt"], VerifyState::kMissing);
  EXPECT_EQ(got["corrupt.bin"], VerifyState::kCorrupt);
  EXPECT_EQ(got["extra.txt"], VerifyState::kExtra);
  EXPECT_EQ(got.count("ok.txt"), 0u);
  EXPECT_EQ(r->counts[static_cast<int>(VerifyState::kOk)], 1u);
}

TEST(DatasetTest, DuplicatesAcrossDatasetsAreFoundBySizeAndHash) {
  TempDir tmp("pipeline-ds");
  tmp.write("a/shared.bin", "the same payload");
  tmp.write("a/only-a.txt", "a\n");
  tmp.write("b/deep/copy.bin", "the same payload");
  tmp.write("b/only-b.txt", "b\n");
  tmp.write("b/empty", "");
  tmp.write("a/empty", "");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto a = add_ok(*cat, "set-a", tmp / "a").version;
  add_ok(*cat, "set-b", tmp / "b");
  auto all = cat->duplicates(std::nullopt, 10, 10);
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->total_groups, 1u);  // empty files are not duplicates worth naming
  ASSERT_EQ(all->groups.size(), 1u);
  EXPECT_EQ(all->groups[0].size, 16u);
  ASSERT_EQ(all->groups[0].copies.size(), 2u);
  EXPECT_EQ(all->groups[0].copies[0].dataset, "set-a");
  EXPECT_EQ(all->groups[0].copies[0].path, "shared.bin");
  EXPECT_EQ(all->groups[0].copies[1].path, "deep/copy.bin");
  auto of_a = cat->duplicates(a.id, 10, 10);
  ASSERT_TRUE(of_a);
  EXPECT_EQ(of_a->total_groups, 1u);
  // Versions of one dataset sharing files are not duplicates.
  tmp.write("a/more.txt", "more\n");
  add_ok(*cat, "set-a", tmp / "a");
  auto again = cat->duplicates(std::nullopt, 10, 10);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->total_groups, 1u);
}

TEST(DatasetTest, SymlinksAreRecordedNotFollowedAndSpecialFilesSkipped) {
  TempDir tmp("pipeline-ds");
  tmp.write("outside/secret.txt", "do not read\n");
  tmp.write("tree/real.txt", "real\n");
  std::filesystem::create_symlink("real.txt", tmp / "tree/inside-link");
  std::filesystem::create_symlink(tmp / "outside/secret.txt", tmp / "tree/out-link");
  std::filesystem::create_directory_symlink(tmp / "outside", tmp / "tree/out-dir");
  ASSERT_EQ(::mkfifo((tmp / "tree/a-fifo").c_str(), 0600), 0);
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto r = add_ok(*cat, "links", tmp / "tree");
  EXPECT_EQ(r.version.files, 1u);
  EXPECT_EQ(r.version.links, 3u);
  EXPECT_EQ(r.special, 1u);
  EXPECT_EQ(r.version.skipped_special, 1u);
  auto link = cat->find_file(r.version.id, "out-dir");
  ASSERT_TRUE(link && *link);
  EXPECT_EQ((*link)->kind, FileKind::kSymlink);
  EXPECT_EQ((*link)->link_target, (tmp / "outside").string());
  // Nothing below the linked directory was recorded.
  auto through = cat->find_file(r.version.id, "out-dir/secret.txt");
  ASSERT_TRUE(through);
  EXPECT_FALSE(*through);
  // Retargeting a link is a change verify sees.
  std::filesystem::remove(tmp / "tree/inside-link");
  std::filesystem::create_symlink("elsewhere.txt", tmp / "tree/inside-link");
  auto v = verify_dataset(*cat, r.version, {.threads = 1});
  ASSERT_TRUE(v);
  ASSERT_EQ(v->findings.size(), 1u);
  EXPECT_EQ(v->findings[0].path, "inside-link");
  EXPECT_EQ(v->findings[0].state, VerifyState::kChanged);
}

TEST(DatasetTest, OddNamesSurviveAndPrintEscaped) {
  TempDir tmp("pipeline-ds");
  const std::string newline = "line\nbreak.txt";
  const std::string latin1 = std::string("caf\xe9.txt");  // not UTF-8
  tmp.write("tree/" + newline, "1");
  tmp.write("tree/" + latin1, "2");
  tmp.write("tree/back\\slash", "3");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto r = add_ok(*cat, "odd", tmp / "tree");
  EXPECT_EQ(r.version.files, 3u);
  auto f = cat->find_file(r.version.id, latin1);
  ASSERT_TRUE(f && *f);
  EXPECT_EQ(display_path(newline), "line\\nbreak.txt");
  EXPECT_EQ(display_path(latin1), "caf\\xe9.txt");
  EXPECT_EQ(display_path("back\\slash"), "back\\\\slash");
  EXPECT_EQ(display_path("ünï"), "ünï");
  // What JSON output holds is valid UTF-8 (nlohmann would throw on the raw bytes).
  EXPECT_NO_THROW((void)Json(display_path(latin1)).dump());
  auto v = verify_dataset(*cat, r.version, {.threads = 1});
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok());
}

TEST(DatasetTest, UnreadableFilesAreReportedAndStrictRefuses) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files of mode 000";
  TempDir tmp("pipeline-ds");
  tmp.write("tree/ok.txt", "ok\n");
  auto locked = tmp.write("tree/locked.txt", "secret\n");
  ::chmod(locked.c_str(), 0);
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto strict = add_dataset(*cat, test::shipped_modalities(), "u", tmp / "tree",
                            {.strict = true, .threads = 1});
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.error().message().find("locked.txt"), std::string::npos);
  auto none = cat->versions("u");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto lax = add_ok(*cat, "u", tmp / "tree");
  EXPECT_EQ(lax.version.files, 1u);
  EXPECT_EQ(lax.unreadable_count, 1u);
  ASSERT_EQ(lax.unreadable.size(), 1u);
  EXPECT_EQ(lax.unreadable[0].path, "locked.txt");
}

TEST(DatasetTest, RemoveOneVersionThenTheDataset) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/a", "1");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v1 = add_ok(*cat, "d", tmp / "tree").version;
  tmp.write("tree/a", "2");
  auto v2 = add_ok(*cat, "d", tmp / "tree").version;
  auto rm1 = remove_dataset(*cat, {"d", 1});
  ASSERT_TRUE(rm1) << rm1.error().message();
  ASSERT_EQ(rm1->removed.size(), 1u);
  EXPECT_EQ(rm1->removed[0].id, v1.id);
  auto left = cat->versions("d");
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().version, 2);
  // The next version number is never reused within a dataset.
  tmp.write("tree/a", "3");
  EXPECT_EQ(add_ok(*cat, "d", tmp / "tree").version.version, 3);
  auto all = remove_dataset(*cat, {"d", std::nullopt});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->removed.size(), 2u);
  auto gone = cat->resolve({"d", std::nullopt});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  // Version ids are never reused across the catalog.
  auto again = add_ok(*cat, "d", tmp / "tree").version;
  EXPECT_GT(again.id, v2.id + 1);
  EXPECT_EQ(again.version, 1);
}

TEST(DatasetTest, ACorruptCatalogIsAClearError) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/a", "1");
  {
    auto cat = open_catalog(tmp);
    ASSERT_TRUE(cat);
    add_ok(*cat, "d", tmp / "tree");
  }
  const auto db = tmp / "state/datasets.db";
  std::filesystem::remove(tmp / "state/datasets.db-wal");
  std::filesystem::remove(tmp / "state/datasets.db-shm");
  std::filesystem::resize_file(db, 1000);  // truncated mid-page
  auto r = DatasetCatalog::open(db);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("datasets.db"), std::string::npos) << r.error().message();
  std::filesystem::remove(db);
  tmp.write("state/datasets.db", "this is not a database at all, just text that is long enough");
  auto garbage = DatasetCatalog::open(db);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code(), ErrorCode::kCorrupt);
}

TEST(DatasetTest, NamesAndRefsAreChecked) {
  EXPECT_TRUE(parse_version_ref("imagenet-1k_v2.0"));
  auto ref = parse_version_ref("coco@3");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->name, "coco");
  EXPECT_EQ(ref->version, 3);
  EXPECT_FALSE(parse_version_ref("coco@0"));
  EXPECT_FALSE(parse_version_ref("coco@x"));
  EXPECT_FALSE(parse_version_ref("../etc"));
  EXPECT_FALSE(parse_version_ref(".hidden"));
  EXPECT_FALSE(parse_version_ref(""));
  EXPECT_FALSE(parse_version_ref("a b"));
}

// Files whose size, mtime and mode are those of the latest version keep its hashes without
// being read; the rest are read. The unchanged ones here carry an old mtime, as files do
// that were not touched since before the last add.
TEST(DatasetTest, FilesUnchangedInSizeAndTimeAreNotReadAgain) {
  TempDir tmp("pipeline-ds");
  constexpr std::int64_t kOld = 1'600'000'000'000'000'000;
  for (const char* f : {"a.txt", "b.txt", "c.bin", "same-size.txt"}) {
    tmp.write(std::string("tree/") + f, std::string("content of ") + f + "\n");
    test::set_mtime(tmp / "tree" / f, kOld);
  }
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v1 = add_ok(*cat, "q", tmp / "tree");
  EXPECT_EQ(v1.reused, 0u);

  // Changed in size: read, and seen as changed (whatever its mtime).
  tmp.write("tree/b.txt", "new content of b.txt, longer\n");
  test::set_mtime(tmp / "tree/b.txt", kOld + 1);
  // Same size, content changed, mtime put back: the quick check cannot see it...
  tmp.write("tree/same-size.txt", "CONTENT OF same-size.txt\n");
  test::set_mtime(tmp / "tree/same-size.txt", kOld);
  // ...and a chmod makes a file be read again even with its old mtime.
  ASSERT_EQ(::chmod((tmp / "tree/c.bin").c_str(), 0600), 0);
  auto v2 = add_ok(*cat, "q", tmp / "tree");
  ASSERT_TRUE(v2.created);
  EXPECT_EQ(v2.reused, 2u);  // a.txt and same-size.txt
  ASSERT_TRUE(v2.diff);
  EXPECT_EQ(v2.diff->changed.paths, std::vector<std::string>{"b.txt"});
  auto a = cat->find_file(v2.version.id, "a.txt");
  auto a1 = cat->find_file(v1.version.id, "a.txt");
  ASSERT_TRUE(a && *a && a1 && *a1);
  EXPECT_EQ((*a)->xxh3, (*a1)->xxh3);
  EXPECT_EQ((*a)->modality, (*a1)->modality);

  // --rehash reads everything and finds the change the quick check missed.
  auto v3 = add_ok(*cat, "q", tmp / "tree", {.rehash = true});
  EXPECT_EQ(v3.reused, 0u);
  ASSERT_TRUE(v3.created);
  ASSERT_TRUE(v3.diff);
  EXPECT_EQ(v3.diff->changed.paths, std::vector<std::string>{"same-size.txt"});

  // Asking for SHA-256 when the latest version has none reads every file.
  tmp.write("tree/c.bin", "c changed\n");
  test::set_mtime(tmp / "tree/c.bin", kOld + 2);
  auto v4 = add_ok(*cat, "q", tmp / "tree", {.sha256 = true});
  EXPECT_EQ(v4.reused, 0u);
  ASSERT_TRUE(v4.created);
  EXPECT_TRUE(v4.version.sha256);
  // And then they can be reused, SHA-256 included.
  tmp.write("tree/a.txt", "a changed\n");
  auto v5 = add_ok(*cat, "q", tmp / "tree", {.sha256 = true});
  EXPECT_EQ(v5.reused, 3u);
  auto b = cat->find_file(v5.version.id, "b.txt");
  ASSERT_TRUE(b && *b && (*b)->sha256);
}

// A file written just before (or while) the latest version was read may be written again
// within the same clock tick, keeping its mtime: it is read again whatever its mtime says.
TEST(DatasetTest, RecentlyModifiedFilesAreReadAgain) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/edit.txt", "before\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v1 = add_ok(*cat, "r", tmp / "tree");
  struct stat st {};
  ASSERT_EQ(::stat((tmp / "tree/edit.txt").c_str(), &st), 0);
  const std::int64_t m =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  tmp.write("tree/edit.txt", "after!\n");     // same size
  test::set_mtime(tmp / "tree/edit.txt", m);  // as if within the same tick
  auto v2 = add_ok(*cat, "r", tmp / "tree");
  EXPECT_EQ(v2.reused, 0u);
  ASSERT_TRUE(v2.created);
  ASSERT_TRUE(v2.diff);
  EXPECT_EQ(v2.diff->changed.paths, std::vector<std::string>{"edit.txt"});
}

// Asking for SHA-256 on a tree unchanged since a version without them records them on that
// version (same content, no new version).
TEST(DatasetTest, Sha256AskedOnAnUnchangedTreeIsRecordedOnTheLatestVersion) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/abc", "abc");
  tmp.write("tree/sub/x.txt", "x\n");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto v1 = add_ok(*cat, "s", tmp / "tree");
  EXPECT_FALSE(v1.version.sha256);
  auto again = add_ok(*cat, "s", tmp / "tree", {.sha256 = true});
  EXPECT_FALSE(again.created);
  EXPECT_TRUE(again.sha256_added);
  EXPECT_EQ(again.version.id, v1.version.id);
  auto versions = cat->versions("s");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_TRUE(versions->front().sha256);
  EXPECT_EQ(versions->front().manifest_id, v1.version.manifest_id);
  auto f = cat->find_file(v1.version.id, "abc");
  ASSERT_TRUE(f && *f && (*f)->sha256);
  EXPECT_EQ(to_hex(*(*f)->sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Once there, nothing more to do; the next version is number 2.
  auto third = add_ok(*cat, "s", tmp / "tree", {.sha256 = true});
  EXPECT_FALSE(third.created);
  EXPECT_FALSE(third.sha256_added);
  tmp.write("tree/new.txt", "new\n");
  auto v2 = add_ok(*cat, "s", tmp / "tree", {.sha256 = true});
  ASSERT_TRUE(v2.created);
  EXPECT_EQ(v2.version.version, 2);
}

TEST(DatasetTest, Sha256OnRequest) {
  TempDir tmp("pipeline-ds");
  tmp.write("tree/abc", "abc");
  auto cat = open_catalog(tmp);
  ASSERT_TRUE(cat);
  auto r = add_ok(*cat, "s", tmp / "tree", {.sha256 = true});
  EXPECT_TRUE(r.version.sha256);
  auto f = cat->find_file(r.version.id, "abc");
  ASSERT_TRUE(f && *f && (*f)->sha256);
  EXPECT_EQ(to_hex(*(*f)->sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // XXH3-128 of "abc", as `xxh128sum` prints it.
  EXPECT_EQ((*f)->xxh3.hex(), "06b05ab6733a618578af5f94892f3950");
}

}  // namespace
}  // namespace aion::pipeline
