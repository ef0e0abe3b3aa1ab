// A process writing 10 million samples across 10,000 series into the store is killed with
// SIGKILL, once when all are written (the last flush interval not yet flushed) and once in
// the middle of writing. Reopened, the store holds every sample up to its last completed
// flush, exactly, every block's checksum holds, and it says how far its data goes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "aion/tsdb/db.h"
#include "support/scale.h"
#include "support/temp_dir.h"

namespace aion::tsdb {
namespace {

namespace fs = std::filesystem;

// One sample per series per round: 10 M in all (1 M under the sanitizers, support/scale.h).
constexpr int kSeries = 10'000 / ::aion::testing::kStressDivisor;
constexpr int kRounds = 1'000;
constexpr int kFlushEvery = 50;      // rounds between flushes ("the flush interval")
constexpr int kKillAfterFlush = 15;  // flushes the child completes before it is killed

std::string key(int s) {
  return "aion_crash_value{gpu=\"" + std::to_string(s % 8) + "\",series=\"" + std::to_string(s) +
         "\"}";
}
double value(int s, int round) {
  return s * 0.5 + round;
}

// Runs a writer child and SIGKILLs it after `kill_after_flushes` flushes (mid-write), or after
// it wrote everything (kill_after_flushes < 0); then checks the reopened store.
void crash_and_check(int kill_after_flushes) {
  const ::aion::testing::TempDir tmp("tsdb-crash");
  const fs::path dir = tmp / "db";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto db = Db::open({.dir = dir});
    if (!db) ::_exit(2);
    for (int r = 0; r < kRounds; ++r) {
      for (int s = 0; s < kSeries; ++s) {
        if (!(*db)->append(key(s), r * 1000LL, value(s, r))) ::_exit(3);
      }
      if ((r + 1) % kFlushEvery == 0) {
        if (!(*db)->flush()) ::_exit(4);
        std::string msg = std::to_string(r) + "\n";
        if (::write(fds[1], msg.data(), msg.size()) < 0) ::_exit(5);
      }
    }
    // All written; the last 20 rounds (200,000 samples) are not flushed yet.
    if (::write(fds[1], "-1\n", 3) < 0) ::_exit(5);
    ::pause();
    ::_exit(0);
  }
  ::close(fds[1]);
  // Wait for the child to report enough flushes (or that it wrote everything), then kill it.
  FILE* in = ::fdopen(fds[0], "r");
  int flushed_round = -1, flushes = 0, r = 0;
  bool all_written = false;
  while (std::fscanf(in, "%d", &r) == 1) {
    if (r < 0) {
      all_written = true;
      break;
    }
    flushed_round = r;
    if (++flushes == kill_after_flushes) break;
  }
  if (kill_after_flushes > 0) ::usleep(30'000);  // into the next round's appends
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  // Flushes that completed between our read and the kill count too.
  while (std::fscanf(in, "%d", &r) == 1) {
    if (r >= 0) flushed_round = r;
  }
  std::fclose(in);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended on its own, status " << status;
  if (kill_after_flushes < 0) {
    ASSERT_TRUE(all_written);
    EXPECT_EQ(flushed_round, 999);
  }

  auto db = Db::open({.dir = dir});
  ASSERT_TRUE(db) << db.error().message();
  const OpenReport& o = (*db)->opened();
  EXPECT_TRUE(o.quarantined.empty()) << o.quarantined.front();
  EXPECT_GE(o.last_sample_ms, flushed_round * 1000LL);
  EXPECT_EQ(o.series, static_cast<std::size_t>(kSeries));
  std::printf("killed after round %d was flushed: %zu blocks, %zu samples back, newest at %lld s\n",
              flushed_round, o.blocks, o.samples, static_cast<long long>(o.last_sample_ms / 1000));
  for (int s = 0; s < kSeries; s += 1 + (s % 7)) {  // a spread of series, checked exactly
    auto got = (*db)->query(key(s), 0, flushed_round * 1000LL);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(flushed_round + 1)) << key(s);
    for (int k = 0; k <= flushed_round; ++k) {
      ASSERT_EQ(got[static_cast<std::size_t>(k)].t_ms, k * 1000LL);
      ASSERT_EQ(got[static_cast<std::size_t>(k)].value, value(s, k)) << key(s) << " round " << k;
    }
  }
  // Every sample of every series up to the last flush is there.
  EXPECT_GE((*db)->stats().samples,
            static_cast<std::size_t>(kSeries) * static_cast<std::size_t>(flushed_round + 1));
}

TEST(StoreCrashTest, SigkillAfterTenMillionSamplesLosesOnlyTheUnflushedInterval) {
  crash_and_check(-1);
}

TEST(StoreCrashTest, SigkillInTheMiddleOfWritingLosesAtMostTheLastFlushInterval) {
  crash_and_check(8);
}

}  // namespace
}  // namespace aion::tsdb
