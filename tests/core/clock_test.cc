#include "aion/core/clock.h"

#include <gtest/gtest.h>

namespace aion {
namespace {

TEST(ClockTest, ManualClockMovesOnlyWhenAdvanced) {
  ManualClock c;
  auto m0 = c.monotonic();
  auto w0 = c.wall();
  EXPECT_EQ(c.monotonic(), m0);
  c.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.monotonic() - m0, std::chrono::milliseconds(1500));
  EXPECT_EQ(to_unix_ms(c.wall()) - to_unix_ms(w0), 1500);
}

TEST(ClockTest, Rfc3339IsUtcWithMillis) {
  Clock::Wall t{std::chrono::milliseconds(1'764'052'681'123)};
  EXPECT_EQ(format_rfc3339(t), "2025-11-25T06:38:01.123Z");
}

}  // namespace
}  // namespace aion
