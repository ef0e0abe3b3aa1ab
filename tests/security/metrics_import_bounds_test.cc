// An operator token holder pushes metrics built to exhaust aiond: a million series, ten
// thousand labels on one sample, a megabyte label value. The import parser must refuse each
// quickly with an error naming the limit, before it builds the series.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "aion/telemetry/exposition.h"
#include "aion/telemetry/query.h"

namespace aion::telemetry {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST(MetricsImportAttackTest, AMillionSeriesInOneRequestIsRefusedQuickly) {
  std::string text;
  text.reserve(16u << 20);
  for (int i = 0; i < 1'000'000; ++i) text += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  ASSERT_LT(text.size(), ExpositionLimits{}.max_bytes) << "the body limit alone must not decide";
  auto t = Clock::now();
  auto r = parse_exposition(text);
  EXPECT_LT(seconds_since(t), 2.0);
  ASSERT_FALSE(r) << "accepted " << r->size() << " series";
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message().find("100000 samples"), std::string::npos) << r.error().message();
}

TEST(MetricsImportAttackTest, TenThousandLabelsOnOneSampleAreRefusedQuickly) {
  std::string text = "m{";
  for (int i = 0; i < 10'000; ++i) text += "l" + std::to_string(i) + "=\"v\",";
  text += "} 1\n";
  auto t = Clock::now();
  auto r = parse_exposition(text);
  EXPECT_LT(seconds_since(t), 1.0);
  ASSERT_FALSE(r) << "accepted a sample with " << r->front().labels.size() << " labels";
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message().find("64 labels"), std::string::npos) << r.error().message();
}

TEST(MetricsImportAttackTest, AOneMegabyteLabelValueIsRefused) {
  std::string text = "m{l=\"" + std::string(1'000'000, 'x') + "\"} 1\n";
  auto t = Clock::now();
  auto r = parse_exposition(text);
  EXPECT_LT(seconds_since(t), 1.0);
  ASSERT_FALSE(r) << "accepted a label value of " << r->front().labels[0].second.size() << " bytes";
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message().find("value of l is longer than the limit of 4096"),
            std::string::npos)
      << r.error().message();
}

TEST(MetricsImportAttackTest, AHugeMetricNameIsRefused) {
  auto r = parse_exposition(std::string(100'000, 'm') + " 1\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message().find("metric name is longer than the limit of 256"),
            std::string::npos)
      << r.error().message();
}

// A duration from a query string (?since=) that does not fit in int64 milliseconds is an
// error naming it, never a wrapped (negative or tiny) value that reaches back before 1970.
TEST(DurationAttackTest, AHugeDurationIsRefusedNotWrapped) {
  for (const char* huge : {"9999999999999999d", "999999999999w", "15250284453w",
                           "9223372036854776s", "99999999999999999999999999999ms"}) {
    auto r = parse_duration_ms(huge);
    ASSERT_FALSE(r) << huge << " parsed as " << *r;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << huge;
    EXPECT_NE(r.error().message().find(huge), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("too long"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(*parse_duration_ms("15250284452w"), 15250284452LL * 7 * 86'400'000);
  EXPECT_EQ(*parse_duration_ms("9223372036854775807ms"), 9223372036854775807LL);
}

}  // namespace
}  // namespace aion::telemetry
