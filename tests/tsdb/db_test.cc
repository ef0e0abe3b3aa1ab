// The metrics store: samples survive a reopen once flushed, a reopen says what was lost, a
// damaged block file is quarantined while the rest loads, retention keeps age and size in
// bounds, and a full disk stops persistence without losing what is in memory.
#include "aion/tsdb/db.h"

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

class DbTest : public ::testing::Test {
 protected:
  // A test may mount a tmpfs on dir_; it goes before the TempDir removes the directory.
  void TearDown() override { ::umount2(dir_.c_str(), MNT_DETACH); }
  std::unique_ptr<Db> open(DbOptions o = {}) {
    o.dir = dir_;
    auto db = Db::open(o);
    EXPECT_TRUE(db) << (db ? "" : db.error().message());
    return db ? std::move(*db) : nullptr;
  }
  ::aion::testing::TempDir tmp_{"tsdb"};
  fs::path dir_ = tmp_ / "db";
};

TEST_F(DbTest, AppendQueryAndSeries) {
  auto db = open({.chunk_samples = 10});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->append("gpu_utilization_ratio{gpu=\"0\"}", i * 1000, i * 0.01));
    ASSERT_TRUE(db->append("gpu_utilization_ratio{gpu=\"1\"}", i * 1000, 1 - i * 0.01));
  }
  auto q = db->query("gpu_utilization_ratio{gpu=\"0\"}", 10'000, 19'500);
  ASSERT_EQ(q.size(), 10u);
  EXPECT_EQ(q.front().t_ms, 10'000);
  EXPECT_DOUBLE_EQ(q.back().value, 0.19);
  EXPECT_TRUE(db->query("nope", 0, 1'000'000).empty());
  EXPECT_EQ(db->series().size(), 2u);
  // Across a chunk boundary too.
  auto late = db->append("gpu_utilization_ratio{gpu=\"0\"}", 99'000, 5);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->stats().samples, 200u);
}

TEST_F(DbTest, FlushedSamplesSurviveAReopenAndEachFlushWritesOnlyWhatIsNew) {
  {
    auto db = open({.chunk_samples = 16});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(db->append("a", i, i));
    auto f1 = db->flush();
    ASSERT_TRUE(f1) << f1.error().message();
    EXPECT_EQ(f1->samples, 50u);
    for (int i = 50; i < 70; ++i) ASSERT_TRUE(db->append("a", i, i));
    ASSERT_TRUE(db->append("b", 5, 1));
    auto f2 = db->flush();
    ASSERT_TRUE(f2);
    EXPECT_EQ(f2->samples, 21u);
    EXPECT_EQ(f2->series, 2u);
    auto f3 = db->flush();
    ASSERT_TRUE(f3);
    EXPECT_EQ(f3->samples, 0u);
    EXPECT_TRUE(f3->file.empty());
    for (int i = 70; i < 75; ++i) ASSERT_TRUE(db->append("a", i, i));  // never flushed
  }
  auto db = open({.chunk_samples = 16});
  EXPECT_EQ(db->opened().blocks, 2u);
  EXPECT_EQ(db->opened().samples, 71u);
  EXPECT_EQ(db->opened().last_sample_ms, 69);  // what came after this was lost
  EXPECT_TRUE(db->opened().quarantined.empty());
  auto a = db->query("a", 0, 1000);
  ASSERT_EQ(a.size(), 70u);
  for (int i = 0; i < 70; ++i) ASSERT_EQ(a[static_cast<std::size_t>(i)].value, i);
  // It goes on where the disk left off, and the next flush writes only the new samples.
  ASSERT_TRUE(db->append("a", 70, 70));
  auto f = db->flush();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->samples, 1u);
}

TEST_F(DbTest, ADamagedBlockIsQuarantinedAndTheRestLoads) {
  fs::path second;
  {
    auto db = open();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->append("x", i, i));
    ASSERT_TRUE(db->flush());
    for (int i = 100; i < 200; ++i) ASSERT_TRUE(db->append("x", i, i));
    auto f = db->flush();
    ASSERT_TRUE(f);
    second = f->file;
    for (int i = 200; i < 300; ++i) ASSERT_TRUE(db->append("x", i, i));
    ASSERT_TRUE(db->flush());
  }
  {
    std::fstream f(second, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    f.put('\x5a');
  }
  std::ofstream(dir_ / "block-000000000009.tsb.tmp") << "half a flush";
  auto db = open();
  ASSERT_EQ(db->opened().quarantined.size(), 1u);
  EXPECT_NE(db->opened().quarantined[0].find("checksum mismatch"), std::string::npos)
      << db->opened().quarantined[0];
  EXPECT_TRUE(fs::exists(dir_ / "quarantine" / second.filename()));
  EXPECT_FALSE(fs::exists(second));
  EXPECT_FALSE(fs::exists(dir_ / "block-000000000009.tsb.tmp"));
  auto x = db->query("x", 0, 1000);
  EXPECT_EQ(x.size(), 200u);  // the first and the third block
  EXPECT_TRUE(db->query("x", 100, 199).empty());
  EXPECT_EQ(db->opened().blocks, 2u);
}

TEST_F(DbTest, CompactionMergesSmallBlocksAndLosesNothing) {
  {
    auto db = open({.chunk_samples = 8});
    for (int f = 0; f < 20; ++f) {
      for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(db->append("a", f * 5 + i, f * 5 + i));
        if (f % 2 == 0) {
          ASSERT_TRUE(db->append("b", f * 5 + i, -i));
        }
      }
      ASSERT_TRUE(db->flush());
    }
    EXPECT_EQ(db->stats().blocks, 20u);
    auto merged = db->compact(16);
    ASSERT_TRUE(merged) << merged.error().message();
    EXPECT_EQ(*merged, 20u);
    EXPECT_EQ(db->stats().blocks, 1u);
    EXPECT_EQ(*db->compact(16), 0u);  // nothing left to merge
    ASSERT_TRUE(db->append("a", 100, 100));
    ASSERT_TRUE(db->flush());
  }
  auto db = open({.chunk_samples = 8});
  EXPECT_EQ(db->opened().blocks, 2u);
  auto a = db->query("a", 0, 1000);
  ASSERT_EQ(a.size(), 101u);
  for (int i = 0; i <= 100; ++i) ASSERT_EQ(a[static_cast<std::size_t>(i)].t_ms, i);
  EXPECT_EQ(db->query("b", 0, 1000).size(), 50u);
}

TEST_F(DbTest, ACrashDuringCompactionLeavesDuplicatesThatOpenSkips) {
  {
    auto db = open();
    for (int f = 0; f < 3; ++f) {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(db->append("a", f * 10 + i, i));
      ASSERT_TRUE(db->flush());
    }
  }
  // As if the merged block had been written but the older ones not yet removed.
  auto blocks = std::vector<fs::path>();
  for (const auto& e : fs::directory_iterator(dir_)) blocks.push_back(e.path());
  std::sort(blocks.begin(), blocks.end());
  fs::copy_file(blocks[0], dir_ / "keep0");
  fs::copy_file(blocks[1], dir_ / "keep1");
  {
    auto db = open();
    ASSERT_TRUE(db->compact(2));
  }
  fs::rename(dir_ / "keep0", blocks[0]);
  fs::rename(dir_ / "keep1", blocks[1]);
  auto db = open();
  EXPECT_EQ(db->opened().blocks, 3u);
  EXPECT_EQ(db->query("a", 0, 1000).size(), 30u);
}

TEST_F(DbTest, RetentionByAgeAndBySize) {
  auto db = open({.retention_ms = 10'000, .chunk_samples = 10});
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(db->append("s", i * 1000, i));
    if (i % 10 == 9) {
      ASSERT_TRUE(db->flush());
    }
  }
  EXPECT_EQ(db->stats().blocks, 3u);
  ASSERT_TRUE(db->apply_retention(31'000));  // keep t >= 21 s
  auto s = db->query("s", 0, 100'000);
  ASSERT_FALSE(s.empty());
  EXPECT_GE(s.front().t_ms, 20'000);
  EXPECT_EQ(db->stats().blocks, 1u);

  auto sized = Db::open({.dir = dir_ / "sized", .max_bytes = 1, .chunk_samples = 10});
  ASSERT_TRUE(sized);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*sized)->append("s", i, i));
  ASSERT_TRUE((*sized)->flush());
  ASSERT_TRUE((*sized)->apply_retention(0));
  EXPECT_EQ((*sized)->stats().disk_bytes, 0u);
}

TEST_F(DbTest, AFullDiskStopsPersistenceAndLosesNothingInMemory) {
  fs::create_directories(dir_);
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "needs root to mount a small tmpfs: " << std::strerror(errno);
  auto db = open();
  std::ofstream(dir_ / "filler", std::ios::binary) << std::string(60 * 1024, 'x');
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(db->append("noise", i, i * 1.000001));
  auto f = db->flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kResourceExhausted) << f.error().message();
  EXPECT_EQ(db->query("noise", 0, 100000).size(), 5000u);
  EXPECT_EQ(db->stats().unflushed_samples, 5000u);
  fs::remove(dir_ / "filler");
  auto again = db->flush();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->samples, 5000u);
}

// With a head window, flushed chunks leave memory and are read back from the block files:
// queries, stats, a reopen, compaction and retention see the same samples as before.
TEST_F(DbTest, OlderChunksLeaveMemoryAndAreReadFromDisk) {
  const std::string a = "gpu_temperature_celsius{gpu=\"0\"}", b = "node_load1{}";
  auto expect_all = [&](const Db& db, int n, const char* when) {
    auto q = db.query(a, INT64_MIN, INT64_MAX);
    ASSERT_EQ(q.size(), static_cast<std::size_t>(n)) << when;
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(q[i].t_ms, i * 1000LL) << when;
      ASSERT_EQ(q[i].value, 40 + i % 17) << when;
    }
    auto part = db.query(a, 100'000, 150'500);
    ASSERT_EQ(part.size(), 51u) << when;
    EXPECT_EQ(part.front().t_ms, 100'000) << when;
    EXPECT_EQ(db.first_time(a), 0) << when;
  };
  {
    auto db = open({.chunk_samples = 20, .head_ms = 60'000});
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(db->append(a, i * 1000LL, 40 + i % 17));
      ASSERT_TRUE(db->append(b, i * 1000LL, i * 0.25));
      if (i % 100 == 99) {
        ASSERT_TRUE(db->flush());
      }
    }
    // Only about a minute per series (plus the open chunk) stays in memory.
    auto st = db->stats();
    EXPECT_EQ(st.samples, 2000u);
    EXPECT_LT(st.memory_bytes, 2 * 5 * 20 * 4u) << st.memory_bytes;
    expect_all(*db, 1000, "after flushes");
    ASSERT_TRUE(db->compact(4, 1 << 20));
    expect_all(*db, 1000, "after compaction");
    EXPECT_EQ(db->stats().samples, 2000u);
  }
  {
    auto db = open({.chunk_samples = 20, .head_ms = 60'000});
    EXPECT_EQ(db->opened().samples, 2000u);
    EXPECT_EQ(db->stats().samples, 2000u);
    EXPECT_LT(db->stats().memory_bytes, 2 * 5 * 20 * 4u);
    expect_all(*db, 1000, "after a reopen");
    // New samples go on after the reopened head.
    ASSERT_TRUE(db->append(a, 1'000'000, 1));
    EXPECT_EQ(db->query(a, 998'000, INT64_MAX).size(), 3u);
    ASSERT_TRUE(db->flush());
  }
  {
    // Retention drops the old block files and what they held.
    auto db = open({.retention_ms = 500'000, .chunk_samples = 20, .head_ms = 60'000});
    ASSERT_TRUE(db->apply_retention(1'000'000));
    auto q = db->query(a, INT64_MIN, INT64_MAX);
    ASSERT_FALSE(q.empty());
    EXPECT_GE(q.front().t_ms, 300'000);
    EXPECT_EQ(q.back().t_ms, 1'000'000);
  }
}

}  // namespace
}  // namespace aion::tsdb
