#include "aion/pipeline/dataset_pool.h"

#include <algorithm>

namespace aion::pipeline {

int default_hash_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 8u));
}

HashPool::HashPool(int threads, bool sha256, std::function<void()> tick,
                   std::chrono::milliseconds tick_interval)
    : tick_(std::move(tick)),
      tick_interval_(tick_interval),
      last_tick_(std::chrono::steady_clock::now()) {
  if (threads <= 0) threads = default_hash_threads();
  // Enough queued work that no worker idles while the owner walks or writes rows, few enough
  // that the queued paths stay a few hundred kilobytes.
  max_in_flight_ = static_cast<std::size_t>(threads) * 64;
  workers_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this, sha256] { work(sha256); });
}

HashPool::~HashPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    tasks_.clear();
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void HashPool::work(bool sha256) {
  FileHasher hasher(sha256);
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    Completion c = task(hasher);
    {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(c));
    }
    done_cv_.notify_one();
  }
}

void HashPool::maybe_tick() {
  if (!tick_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_tick_ >= tick_interval_) {
    last_tick_ = now;
    tick_();
  }
}

Status HashPool::drain(bool wait) {
  std::deque<Completion> ready;
  {
    std::unique_lock lock(mu_);
    if (wait && done_.empty()) done_cv_.wait_for(lock, tick_interval_);
    ready.swap(done_);
  }
  Status first;
  for (auto& c : ready) {
    --in_flight_;
    if (!c) continue;
    if (auto ok = c(); !ok && first) first = std::move(ok);
  }
  maybe_tick();
  return first;
}

Status HashPool::submit(Task task) {
  while (in_flight_ >= max_in_flight_) {
    if (auto ok = drain(true); !ok) return ok;
  }
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  ++in_flight_;
  work_cv_.notify_one();
  // Run what is ready without waiting, so completions keep pace with the walk.
  if (in_flight_ % 16 == 0) return drain(false);
  return {};
}

Status HashPool::finish() {
  Status first;
  while (in_flight_ > 0) {
    if (auto ok = drain(true); !ok && first) first = std::move(ok);
  }
  return first;
}

}  // namespace aion::pipeline
