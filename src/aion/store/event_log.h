// EventLog: the node's persistent event log. Hardware changes, anomalies, incidents, job
// failures and operator notes are appended here, listed by the API and streamed to
// `aion events --follow`. Thread-safe (writes go through the Store's mutex; last_id() is a
// lock-free read that streams poll). load() is called once, before the log is shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aion/core/clock.h"
#include "aion/store/retention.h"
#include "aion/store/store.h"

namespace aion::store {

struct Event {
  std::int64_t id = 0;            // assigned by append()
  std::int64_t time_ms = 0;       // assigned by append() when 0
  std::string kind;               // "annotation", "hw_change", "anomaly", ...
  std::string severity = "info";  // info | warning | critical
  std::string source;             // who raised it: "aiond", "hw", "uid:1000 (alice)"
  std::string message;            // one line a person can read
  std::string data_json = "{}";   // details for machines
};

// Without since_id: the newest `limit` events (a tail). With since_id: the first `limit`
// events after it, so that a caller can page forward by passing the last id it saw.
// Either way the result is ordered oldest first.
struct EventQuery {
  std::optional<std::int64_t> since_id;
  int limit = 100;
  std::string kind;  // empty: every kind
};

class EventLog {
 public:
  EventLog(Store& store, const Clock& clock);
  static std::span<const Migration> migrations();

  // Initialises last_id() from the database; call once after open.
  Status load();
  Result<std::int64_t> append(Event event);
  // Appends for a caller whose own work goes on whether the event is kept or not (a job that
  // finished, an incident, a hardware change): a failure is logged at warn
  // (event=event_not_recorded), not returned.
  void record(Event event);
  Result<std::vector<Event>> list(const EventQuery& query);
  std::int64_t last_id() const { return last_id_.load(std::memory_order_acquire); }
  // Deletes events beyond `retention` as of `now_ms` (store::prune); returns how many.
  Result<std::int64_t> prune(const Retention& retention, std::int64_t now_ms);

 private:
  Store& store_;
  const Clock& clock_;
  std::atomic<std::int64_t> last_id_{0};
};

}  // namespace aion::store
