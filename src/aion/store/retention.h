// Retention: how long finished rows (jobs, events, incidents) are kept, and the pruning that
// enforces it. A table's owner describes its finished rows (PruneTarget); prune() deletes
// those older than the age limit and, past the row limit, the oldest others. It deletes in
// small batches, each under the Store's mutex on its own, so the API waits at most one batch
// while a large backlog goes. Pruner runs every owner's pruning at start and then
// periodically on a thread of its own.
//
// Thread-safety: prune() and retention_from() are thread-safe (through the Store; a Config
// read). Pruner is not thread-safe: add() before start(); run_once(), start() and stop()
// from one thread; its own thread then runs the tasks, which must be thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/store/store.h"

namespace aion::store {

struct Retention {
  std::int64_t max_age_ms = 0;  // finished rows older than this go (0: no age limit)
  std::int64_t max_rows = 0;    // at most this many finished rows stay, newest first (0: any)
};

// Finished rows of one table. `finished` is an SQL condition (constant text, "1" for every
// row); `time_column` holds when a row finished (ms since the epoch); `id_column` is the
// integer key. Rows are dropped oldest by time_column, then by id.
struct PruneTarget {
  std::string table;
  std::string id_column = "id";
  std::string time_column;
  std::string finished = "1";
};

// Deletes the target's finished rows beyond `retention` as of `now_ms`, `batch` rows per
// lock. Returns the ids deleted (in no particular order).
[[nodiscard]] Result<std::vector<std::int64_t>> prune(Store& store, const PruneTarget& target,
                                                      const Retention& retention,
                                                      std::int64_t now_ms, int batch = 1000);

// The [store] retention keys of one kind ("jobs", "events", "incidents"):
// store.<kind>_keep_days and store.<kind>_max_rows.
Retention retention_from(const Config& config, std::string_view kind);

class Pruner {
 public:
  // Prunes as of `now_ms`; returns how many rows went.
  using Task = std::function<Result<std::int64_t>(std::int64_t now_ms)>;

  explicit Pruner(const Clock& clock) : clock_(clock) {}
  ~Pruner() { stop(); }
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  void add(std::string name, Task task) { tasks_.push_back({std::move(name), std::move(task)}); }
  // Runs every task once now; failures are logged (the next pass tries again).
  void run_once();
  // Runs every task each `interval` on a thread until stop().
  void start(std::chrono::seconds interval);
  void stop();

 private:
  struct Named {
    std::string name;
    Task task;
  };
  const Clock& clock_;
  std::vector<Named> tasks_;
  std::mutex mu_;  // guards stopping_; cv_ waits on it
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace aion::store
