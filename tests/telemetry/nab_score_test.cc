// The NAB scoring rules on hand-made files whose expected scores are worked out by hand:
// one file of 100 rows one second apart, probation 15 rows, one window over rows 40..49.
#include "aion/telemetry/nab_score.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::telemetry::nab {
namespace {

const Profile kStandard{.name = "standard", .tp_weight = 1, .fp_weight = 0.11, .fn_weight = 1};

// 100 rows at 1 s; window rows 40..49 (10 rows); `hits` rows score 1, the rest 0.
ScoredFile file_with(std::set<int> hits, Window w = {40'000, 49'000}) {
  ScoredFile f{.name = "cat/f.csv"};
  for (int i = 0; i < 100; ++i) {
    f.t_ms.push_back(i * 1000);
    f.scores.push_back(hits.contains(i) ? 1.0 : 0.0);
  }
  f.windows = {w};
  return f;
}

double raw(const ScoredFile& f) {
  return score_file(f, kStandard, 0.5).raw;
}

TEST(NabScoreTest, ProbationIsFifteenPercentCappedAt750) {
  EXPECT_EQ(probationary_rows(100), 15u);
  EXPECT_EQ(probationary_rows(4032), 604u);
  EXPECT_EQ(probationary_rows(22695), 750u);
}

TEST(NabScoreTest, ScaledSigmoidMatchesItsDefinition) {
  EXPECT_NEAR(scaled_sigmoid(-1), 0.986614, 1e-6);
  EXPECT_DOUBLE_EQ(scaled_sigmoid(0), 0.0);
  EXPECT_DOUBLE_EQ(scaled_sigmoid(3.5), -1.0);
}

TEST(NabScoreTest, NullDetectorScoresZeroAndPerfectScoresHundred) {
  std::vector<ScoredFile> null{file_with({})}, perfect{file_with({40})};
  const double n = null_raw(null, kStandard), p = perfect_raw(null, kStandard);
  EXPECT_DOUBLE_EQ(n, -1.0);
  EXPECT_DOUBLE_EQ(p, 1.0);
  EXPECT_DOUBLE_EQ(normalized_score(score_corpus(null, kStandard, 0.5).raw, n, p), 0.0);
  EXPECT_DOUBLE_EQ(normalized_score(score_corpus(perfect, kStandard, 0.5).raw, n, p), 100.0);
}

TEST(NabScoreTest, DetectionAtWindowStartScoresExactlyTpWeight) {
  EXPECT_DOUBLE_EQ(raw(file_with({40})), 1.0);
  Profile heavy = kStandard;
  heavy.tp_weight = 2.5;
  EXPECT_DOUBLE_EQ(score_file(file_with({40}), heavy, 0.5).raw, 2.5);
}

TEST(NabScoreTest, LaterDetectionsInTheWindowScoreLessBySigmoid) {
  // Row 45: y = -1 + 5/10 = -0.5, sigma = 0.848284, / sigma(-1) = 0.859798.
  EXPECT_NEAR(raw(file_with({45})), 0.859798, 1e-5);
  // Last row 49: y = -0.1, sigma = 0.244919, / 0.986614 = 0.248242.
  EXPECT_NEAR(raw(file_with({49})), 0.248242, 1e-5);
}

TEST(NabScoreTest, FalsePositiveRightAfterWindowCostsLittle) {
  // Row 50 is one row after the end: y = 1/9, sigma = -0.270845, * 0.11; and the miss costs 1.
  auto t = score_file(file_with({50}), kStandard, 0.5);
  EXPECT_NEAR(t.raw, -1.0 - 0.11 * 0.270845, 1e-5);
  EXPECT_EQ(t.fp, 1);
  EXPECT_EQ(t.fn, 1);
}

TEST(NabScoreTest, FalsePositiveFarAfterOrBeforeAnyWindowCostsFullFpWeight) {
  EXPECT_NEAR(raw(file_with({90})), -1.11, 1e-12);  // y = 41/9 > 3
  EXPECT_NEAR(raw(file_with({20})), -1.11, 1e-12);  // no preceding window
}

TEST(NabScoreTest, ProbationRowsAreIgnored) {
  auto t = score_file(file_with({3, 10, 14}), kStandard, 0.5);
  EXPECT_DOUBLE_EQ(t.raw, -1.0);
  EXPECT_EQ(t.fp, 0);
  // Row 15 is the first scored row.
  EXPECT_EQ(score_file(file_with({15}), kStandard, 0.5).fp, 1);
}

TEST(NabScoreTest, OnlyTheFirstDetectionInAWindowCounts) {
  // Row 44: y = -0.6, sigma = 0.905148, / 0.986614 = 0.917428; row 48 adds nothing.
  auto t = score_file(file_with({44, 48}), kStandard, 0.5);
  EXPECT_NEAR(t.raw, 0.917428, 1e-5);
  EXPECT_EQ(t.tp, 1);
  EXPECT_EQ(t.fp, 0);
}

TEST(NabScoreTest, LowFnProfileDoublesTheMissCost) {
  Profile low_fn{.name = "reward_low_FN_rate", .tp_weight = 1, .fp_weight = 0.11, .fn_weight = 2};
  EXPECT_DOUBLE_EQ(score_file(file_with({}), low_fn, 0.5).raw, -2.0);
}

// Two files: A detects its window at row 41 with 0.9 and has a 0.7 false alarm before it;
// B has a 0.8 false alarm far after its window and detects it at row 62 only with 0.6.
std::vector<ScoredFile> small_corpus() {
  ScoredFile a = file_with({});
  a.scores[41] = 0.9;
  a.scores[20] = 0.7;
  ScoredFile b = file_with({}, {60'000, 69'000});
  b.scores[62] = 0.6;
  b.scores[90] = 0.8;
  return {a, b};
}

TEST(NabScoreTest, ThresholdOptimizationPicksTheBestThreshold) {
  auto corpus = small_corpus();
  auto best = optimize_threshold(corpus, kStandard);
  // At 0.6 both windows count, worth two false alarms (0.7 before a window, 0.8 far after).
  EXPECT_DOUBLE_EQ(best.threshold, 0.6);
  EXPECT_EQ(best.tally.tp, 2);
  EXPECT_EQ(best.tally.fp, 2);
  EXPECT_EQ(best.tally.fn, 0);
  EXPECT_NEAR(best.tally.raw, score_corpus(corpus, kStandard, 0.6).raw, 1e-12);
  // With a false alarm cost of 5 the second window is not worth its alarms: 0.9 wins.
  Profile costly = kStandard;
  costly.fp_weight = 5;
  EXPECT_DOUBLE_EQ(optimize_threshold(corpus, costly).threshold, 0.9);
}

TEST(NabScoreTest, ThresholdSweepAgreesWithBruteForce) {
  std::vector<ScoredFile> corpus;
  std::uint32_t seed = 7;
  for (int f = 0; f < 4; ++f) {
    ScoredFile file = file_with({}, {30'000 + f * 10'000, 45'000 + f * 10'000});
    for (auto& s : file.scores) {
      seed = seed * 1664525u + 1013904223u;
      s = static_cast<double>(seed >> 8) / static_cast<double>(1u << 24);
      s = std::round(s * 50) / 50;  // ties between rows
    }
    corpus.push_back(file);
  }
  for (const Profile& p : {kStandard, Profile{.fp_weight = 0.22}, Profile{.fn_weight = 2}}) {
    auto best = optimize_threshold(corpus, p);
    double brute = score_corpus(corpus, p, 2.0).raw;  // nothing detected
    for (const auto& f : corpus) {
      for (double s : f.scores) brute = std::max(brute, score_corpus(corpus, p, s).raw);
    }
    EXPECT_NEAR(best.tally.raw, brute, 1e-9);
    EXPECT_NEAR(score_corpus(corpus, p, best.threshold).raw, best.tally.raw, 1e-9);
  }
}

TEST(NabScoreTest, RowLabelsMarkWindowRows) {
  auto f = file_with({});
  auto labels = row_labels(f.t_ms, f.windows);
  EXPECT_EQ(labels[39], 0);
  EXPECT_EQ(labels[40], 1);
  EXPECT_EQ(labels[49], 1);
  EXPECT_EQ(labels[50], 0);
}

TEST(NabScoreTest, ParsesTimestampsWithAndWithoutFraction) {
  EXPECT_EQ(parse_timestamp("1970-01-01 00:01:00").value(), 60'000);
  EXPECT_EQ(parse_timestamp("2014-04-10 07:15:00.000000").value(),
            parse_timestamp("2014-04-10 07:15:00").value());
  EXPECT_FALSE(parse_timestamp("yesterday"));
  EXPECT_FALSE(parse_timestamp("2014-04-10 07:15:00xyz"));
}

class NabFilesTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  ::aion::testing::TempDir tmp_{"nab-score"};
  std::filesystem::path dir_ = tmp_.path();
};

TEST_F(NabFilesTest, LoadsWindowsAndProfiles) {
  auto w = load_windows(write("w.json", R"({"a/x.csv": [["2014-01-01 00:00:10.000000",
      "2014-01-01 00:00:20.000000"]], "a/y.csv": []})"));
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(w->at("a/x.csv").size(), 1u);
  EXPECT_EQ(w->at("a/x.csv")[0].end_ms - w->at("a/x.csv")[0].start_ms, 10'000);
  EXPECT_TRUE(w->at("a/y.csv").empty());
  auto p = load_profiles(write("p.json", R"({"standard": {"CostMatrix": {"tpWeight": 1.0,
      "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}})"));
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].name, "standard");
  EXPECT_DOUBLE_EQ((*p)[0].fp_weight, 0.11);
}

TEST_F(NabFilesTest, MalformedFilesAreErrorsThatNameTheProblem) {
  auto w = load_windows(write("bad.json", R"({"a/x.csv": [["2014-01-01 00:00:10"]]})"));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), ErrorCode::kParse);
  EXPECT_NE(w.error().message().find("a/x.csv"), std::string::npos);
  auto p = load_profiles(write("p.json", R"({"standard": {"CostMatrix": {"tpWeight": 1}}})"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("fpWeight"), std::string::npos);
  EXPECT_EQ(load_windows((dir_ / "missing.json").string()).error().code(), ErrorCode::kNotFound);
  auto s = load_series(write("s.csv", "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 x,2\n"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("s.csv:3"), std::string::npos);
}

TEST_F(NabFilesTest, LoadsASeries) {
  auto s = load_series(
      write("s.csv", "timestamp,value\n2014-01-01 00:00:00,1.5\n2014-01-01 00:05:00,-2\n"));
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->values.size(), 2u);
  EXPECT_EQ(s->t_ms[1] - s->t_ms[0], 300'000);
  EXPECT_DOUBLE_EQ(s->values[1], -2);
}

}  // namespace
}  // namespace aion::telemetry::nab
