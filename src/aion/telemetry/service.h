// Telemetry in aiond: collectors run on their own intervals (GPUs every second, the host
// every 10 s by default), every sample goes into the embedded store, the store is flushed to
// disk every flush interval and kept under its retention, and the latest values are what
// /metrics serves to Prometheus. A full disk stops persistence with an event (and resumes
// with another once a flush succeeds again); it never stops the daemon.
//
// Thread-safety: add_source() before start(); start() and stop() from the daemon's
// controlling thread. One loop thread collects, scores, flushes and rolls up (the sources'
// collect() run there, and once in start() before it runs). import(), latest(), stores(),
// db() and options() may be called from any thread between start() and stop() (the stores
// are thread-safe; mu_ guards the rest).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/hw/inventory.h"
#include "aion/telemetry/anomaly.h"
#include "aion/telemetry/metric.h"
#include "aion/telemetry/query.h"
#include "aion/tsdb/db.h"
#include "aion/tsdb/rollup.h"

namespace aion::telemetry {

struct TelemetryOptions {
  bool enabled = true;
  std::filesystem::path dir;  // <state_dir>/metrics
  std::chrono::milliseconds host_interval{10000};
  std::chrono::milliseconds gpu_interval{1000};
  std::chrono::milliseconds flush_interval{60000};
  std::int64_t retention_ms = 15LL * 86400 * 1000;
  std::uint64_t max_disk_bytes = 1ULL << 30;
  // Raw samples this recent stay in memory; older ones are read from the block files.
  std::int64_t head_ms = 2LL * 3600 * 1000;
  // Downsampled rollups (min/max/sum/count per 1 min and per 1 h bucket) kept longer than the
  // raw samples; each may use up to max_disk_bytes / 8 on disk.
  std::int64_t rollup_1m_retention_ms = 90LL * 86400 * 1000;
  std::int64_t rollup_1h_retention_ms = 730LL * 86400 * 1000;
  bool metrics_public = false;  // /metrics needs no token on the TCP listener
  // /metrics keeps the labels that name people and what they run (user, name, job_name);
  // off: they are dropped from the exposition (the job id stays).
  bool exposition_identity_labels = false;
  std::string nvml_library;  // hw.nvml_library ("" = libnvidia-ml.so.1)
  // Streaming anomaly detection on every series (counters on their rate): a sample scoring at
  // least this becomes an `anomaly` event (0: off).
  double anomaly_threshold = 0.7;
  std::int64_t anomaly_min_gap_ms = 300'000;  // per series, between two events
};

ConfigSchema telemetry_config_schema();
Result<TelemetryOptions> telemetry_options(const Config& c, const std::filesystem::path& state_dir);

// A source of metric families, collected every `interval`.
struct Source {
  std::string name;
  std::chrono::milliseconds interval;
  std::function<std::vector<MetricFamily>()> collect;
};

struct ImportReport {
  std::size_t samples = 0;   // stored
  std::size_t rejected = 0;  // refused by the store (not after the series' newest sample)
  std::string first_rejection;
};

class Telemetry {
 public:
  // An event for the log: kind ("metrics", "anomaly"), severity ("info", "warning",
  // "critical"), a message a person can read, and details as JSON.
  using EventSink = std::function<void(const std::string& kind, const std::string& severity,
                                       const std::string& message, const std::string& data_json)>;

  // `clock` times collection and flushes (monotonic) and stamps samples (wall).
  Telemetry(TelemetryOptions options, HostFs fs, std::vector<hw::Accelerator> gpus,
            EventSink events, const Clock& clock = Clock::system());
  ~Telemetry();

  // Adds a source before start() (per-job cgroup usage comes from the scheduler this way).
  void add_source(Source source);
  // Opens the store (reporting what a crash lost), collects once and starts the loop.
  Status start();
  // Stops the loop and flushes what is left.
  void stop();

  // Stores samples pushed in the text exposition format (a timestamp in ms per line, or
  // `now_ms`). The whole text is checked first: a syntax error stores nothing. Names that
  // start with aion_ are aiond's own and refused. Imported series are kept and queryable,
  // not scored by the anomaly detector and not served on /metrics.
  Result<ImportReport> import(std::string_view text, std::int64_t now_ms);

  // The latest value of every family of every source, plus the store's own metrics.
  std::vector<MetricFamily> latest() const;
  tsdb::Db* db() { return db_.get(); }
  // The raw store and the rollups, for queries (empty before start()).
  Stores stores() const;
  const TelemetryOptions& options() const { return options_; }

 private:
  void loop();
  void collect(std::size_t source, std::int64_t now_ms);
  void flush();
  void roll_up(std::int64_t now_ms);

  std::int64_t wall_ms() const { return to_unix_ms(clock_.wall()); }

  TelemetryOptions options_;
  HostFs fs_;
  EventSink events_;
  const Clock& clock_;
  std::vector<Source> sources_;
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<tsdb::Rollup> minutely_, hourly_;

  // mu_ guards stopping_, latest_, anomalies_, collect_errors_, persisting_ and
  // last_flush_ms_ (below); cv_ waits on it. watches_ is the loop thread's; the rest is set
  // by start() before the loop runs.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, std::vector<MetricFamily>> latest_;
  // Per series: its detector and, for counters, the previous sample (to score the rate).
  struct Watch {
    Detector detector{DetectorOptions{}};
    double prev = 0;
    std::int64_t prev_ms = 0;
    bool has_prev = false;
    std::optional<Clock::Monotonic> last_event;
  };
  std::map<std::string, Watch, std::less<>> watches_;  // touched by the loop thread only
  std::uint64_t anomalies_ = 0;
  void detect(const std::string& key, const MetricFamily& family, double value,
              std::int64_t now_ms);
  std::uint64_t collect_errors_ = 0;
  bool persisting_ = true;
  std::int64_t last_flush_ms_ = 0;
  std::thread thread_;
};

}  // namespace aion::telemetry
