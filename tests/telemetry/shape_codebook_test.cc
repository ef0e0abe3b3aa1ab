// The shape codebook: a repeated pattern stops being novel, a new one is far from every code,
// a flat series is never novel, and the codebook never outgrows its fixed size.
#include "aion/telemetry/shape_codebook.h"

#include <cmath>
#include <random>
#include <type_traits>

#include <gtest/gtest.h>

namespace aion::telemetry {
namespace {

constexpr double kTriangle[] = {0, 1, 2, 3, 2, 1};
constexpr double kSquare[] = {0, 0, 0, 3, 3, 3};

TEST(ShapeCodebookTest, RepeatedPatternStopsBeingNovelAndANewOneStandsOut) {
  ShapeCodebook book({.len = 6});
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 0.05);
  double late = 0;
  for (int i = 0; i < 3000; ++i) {
    const double d = book.observe(kTriangle[i % 6] + noise(rng), 1.0);
    if (i >= 2000) late = std::max(late, d);
  }
  EXPECT_LT(late, 0.3) << "the triangle has become a known shape";
  double fresh = 0;
  for (int i = 0; i < 6; ++i) fresh = std::max(fresh, book.observe(kSquare[i], 1.0));
  EXPECT_GT(fresh, 3 * late + 0.3) << "a square wave in the same range is a new shape";
}

TEST(ShapeCodebookTest, FlatSeriesIsNeverNovel) {
  ShapeCodebook book({.len = 4});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(book.observe(7.0, 1.0), 0.0) << "row " << i;
  EXPECT_LE(book.codes_in_use(), 1u);
}

TEST(ShapeCodebookTest, CodesStayBoundedWhateverTheInput) {
  static_assert(std::is_trivially_copyable_v<ShapeCodebook>);
  ShapeCodebook book({.len = 8, .codes = 5});
  std::mt19937 rng(2);
  std::cauchy_distribution<double> wild(0, 10);
  for (int i = 0; i < 200'000; ++i) {
    ASSERT_TRUE(std::isfinite(book.observe(wild(rng), 1.0)));
    ASSERT_LE(book.codes_in_use(), 5u);
  }
  EXPECT_EQ(book.codes_in_use(), 5u) << "wild input must have filled the codebook";
}

TEST(ShapeCodebookTest, OffWhenShorterThanTwoSamples) {
  ShapeCodebook book({.len = 1});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(book.observe(i % 2 ? 100.0 : -100.0, 1.0), 0.0);
}

}  // namespace
}  // namespace aion::telemetry
