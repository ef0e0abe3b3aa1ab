// Rollups: complete buckets hold the exact min/max/sum/count of their samples, an incomplete
// bucket waits for a later sample or for its grace to pass, each bucket is built once, an
// hourly rollup built from the minutely one equals one built from the raw samples, and a
// reopened rollup resumes where its store ends.
#include "aion/tsdb/rollup.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

class RollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto raw = Db::open({.dir = dir_ / "raw"});
    ASSERT_TRUE(raw);
    raw_ = std::move(*raw);
  }
  std::unique_ptr<Rollup> open(const std::string& name, std::int64_t width) {
    auto r = Rollup::open({.dir = dir_ / name}, width);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? std::move(*r) : nullptr;
  }
  ::aion::testing::TempDir tmp_{"rollup"};
  fs::path dir_ = tmp_.path();
  std::unique_ptr<Db> raw_;
};

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kHour = 3'600'000;

TEST_F(RollupTest, CompleteBucketsHoldExactAggregatesAndAreBuiltOnce) {
  const std::string key = "gpu_temperature_celsius{gpu=\"0\"}";
  // 10 s samples over 3.5 minutes, values 0..20.
  for (int i = 0; i < 21; ++i) ASSERT_TRUE(raw_->append(key, i * 10'000, i));
  auto r = open("1m", kMin);
  // Minutes 0, 1 and 2 are complete (a later sample exists); minute 3 (180 s and 200 s) waits.
  EXPECT_EQ(r->update(*raw_, 200'000, 10'000), 3u);
  auto b = r->query(key, 0, INT64_MAX);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0], (Aggregate{0, 0, 5, 15, 6}));
  EXPECT_EQ(b[1], (Aggregate{60'000, 6, 11, 51, 6}));
  EXPECT_EQ(b[2], (Aggregate{120'000, 12, 17, 87, 6}));
  EXPECT_DOUBLE_EQ(b[1].avg(), 8.5);
  EXPECT_EQ(r->covered_until(key), 180'000);
  // Nothing new: nothing built twice.
  EXPECT_EQ(r->update(*raw_, 200'000, 10'000), 0u);
  // The series stops; once the grace after minute 3 has passed, it is built from what came.
  EXPECT_EQ(r->update(*raw_, 245'000, 10'000), 0u);
  EXPECT_EQ(r->update(*raw_, 250'000, 10'000), 1u);
  b = r->query(key, 180'000, 180'000);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0], (Aggregate{180'000, 18, 20, 57, 3}));
  EXPECT_EQ(r->series(), std::vector<std::string>{key});
}

TEST_F(RollupTest, HourlyFromMinutelyEqualsHourlyFromRaw) {
  const std::string key = "node_load1{}";
  for (std::int64_t t = 0; t < 3 * kHour; t += 7'000) {
    ASSERT_TRUE(raw_->append(key, t, static_cast<double>((t / 7'000) % 97) * 0.25 - 3));
  }
  auto m = open("1m", kMin);
  auto h = open("1h", kHour);
  auto h_raw = open("1h-raw", kHour);
  const std::int64_t now = 3 * kHour + kMin;
  m->update(*raw_, now, 1'000);
  EXPECT_EQ(h->update(*m, now, 1'000), 3u);
  EXPECT_EQ(h_raw->update(*raw_, now, 1'000), 3u);
  auto a = h->query(key, 0, INT64_MAX);
  auto b = h_raw->query(key, 0, INT64_MAX);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a, b);
  // Spot check against the raw samples.
  double mn = 1e9, mx = -1e9, sum = 0, n = 0;
  for (const auto& s : raw_->query(key, kHour, 2 * kHour - 1)) {
    mn = std::min(mn, s.value);
    mx = std::max(mx, s.value);
    sum += s.value;
    ++n;
  }
  EXPECT_EQ(a[1], (Aggregate{kHour, mn, mx, sum, n}));
}

TEST_F(RollupTest, AReopenedRollupResumesAtItsNewestFlushedBucket) {
  const std::string key = "x{}";
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(raw_->append(key, i * 1'000, i % 13));
  {
    auto r = open("1m", kMin);
    EXPECT_EQ(r->update(*raw_, 299'000, 0), 4u);  // minutes 0-3; minute 4 waits
    ASSERT_TRUE(r->store().flush());
  }
  for (int i = 300; i < 600; ++i) ASSERT_TRUE(raw_->append(key, i * 1'000, i % 13));
  auto r = open("1m", kMin);
  EXPECT_EQ(r->covered_until(key), 240'000);
  EXPECT_EQ(r->update(*raw_, 700'000, 0), 6u);  // minutes 4-9
  EXPECT_EQ(r->query(key, 0, INT64_MAX).size(), 10u);
}

TEST_F(RollupTest, NaNSamplesAreLeftOutOfTheirBucket) {
  const std::string key = "y{}";
  ASSERT_TRUE(raw_->append(key, 1'000, 4));
  ASSERT_TRUE(raw_->append(key, 2'000, std::nan("")));
  ASSERT_TRUE(raw_->append(key, 3'000, 6));
  ASSERT_TRUE(raw_->append(key, 61'000, 1));
  auto r = open("1m", kMin);
  EXPECT_EQ(r->update(*raw_, 61'000, 0), 1u);
  EXPECT_EQ(r->query(key, 0, 0), (std::vector<Aggregate>{{0, 4, 6, 10, 2}}));
}

}  // namespace
}  // namespace aion::tsdb
