// Selectors, durations, aggregation per step, and errors that point at the problem.
#include "aion/telemetry/query.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::telemetry {
namespace {

namespace fs = std::filesystem;

TEST(SelectorTest, ParsesNamesAndMatchers) {
  auto s = parse_selector(R"( aion_gpu_temperature_celsius{gpu="0", model!="x\"y"} )");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->name, "aion_gpu_temperature_celsius");
  ASSERT_EQ(s->matchers.size(), 2u);
  EXPECT_TRUE(s->matchers[0].equal);
  EXPECT_FALSE(s->matchers[1].equal);
  EXPECT_EQ(s->matchers[1].value, "x\"y");
  EXPECT_TRUE(s->matches("aion_gpu_temperature_celsius", {{"gpu", "0"}, {"model", "A100"}}));
  EXPECT_FALSE(s->matches("aion_gpu_temperature_celsius", {{"gpu", "1"}}));
  EXPECT_FALSE(s->matches("other", {{"gpu", "0"}}));
  auto any = parse_selector(R"({__name__="m"})");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->matches("m", {}));
  auto empty_braces = parse_selector("m{}");
  ASSERT_TRUE(empty_braces);
  EXPECT_TRUE(empty_braces->matchers.empty());
}

TEST(SelectorTest, SyntaxErrorsPointAtTheColumn) {
  struct Case {
    const char* q;
    const char* says;
    int column;
  };
  for (const Case& c :
       {Case{R"(gpu_util{gpu="0")", "expected , or }", 17},
        Case{R"(gpu_util{gpu=0})", "double-quoted value", 14},
        Case{R"(gpu_util{="0"})", "expected a label name", 10},
        Case{R"(gpu_util{gpu=~"0"})", "not supported", 13}, Case{"gpu util", "unexpected 'u'", 5},
        Case{"9gpu", "a metric name starts with", 1}, Case{"", "empty query", 1}}) {
    auto s = parse_selector(c.q);
    ASSERT_FALSE(s) << c.q;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    const std::string& m = s.error().message();
    EXPECT_NE(m.find(c.says), std::string::npos) << c.q << " -> " << m;
    EXPECT_NE(m.find("column " + std::to_string(c.column)), std::string::npos)
        << c.q << " -> " << m;
  }
}

TEST(SelectorTest, SeriesKeysRoundTrip) {
  auto p = parse_series_key(R"(m{a="x\"y\\z",b="2"})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, "m");
  ASSERT_EQ(p->second.size(), 2u);
  EXPECT_EQ(p->second[0].second, "x\"y\\z");
  EXPECT_EQ(series_key(p->first, p->second), R"(m{a="x\"y\\z",b="2"})");
}

TEST(DurationTest, UnitsAndErrors) {
  EXPECT_EQ(*parse_duration_ms("500ms"), 500);
  EXPECT_EQ(*parse_duration_ms("90s"), 90'000);
  EXPECT_EQ(*parse_duration_ms("15m"), 900'000);
  EXPECT_EQ(*parse_duration_ms("2d"), 172'800'000);
  EXPECT_FALSE(parse_duration_ms("1y"));
  EXPECT_FALSE(parse_duration_ms("h"));
  EXPECT_FALSE(parse_duration_ms("-5m"));
  EXPECT_FALSE(parse_aggregation("median"));
}

TEST(QueryTest, AggregatesPerStepAndSaysWhatDoesNotMatch) {
  const ::aion::testing::TempDir tmp("query");
  const fs::path dir = tmp / "db";
  auto db = tsdb::Db::open({.dir = dir});
  ASSERT_TRUE(db);
  // 0..119 s, one sample a second: value = second.
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE((*db)->append(R"(temp{gpu="0"})", i * 1000, i));
    ASSERT_TRUE((*db)->append(R"(temp{gpu="1"})", i * 1000, 100 + i));
  }
  auto sel = parse_selector(R"(temp{gpu="0"})");
  ASSERT_TRUE(sel);
  QueryRange r{0, 119'000, 60'000, Aggregation::kAvg};
  auto res = run_query(**db, *sel, r, "temp");
  ASSERT_TRUE(res) << res.error().message();
  ASSERT_EQ(res->size(), 1u);
  ASSERT_EQ((*res)[0].points.size(), 2u);
  EXPECT_DOUBLE_EQ((*res)[0].points[0].value, 29.5);
  EXPECT_DOUBLE_EQ((*res)[0].points[1].value, 89.5);
  r.agg = Aggregation::kP95;
  EXPECT_DOUBLE_EQ((*run_query(**db, *sel, r, "temp"))[0].points[0].value, 56);
  r.agg = Aggregation::kMax;
  EXPECT_DOUBLE_EQ((*run_query(**db, *sel, r, "temp"))[0].points[1].value, 119);
  r = {10'000, 12'000, 0, Aggregation::kRaw};
  auto raw = run_query(**db, *parse_selector("temp"), r, "temp");
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 2u);
  EXPECT_EQ((*raw)[1].points.size(), 3u);

  auto none = run_query(**db, *parse_selector(R"(temp{gpu="7"})"), r, R"(temp{gpu="7"})");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find("none of its series has those labels"), std::string::npos);
  auto unknown = run_query(**db, *parse_selector("tmp"), r, "tmp");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("no metric named 'tmp'"), std::string::npos);
}

TEST(QueryTest, ReadsRollupsWhereTheRawSamplesAreGone) {
  const ::aion::testing::TempDir tmp("query-rollup");
  const fs::path dir = tmp / "db";
  constexpr std::int64_t kHour = 3'600'000;
  auto db = tsdb::Db::open({.dir = dir / "raw", .retention_ms = 2 * kHour});
  auto m = tsdb::Rollup::open({.dir = dir / "1m", .retention_ms = 4 * kHour}, 60'000);
  auto h = tsdb::Rollup::open({.dir = dir / "1h"}, kHour);
  ASSERT_TRUE(db && m && h);
  // Six hours, one sample every 5 s: value = minute of the day modulo 50, so each hour's and
  // each minute's aggregates differ.
  const std::string key = R"(temp{gpu="0"})";
  std::vector<tsdb::Sample> all;
  for (std::int64_t t = 0; t < 6 * kHour; t += 5'000) {
    const double v = static_cast<double>((t / 60'000) % 50) + static_cast<double>(t % 60'000) / 1e5;
    ASSERT_TRUE((*db)->append(key, t, v));
    all.push_back({t, v});
  }
  const std::int64_t now = 6 * kHour;
  (*m)->update(**db, now, 0);
  (*h)->update(**m, now, 0);
  // The 1 min rollup keeps only the last four hours; the raw samples the last two.
  ASSERT_TRUE((*m)->store().apply_retention(now));
  ASSERT_TRUE((*db)->apply_retention(now));
  ASSERT_EQ(*(*db)->first_time(key), 4 * kHour);

  Stores stores{db->get(), {m->get(), h->get()}};
  auto exact = [&](std::int64_t from, std::int64_t to, Aggregation agg) {
    double sum = 0, n = 0, mn = 1e300, mx = -1e300;
    for (const auto& s : all) {
      if (s.t_ms < from || s.t_ms >= to) continue;
      sum += s.value;
      ++n;
      mn = std::min(mn, s.value);
      mx = std::max(mx, s.value);
    }
    return agg == Aggregation::kAvg ? sum / n : agg == Aggregation::kMin ? mn : mx;
  };
  // Hour steps over all six hours: hours 0-1 from the 1 h rollup, 2-3 from the 1 min one,
  // 4-5 from the raw samples; avg, min and max are exact everywhere.
  for (Aggregation agg : {Aggregation::kAvg, Aggregation::kMin, Aggregation::kMax}) {
    QueryRange r{0, now - 1, kHour, agg};
    auto res = run_query(stores, *parse_selector("temp"), r, "temp");
    ASSERT_TRUE(res) << res.error().message();
    ASSERT_EQ((*res)[0].points.size(), 6u);
    for (int i = 0; i < 6; ++i) {
      EXPECT_NEAR((*res)[0].points[i].value, exact(i * kHour, (i + 1) * kHour, agg), 1e-9)
          << "hour " << i;
    }
  }
  // Raw points: bucket averages at bucket starts where the samples are gone.
  QueryRange raw{0, now, 0, Aggregation::kRaw};
  auto pts = (*run_query(stores, *parse_selector("temp"), raw, "temp"))[0].points;
  ASSERT_EQ(pts.size(), 2u + 120u + 1440u);
  EXPECT_EQ(pts[1].t_ms, kHour);
  EXPECT_EQ(pts[2].t_ms, 2 * kHour);
  EXPECT_EQ(pts[3].t_ms - pts[2].t_ms, 60'000);
  EXPECT_EQ(pts[122].t_ms, 4 * kHour);
  EXPECT_EQ(pts[123].t_ms - pts[122].t_ms, 5'000);
}

}  // namespace
}  // namespace aion::telemetry
