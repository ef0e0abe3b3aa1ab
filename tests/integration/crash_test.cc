// SIGKILL in the middle of a stream of acknowledged writes never loses one of them and never
// leaves the database failing its integrity check.
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/store/database.h"
#include "support/daemon_harness.h"

namespace aion::testing {
namespace {

using namespace std::chrono_literals;

// Everything acknowledged so far must be in the running daemon's event log, unchanged.
void verify_all(DaemonHarness& h, const std::map<std::int64_t, std::string>& acknowledged,
                int round) {
  auto c = h.client();
  ASSERT_TRUE(c);
  std::map<std::int64_t, std::string> seen;
  std::int64_t since = 0;
  while (true) {
    auto r = c->get("/v1/events?kind=annotation&limit=10000&since_id=" + std::to_string(since));
    ASSERT_TRUE(r && r->status == 200);
    Json j = Json::parse(r->body);
    if (j["events"].empty()) break;
    for (const auto& e : j["events"]) {
      seen[e["id"].get<std::int64_t>()] = e["message"].get<std::string>();
      since = e["id"];
    }
  }
  for (const auto& [id, msg] : acknowledged) {
    auto it = seen.find(id);
    ASSERT_NE(it, seen.end()) << "round " << round << ": acknowledged event " << id << " lost";
    ASSERT_EQ(it->second, msg);
  }
}

TEST(CrashTest, SigkillNeverLosesAcknowledgedWrites) {
  constexpr int kRounds = 20;
  DaemonHarness h;
  std::map<std::int64_t, std::string> acknowledged;  // id -> message
  std::mt19937 rng(1234);
  for (int round = 0; round < kRounds; ++round) {
    auto started = h.start();
    ASSERT_TRUE(started) << "round " << round << ": " << started.error().message();

    verify_all(h, acknowledged, round);
    if (::testing::Test::HasFatalFailure()) return;

    // Two writers post as fast as they can; the daemon is killed while they do.
    std::atomic<bool> stop{false};
    std::mutex mu;
    auto writer = [&](int w) {
      auto c = h.client();
      if (!c) return;
      for (int i = 0; !stop; ++i) {
        std::string msg =
            "r" + std::to_string(round) + "w" + std::to_string(w) + "i" + std::to_string(i);
        auto r = c->post("/v1/events", Json{{"message", msg}}.dump());
        if (!r || r->status != 201) return;  // the daemon died: this write was not acknowledged
        std::lock_guard lock(mu);
        acknowledged[Json::parse(r->body)["id"].get<std::int64_t>()] = msg;
      }
    };
    std::thread a(writer, 0), b(writer, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 250));
    h.signal(SIGKILL);
    Exit e = h.wait();
    stop = true;
    a.join();
    b.join();
    EXPECT_EQ(e.signal, SIGKILL);
    auto ok = store::verify_database(h.state_dir() / "aion.db");
    ASSERT_TRUE(ok) << "round " << round << ": " << ok.error().message();
  }
  EXPECT_GT(acknowledged.size(), static_cast<std::size_t>(kRounds))
      << "the writers never got going";
  // A last start: the daemon opens the state (its own integrity check) and has everything.
  ASSERT_TRUE(h.start());
  verify_all(h, acknowledged, kRounds);
  std::printf("acknowledged writes checked across %d SIGKILLs: %zu\n", kRounds,
              acknowledged.size());
}

}  // namespace
}  // namespace aion::testing
