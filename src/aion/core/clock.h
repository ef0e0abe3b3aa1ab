// Clock: the one source of time in aion, so that tests can drive time by hand.
//
// monotonic() is for durations, timeouts and rates; wall() is for timestamps that users see
// and that are stored. SystemClock is thread-safe; ManualClock is safe to read from several
// threads while one thread advances it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace aion {

class Clock {
 public:
  using Monotonic = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  virtual Monotonic monotonic() const = 0;
  virtual Wall wall() const = 0;

  // The process-wide real clock.
  static Clock& system();
};

class SystemClock final : public Clock {
 public:
  Monotonic monotonic() const override { return std::chrono::steady_clock::now(); }
  Wall wall() const override { return std::chrono::system_clock::now(); }
};

// A clock for tests: starts at the given wall time and moves only when advanced. step_wall()
// moves the wall clock alone, as NTP or an operator setting the date does (the monotonic
// clock never steps).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Wall start = Wall(std::chrono::seconds(1'700'000'000)))
      : offset_ns_(0), wall_step_ns_(0), start_wall_(start) {}
  Monotonic monotonic() const override {
    return Monotonic(std::chrono::nanoseconds(offset_ns_.load()));
  }
  Wall wall() const override {
    return start_wall_ + std::chrono::duration_cast<Wall::duration>(
                             std::chrono::nanoseconds(offset_ns_.load() + wall_step_ns_.load()));
  }
  void advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }
  void step_wall(std::chrono::nanoseconds d) { wall_step_ns_ += d.count(); }

 private:
  std::atomic<std::int64_t> offset_ns_;
  std::atomic<std::int64_t> wall_step_ns_;
  Wall start_wall_;
};

// The real clocks with the wall clock moved by a settable step: for tests that run real
// threads and timers and need the wall clock to jump while they run. Thread-safe.
class SteppedClock final : public Clock {
 public:
  Monotonic monotonic() const override { return std::chrono::steady_clock::now(); }
  Wall wall() const override {
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<Wall::duration>(std::chrono::nanoseconds(step_ns_.load()));
  }
  void step_wall(std::chrono::nanoseconds d) { step_ns_ += d.count(); }

 private:
  std::atomic<std::int64_t> step_ns_{0};
};

// RFC 3339 UTC with milliseconds: "2026-11-25T06:44:41.123Z".
std::string format_rfc3339(Clock::Wall t);
// Milliseconds since the Unix epoch, the unit aion stores timestamps in.
std::int64_t to_unix_ms(Clock::Wall t);

}  // namespace aion
