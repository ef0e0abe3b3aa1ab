// The metrics store inside aiond: 10 million samples across 10,000 series pushed through the
// API, aiond SIGKILLed right after more samples arrive, restarted: every sample that was on
// disk before the kill (everything older than one flush interval) is there with its exact
// value, the block checksums hold (nothing quarantined), and aiond says what it loaded.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/scale.h"

namespace aion::testing {
namespace {

using namespace std::chrono_literals;

// 10 M samples; 1 M under the sanitizers (support/scale.h).
constexpr int kPerSeries = 1000 / kStressDivisor;
constexpr int kSeries = 10'000;
constexpr int kBatch = 5;  // samples per series per request (50,000 lines, under the import cap)

double value_of(int series, int i) {
  return static_cast<double>((series * 7 + i * 3) % 1000) / 4;
}

std::string body(int from, int to, std::int64_t t0) {
  std::string b;
  b.reserve(static_cast<std::size_t>(to - from) * kSeries * 52);
  char line[96];
  for (int i = from; i < to; ++i) {
    for (int s = 0; s < kSeries; ++s) {
      int n = std::snprintf(line, sizeof line, "crash_test_value{series=\"%05d\"} %.2f %lld\n", s,
                            value_of(s, i), static_cast<long long>(t0 + i * 1000LL));
      b.append(line, static_cast<std::size_t>(n));
    }
  }
  return b;
}

Json store_stats(api::Client& c) {
  auto r = c.get("/v1/metrics?match=crash_test_value%7Bseries%3D%2200000%22%7D");
  if (!r || r->status != 200) return Json{};
  return Json::parse(r->body)["store"];
}

TEST(MetricsCrashTest, SigkillOfAiondAfterTenMillionSamplesLosesOnlyTheUnflushedInterval) {
  DaemonHarness h;
  h.write_config(
      "[api]\nmax_body_bytes = 33554432\n"
      "[telemetry]\nflush_interval_s = 2\nhost_interval_s = 3600\ngpu_interval_s = 3600\n"
      "anomaly_threshold = 0\n");
  auto started = h.start();
  ASSERT_TRUE(started) << started.error().message() << h.log();
  auto c = h.client();
  ASSERT_TRUE(c);
  const std::int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          86'400'000LL;
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < kPerSeries; i += kBatch) {
    auto r = c->post("/v1/metrics/import", body(i, std::min(kPerSeries, i + kBatch), t0));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(Json::parse(r->body)["rejected"], 0) << r->body;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("pushed %d samples in %.1f s (%.0f samples/s through the API)\n",
              kSeries * kPerSeries, secs, kSeries * kPerSeries / secs);
  // Wait for a flush that covers all of them.
  Json st;
  for (int i = 0; i < 600; ++i) {
    st = store_stats(*c);
    if (st.is_object() && st["unflushed_samples"] == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(st["unflushed_samples"], 0) << st.dump();
  ASSERT_GE(st["samples"].get<std::int64_t>(), std::int64_t{kSeries} * kPerSeries);

  // More samples arrive, and aiond is killed before their flush.
  auto late = c->post("/v1/metrics/import", body(kPerSeries, kPerSeries + 1, t0));
  ASSERT_TRUE(late && late->status == 200);
  h.signal(SIGKILL);
  Exit e = h.wait();
  EXPECT_EQ(e.signal, SIGKILL);

  started = h.start();
  ASSERT_TRUE(started) << started.error().message() << h.log();
  c = h.client();
  ASSERT_TRUE(c);
  st = store_stats(*c);
  const std::int64_t samples = st["samples"];
  EXPECT_GE(samples, std::int64_t{kSeries} * kPerSeries);
  EXPECT_LE(samples, std::int64_t{kSeries} * (kPerSeries + 1));
  // Spot checks: whole series, exact values and timestamps.
  for (int s : {0, 4321, kSeries - 1}) {
    char q[128];
    std::snprintf(q, sizeof q,
                  "/v1/metrics/query?q=crash_test_value%%7Bseries%%3D%%22%05d%%22%%7D&since=3d", s);
    auto r = c->get(q);
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message());
    Json pts = Json::parse(r->body)["result"][0]["points"];
    ASSERT_GE(pts.size(), static_cast<std::size_t>(kPerSeries)) << "series " << s;
    for (int i = 0; i < kPerSeries; ++i) {
      ASSERT_EQ(pts[i][0].get<std::int64_t>(), t0 + i * 1000LL);
      ASSERT_EQ(pts[i][1].get<double>(), value_of(s, i)) << "series " << s << " sample " << i;
    }
  }
  // The restart said what it loaded; no block failed its checksum.
  auto ev = c->get("/v1/events?kind=metrics&limit=100");
  ASSERT_TRUE(ev && ev->status == 200);
  EXPECT_NE(ev->body.find("metrics store loaded"), std::string::npos) << ev->body;
  EXPECT_EQ(ev->body.find("damaged"), std::string::npos) << ev->body;
  EXPECT_FALSE(std::filesystem::exists(h.state_dir() / "metrics" / "quarantine"));
  h.signal(SIGTERM);
  h.wait();
}

}  // namespace
}  // namespace aion::testing
