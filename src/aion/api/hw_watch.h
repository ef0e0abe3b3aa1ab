// HwWatch: the daemon's view of hardware changes. check() discovers the machine, compares
// it with the last stored snapshot, raises one event per change (kind "hw_change") and stores
// a new snapshot when anything changed (or none existed). The daemon calls it at start and
// every hw.rescan_interval_s on its own thread. Thread-safe: check() (the rescan thread and
// POST /v1/hw/rescan) and latest_json() may be called from any thread, and check() calls are
// serialised; start() and stop() belong to the daemon's controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "aion/api/router.h"
#include "aion/core/host_fs.h"
#include "aion/hw/discovery.h"
#include "aion/hw/snapshot.h"
#include "aion/store/event_log.h"
#include "aion/store/store.h"

namespace aion::api {

class HwWatch {
 public:
  HwWatch(store::Store& store, store::EventLog& events, HostFs fs, hw::DiscoveryOptions options);
  ~HwWatch();
  static std::span<const store::Migration> migrations();

  // Discovers now; returns the changes since the stored snapshot (empty on first run).
  Result<std::vector<hw::HwChange>> check();
  // Re-checks every `interval` on a thread until stop() or destruction; 0 disables.
  void start(std::chrono::seconds interval);
  void stop();

  // The newest stored snapshot as {"time", "time_ms", "inventory"} JSON text.
  Result<std::string> latest_json();

 private:
  store::Store& store_;
  store::EventLog& events_;
  HostFs fs_;
  hw::DiscoveryOptions options_;
  std::mutex check_mu_;  // serialises check(): one discovery and snapshot write at a time
  std::mutex wait_mu_;   // guards stopping_; wake_ waits on it
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

void add_hw_routes(Router& router, HwWatch& watch);

}  // namespace aion::api
