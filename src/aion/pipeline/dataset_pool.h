// HashPool: a few worker threads that hash (and copy) files for one dataset operation, with
// a bounded number of tasks in flight so that a walk of a million files never queues more
// than a few hundred of them. A task runs on a worker with that worker's FileHasher and
// returns a completion, which runs on the owner's thread (the one that calls submit() and
// finish()): completions are where results meet the catalog, which is single-threaded.
//
// Thread-safety: submit(), finish(), and the destructor are for the owner thread only; tasks
// run on the workers and may call add_bytes() from there. The queues are guarded by mu_.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "aion/core/error.h"
#include "aion/pipeline/hash.h"

namespace aion::pipeline {

// hardware_concurrency clamped to [1, 8]: beyond eight readers a local disk is the bound, not
// the hash (XXH3 runs at several GB/s per core).
int default_hash_threads();

class HashPool {
 public:
  using Completion = std::function<Status()>;
  using Task = std::function<Completion(FileHasher&)>;

  // `threads` workers (<= 0: default_hash_threads()), each with a FileHasher computing SHA-256
  // too when `sha256`. `tick` (may be empty) runs on the owner thread about every
  // `tick_interval` while the owner waits or completes tasks: progress display.
  HashPool(int threads, bool sha256, std::function<void()> tick = {},
           std::chrono::milliseconds tick_interval = std::chrono::milliseconds(200));
  ~HashPool();  // drops queued tasks, waits for running ones, discards their completions
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Queues a task; while the pool is full, runs completions until there is room. Returns the
  // first error a completion returned (then stop submitting and let the pool go).
  Status submit(Task task);
  // Waits for every task and runs the remaining completions; the first error, as submit().
  Status finish();

  // Bytes read so far, for progress (tasks add as they read).
  void add_bytes(std::uint64_t n) { bytes_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  void work(bool sha256);
  // Runs available completions (waiting up to one tick when `wait` and none is ready).
  Status drain(bool wait);
  void maybe_tick();

  std::mutex mu_;                    // guards tasks_, done_, stop_
  std::condition_variable work_cv_;  // tasks_ or stop_ changed
  std::condition_variable done_cv_;  // done_ changed
  std::deque<Task> tasks_;           // guarded by mu_
  std::deque<Completion> done_;      // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::size_t in_flight_ = 0;        // submitted, completion not yet run; owner thread only
  std::size_t max_in_flight_;
  std::atomic<std::uint64_t> bytes_{0};
  std::function<void()> tick_;
  std::chrono::milliseconds tick_interval_;
  std::chrono::steady_clock::time_point last_tick_;  // owner thread only
  std::vector<std::thread> workers_;
};

}  // namespace aion::pipeline
