// Telemetry end to end in one process: a source's samples land in the store, a sudden change
// becomes one readable `anomaly` event (not one per sample), counters are judged on their
// rate, and stopping flushes what was collected.
#include "aion/telemetry/service.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/temp_dir.h"

namespace aion::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Captured {
  std::string kind, severity, message, data;
};

TEST(TelemetryServiceTest, AStepInASeriesBecomesOneExplainedAnomalyEvent) {
  const ::aion::testing::TempDir tmp("telemetry");
  const fs::path dir = tmp / "state";
  std::mutex mu;
  std::vector<Captured> events;
  TelemetryOptions o;
  o.dir = dir;
  o.host_interval = std::chrono::hours(1);
  o.flush_interval = std::chrono::hours(1);
  Telemetry t(o, HostFs("/"), {},
              [&](const std::string& kind, const std::string& severity, const std::string& msg,
                  const std::string& data) {
                std::lock_guard lock(mu);
                events.push_back({kind, severity, msg, data});
              });
  // A steady temperature with a little noise that jumps by 40 degrees after 700 samples, and
  // a counter (stored, judged on its rate).
  auto n = std::make_shared<int>(0);
  auto rng = std::make_shared<std::mt19937_64>(5);
  t.add_source({"test", 2ms, [n, rng] {
                  std::normal_distribution<double> noise(0, 1);
                  const int i = (*n)++;
                  double temp = 50 + noise(*rng) + (i >= 700 ? 40 : 0);
                  std::vector<MetricFamily> out;
                  out.push_back({"test_temperature_celsius", "t", MetricType::kGauge, {}});
                  out.back().add({{"gpu", "3"}}, std::round(temp));
                  out.push_back({"test_requests_total", "c", MetricType::kCounter, {}});
                  out.back().add({}, 10.0 * i);
                  return out;
                }});
  ASSERT_TRUE(t.start());
  auto until = std::chrono::steady_clock::now() + 30s;
  while (*n < 1000 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  t.stop();
  ASSERT_GE(*n, 1000) << "the source ran too slowly";

  std::vector<Captured> anomalies;
  for (const auto& e : events) {
    // Only the temperature: the counter's rate depends on how evenly this machine runs the
    // loop, which a loaded test machine does not promise.
    if (e.kind == "anomaly" && e.message.find("test_temperature") != std::string::npos)
      anomalies.push_back(e);
  }
  ASSERT_EQ(anomalies.size(), 1u) << (anomalies.empty() ? "" : anomalies.back().message);
  const Captured& a = anomalies[0];
  EXPECT_EQ(a.severity, "warning");
  EXPECT_NE(a.message.find("test_temperature_celsius{gpu=\"3\"}"), std::string::npos) << a.message;
  EXPECT_NE(a.message.find("above"), std::string::npos) << a.message;
  Json d = Json::parse(a.data);
  EXPECT_GE(d["score"].get<double>(), o.anomaly_threshold);
  EXPECT_GE(d["value"].get<double>(), 85);
  EXPECT_FALSE(d["rate"].get<bool>());

  // What was collected is in the store, and on disk after stop(). Samples are stamped with
  // the wall clock in milliseconds while the 2 ms grid runs on the monotonic one: a late
  // collection followed at once by the next slot can share a millisecond, and the store keeps
  // one sample per timestamp. A loaded machine loses a few that way, never a tenth.
  auto reopened = tsdb::Db::open({.dir = dir});
  ASSERT_TRUE(reopened);
  EXPECT_GE((*reopened)->query("test_temperature_celsius{gpu=\"3\"}", 0, INT64_MAX).size(),
            static_cast<std::size_t>(*n) * 9 / 10);
}

}  // namespace
}  // namespace aion::telemetry
