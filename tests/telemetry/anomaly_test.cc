// The streaming detector: bounded scores, spikes and level shifts found and explained,
// fixed memory, and no NaN out whatever comes in.
#include "aion/telemetry/anomaly.h"

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

#include <gtest/gtest.h>

namespace aion::telemetry {
namespace {

constexpr std::int64_t kStepMs = 300'000;  // 5 min, like most NAB series

DetectorOptions opts() {
  return {.learn_rows = 300};
}

TEST(AnomalyTest, ScoresStayInUnitInterval) {
  Detector d(opts());
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 1);
  for (int i = 0; i < 20'000; ++i) {
    double v = 50 + 10 * std::sin(i / 40.0) + noise(rng) + (i % 997 == 0 ? 40 : 0);
    Score s = d.update(i * kStepMs, v);
    ASSERT_GE(s.score, 0.0) << "row " << i;
    ASSERT_LE(s.score, 1.0) << "row " << i;
  }
}

TEST(AnomalyTest, SpikeOnAFlatSeriesIsFlaggedAndExplained) {
  Detector d(opts());
  std::mt19937 rng(2);
  std::normal_distribution<double> noise(0, 0.5);
  double others = 0;
  Score spike;
  for (int i = 0; i < 2000; ++i) {
    const bool at_spike = i == 1500;
    Score s = d.update(i * kStepMs, 20 + noise(rng) + (at_spike ? 15 : 0));
    if (at_spike) {
      spike = s;
    } else if (i < 1500) {
      others = std::max(others, s.score);
    }
  }
  // Scores are L / (L + max_log_p) of L = -log10(tail): 0.7 is a tail below 10^-3.5.
  EXPECT_GE(spike.score, 0.7);
  EXPECT_GT(spike.score, others + 0.1) << "the spike must stand out from the noise";
  const std::string why = spike.explain();
  EXPECT_NE(why.find("above"), std::string::npos) << why;
  EXPECT_NE(why.find("35"), std::string::npos) << "names the value: " << why;
}

TEST(AnomalyTest, LevelShiftIsDetectedPromptly) {
  Detector d(opts());
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 1);
  double before = 0, after = 0;
  for (int i = 0; i < 3000; ++i) {
    const double level = i < 2000 ? 10 : 16;
    Score s = d.update(i * kStepMs, level + noise(rng));
    if (i < 2000) before = std::max(before, s.score);
    if (i >= 2000 && i < 2010) after = std::max(after, s.score);
  }
  EXPECT_GE(after, 0.6);
  EXPECT_GT(after, before);
}

TEST(AnomalyTest, NoisySeriesGoingFlatIsFlaggedAsASpreadChange) {
  // The level stays where it was: only the spread view can see that the wiggle stopped.
  Detector d(opts());
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 1);
  double after = 0;
  AnomalyKind kind = AnomalyKind::kNone;
  for (int i = 0; i < 3000; ++i) {
    Score s = d.update(i * kStepMs, 30 + (i < 2500 ? noise(rng) : 0.0));
    if (i >= 2500 && s.score > after) {
      after = s.score;
      kind = s.kind;
    }
  }
  // The wiggle fades over ~spread_rows samples, so the rarity histogram partly gets used to it:
  // it is seen, but not as loudly as a spike.
  EXPECT_GT(after, 0.6);
  EXPECT_EQ(kind, AnomalyKind::kSpread);
  Detector off({.learn_rows = 300, .spread_rows = 0});
  rng.seed(5);
  double off_after = 0;
  for (int i = 0; i < 3000; ++i) {
    Score s = off.update(i * kStepMs, 30 + (i < 2500 ? noise(rng) : 0.0));
    if (i >= 2500) off_after = std::max(off_after, s.score);
  }
  EXPECT_LT(off_after + 0.1, after) << "without the spread view the flat stretch looks normal";
}

// A series that, after a quiet start, climbs in ever larger steps: every step is rarer than the
// one before, so without the hold each would be reported again.
int reports_on_a_growing_staircase(DetectorOptions o) {
  Detector d(o);
  std::mt19937 rng(6);
  std::normal_distribution<double> noise(0, 1);
  int reports = 0;
  for (int i = 0; i < 1200; ++i) {
    const int stair = i < 1000 ? 0 : (i - 1000) / 20 + 1;
    Score s = d.update(i * kStepMs, 10 + noise(rng) + 4.0 * stair * stair);
    if (i >= 1000 && s.score >= 0.62) ++reports;
  }
  return reports;
}

TEST(AnomalyTest, AStrongReportHoldsBackTheNextOnes) {
  DetectorOptions held = opts();
  held.hold_share = 1;  // the 300 learning rows: longer than the 200-row staircase
  held.hold_level = 0.62;
  EXPECT_EQ(reports_on_a_growing_staircase(held), 1);
  DetectorOptions not_held = held;
  not_held.hold_share = 0;
  EXPECT_GT(reports_on_a_growing_staircase(not_held), 2) << "the staircase must be a real test";
}

TEST(AnomalyTest, ANewPatternInTheUsualRangeIsFlaggedAsAShape) {
  // A triangle wave turns into a zigzag in the same range with steps of the same size: no
  // level, step or hour of the day is unusual, only the shape of the last few samples.
  constexpr double kTriangle[] = {0, 1, 2, 3, 2, 1};
  constexpr double kZigzag[] = {1, 2, 1, 2, 1, 2};
  Detector d(opts());
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 0.05);
  double before = 0, after = 0;
  AnomalyKind kind = AnomalyKind::kNone;
  for (int i = 0; i < 2012; ++i) {
    const double v = (i < 2000 ? kTriangle[i % 6] : kZigzag[i % 6]) + noise(rng);
    Score s = d.update(i * kStepMs, v);
    if (i < 2000) before = std::max(before, s.score);
    if (i >= 2000 && s.score > after) {
      after = s.score;
      kind = s.kind;
    }
  }
  EXPECT_GT(after, before + 0.1);
  EXPECT_EQ(kind, AnomalyKind::kShape);
}

// A noisy series whose 3 o'clock hour is flat for 12 days and then carries a tenth of the
// usual noise: ordinary for the series, but the flat hour's own slot learned a deviation of
// almost zero. Returns the highest score of that hour's samples in the last 3 days.
double score_of_a_quiet_hour_turning_slightly_noisy(DetectorOptions o) {
  Detector d(o);
  std::mt19937 rng(8);
  std::normal_distribution<double> noise(0, 1);
  constexpr int kRowsPerDay = 288;
  double after = 0;
  for (int i = 0; i < 15 * kRowsPerDay; ++i) {
    const bool quiet_hour = (i % kRowsPerDay) / 12 == 3;
    const bool late = i >= 12 * kRowsPerDay;
    const double e = noise(rng);
    const double v = quiet_hour ? (late ? 0.1 * e : 0.0) : e;
    const Score s = d.update(i * kStepMs, v);
    if (late && quiet_hour) after = std::max(after, s.score);
  }
  return after;
}

TEST(AnomalyTest, ASlotsTinyDeviationDoesNotMakeOrdinaryNoiseRare) {
  EXPECT_LT(score_of_a_quiet_hour_turning_slightly_noisy(opts()), 0.5);
  DetectorOptions slots_alone = opts();
  slots_alone.season_dev_floor = 0;
  EXPECT_GT(score_of_a_quiet_hour_turning_slightly_noisy(slots_alone), 0.6)
      << "without the floor the flat slot must call the noise rare, or the test tests nothing";
}

// A GPU utilisation ratio that sits still at 0.40 with a thousandth of jitter, then moves by
// `step`: the highest score over the last hundred samples, each scored for itself (no holds).
double score_of_a_still_ratio_moving(DetectorOptions o, double step) {
  o.refractory_rows = 1;
  o.hold_share = 0;
  Detector d(o);
  std::mt19937 rng(41);
  std::uniform_int_distribution<int> jitter(-1, 1);
  double top = 0;
  for (int i = 0; i < 3000; ++i) {
    const double v = 0.40 + 0.001 * jitter(rng) + (i >= 2900 ? step : 0.0);
    const Score s = d.update(i * kStepMs, v);
    if (i >= 2900) top = std::max(top, s.score);
  }
  return top;
}

TEST(AnomalyTest, AKnownValueRangeKeepsJitterQuietAndStillSeesMoves) {
  DetectorOptions ratio = opts();
  ratio.value_range = 1;  // a ratio: deviations count as at least 0.02 (range_share)
  EXPECT_LT(score_of_a_still_ratio_moving(ratio, 0), 0.3) << "the jitter alone";
  EXPECT_GT(score_of_a_still_ratio_moving(opts(), 0), 0.6)
      << "without the range the jitter must look rare at times, or the test tests nothing";
  EXPECT_GT(score_of_a_still_ratio_moving(ratio, 0.01), 0.7) << "a first move is still rare";
  EXPECT_GT(score_of_a_still_ratio_moving(ratio, 0.3), 0.8);
}

TEST(AnomalyTest, StateIsFixedSizeWhateverTheHistory) {
  // No heap: the whole state is the object itself, so it cannot grow.
  static_assert(std::is_trivially_copyable_v<Detector>);
  Detector d(opts());
  const Detector fresh = d;
  std::mt19937 rng(4);
  std::normal_distribution<double> noise(0, 1);
  for (int i = 0; i < 1'000'000; ++i) {
    Score s = d.update(i * 1000LL, noise(rng));
    ASSERT_TRUE(std::isfinite(s.score));
  }
  EXPECT_EQ(sizeof(d), sizeof(fresh));
  EXPECT_EQ(d.samples(), 1'000'000u);
  EXPECT_LT(sizeof(Detector), 8192u);
}

TEST(AnomalyTest, NonFiniteInputAndConstantSeriesGiveFiniteScores) {
  Detector d(opts());
  const double bad[] = {std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  for (int i = 0; i < 5000; ++i) {
    Score s = d.update(i * kStepMs, i % 50 == 7 ? bad[i % 3] : 42.0);
    ASSERT_TRUE(std::isfinite(s.score)) << "row " << i;
    EXPECT_EQ(s.score, 0.0) << "a constant series has nothing to report, row " << i;
  }
  Detector zero(opts());
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(zero.update(i * kStepMs, 0.0).score, 0.0);
}

TEST(AnomalyTest, LearningRowsScoreZero) {
  Detector d({.learn_rows = 100});
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(d.update(i * kStepMs, i % 2 ? 1e9 : -1e9).score, 0.0);
  }
}

}  // namespace
}  // namespace aion::telemetry
