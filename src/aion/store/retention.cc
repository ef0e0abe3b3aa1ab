#include "aion/store/retention.h"

#include <spdlog/spdlog.h>

namespace aion::store {

Result<std::vector<std::int64_t>> prune(Store& store, const PruneTarget& t, const Retention& r,
                                        std::int64_t now_ms, int batch) {
  std::vector<std::int64_t> gone;
  if (r.max_age_ms <= 0 && r.max_rows <= 0) return gone;
  // The oldest finished rows first; a row is old when it finished before the age limit or
  // when max_rows newer finished rows exist.
  const std::string order = " ORDER BY " + t.time_column + ", " + t.id_column;
  const std::string select_old = "SELECT " + t.id_column + " FROM " + t.table + " WHERE (" +
                                 t.finished + ") AND " + t.time_column + " < ?1" + order +
                                 " LIMIT ?2";
  const std::string count = "SELECT count(*) FROM " + t.table + " WHERE (" + t.finished + ")";
  const std::string select_first = "SELECT " + t.id_column + " FROM " + t.table + " WHERE (" +
                                   t.finished + ")" + order + " LIMIT ?1";
  const std::string del = "DELETE FROM " + t.table + " WHERE " + t.id_column + " = ?1";
  auto delete_batch = [&](bool by_age, std::int64_t limit) -> Result<std::int64_t> {
    return store.with([&](Database& db) -> Result<std::int64_t> {
      auto sel = db.prepare(by_age ? select_old : select_first);
      if (!sel) return std::unexpected(sel.error());
      if (by_age) {
        (*sel)->bind(1, now_ms - r.max_age_ms).bind(2, limit);
      } else {
        (*sel)->bind(1, limit);
      }
      std::vector<std::int64_t> ids;
      Result<bool> row;
      while ((row = (*sel)->step()) && *row) ids.push_back((*sel)->column_int(0));
      (*sel)->reset();
      if (!row) return std::unexpected(row.error());
      auto tx = db.begin(TransactionMode::kImmediate);
      if (!tx) return std::unexpected(tx.error());
      auto d = db.prepare(del);
      if (!d) return std::unexpected(d.error());
      for (std::int64_t id : ids) {
        (*d)->bind(1, id);
        if (auto st = (*d)->run(); !st) return std::unexpected(st.error());
        (*d)->reset();
      }
      if (auto st = tx->commit(); !st) return std::unexpected(st.error());
      gone.insert(gone.end(), ids.begin(), ids.end());
      return static_cast<std::int64_t>(ids.size());
    });
  };
  if (r.max_age_ms > 0) {
    for (;;) {
      auto n = delete_batch(true, batch);
      if (!n) return std::unexpected(n.error());
      if (*n < batch) break;
    }
  }
  if (r.max_rows > 0) {
    for (;;) {
      auto total = store.with([&](Database& db) -> Result<std::int64_t> {
        auto st = db.prepare(count);
        if (!st) return std::unexpected(st.error());
        auto row = (*st)->step();
        if (!row) return std::unexpected(row.error());
        std::int64_t n = (*st)->column_int(0);
        (*st)->reset();
        return n;
      });
      if (!total) return std::unexpected(total.error());
      const std::int64_t over = *total - r.max_rows;
      if (over <= 0) break;
      auto n = delete_batch(false, std::min<std::int64_t>(over, batch));
      if (!n) return std::unexpected(n.error());
      if (*n == 0) break;
    }
  }
  return gone;
}

Retention retention_from(const Config& c, std::string_view kind) {
  const std::string k(kind);
  Retention r;
  r.max_age_ms = c.get_int("store." + k + "_keep_days") * 86'400'000;
  r.max_rows = c.get_int("store." + k + "_max_rows");
  return r;
}

void Pruner::run_once() {
  const std::int64_t now = to_unix_ms(clock_.wall());
  for (const auto& t : tasks_) {
    auto n = t.task(now);
    if (!n) {
      spdlog::warn("event=prune_failed what={} reason=\"{}\"", t.name, n.error().message());
    } else if (*n > 0) {
      spdlog::info("event=pruned what={} rows={}", t.name, *n);
    }
  }
}

void Pruner::start(std::chrono::seconds interval) {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      run_once();
      lock.lock();
    }
  });
}

void Pruner::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace aion::store
