// Someone with the power to set the date (or NTP correcting a clock that ran ahead) steps the
// wall clock back an hour while aiond runs. Telemetry must keep collecting on its interval:
// its schedule runs on the monotonic clock, only the samples' timestamps on the wall clock.
// (The scheduler's SIGKILL after a stop's grace is covered in job_processes_test.)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/clock.h"
#include "aion/core/host_fs.h"
#include "aion/telemetry/service.h"
#include "support/temp_dir.h"

namespace aion::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(ClockStepAttackTest, AWallClockSteppedBackDoesNotStopTelemetryTicks) {
  const ::aion::testing::TempDir tmp("clockstep");
  const fs::path dir = tmp / "state";
  TelemetryOptions o;
  o.dir = dir;
  o.host_interval = std::chrono::hours(1);
  o.flush_interval = std::chrono::hours(1);
  o.anomaly_threshold = 0;
  SteppedClock clock;
  Telemetry t(o, HostFs("/"), {}, {}, clock);
  auto ticks = std::make_shared<std::atomic<int>>(0);
  t.add_source({"tick", 20ms, [ticks] {
                  ++*ticks;
                  return std::vector<MetricFamily>{};
                }});
  ASSERT_TRUE(t.start());
  auto until = std::chrono::steady_clock::now() + 5s;
  while (*ticks < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_GE(*ticks, 3) << "telemetry does not tick at all";
  clock.step_wall(-1h);
  const int before = *ticks;
  std::this_thread::sleep_for(500ms);
  const int after = *ticks;
  t.stop();
  fs::remove_all(dir);
  // 25 intervals went by; a loop timed on the wall clock waits an hour for the next one.
  EXPECT_GE(after - before, 10) << "collections stopped after the wall clock went back";
}

}  // namespace
}  // namespace aion::telemetry
