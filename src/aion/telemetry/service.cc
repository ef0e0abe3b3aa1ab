#include "aion/telemetry/service.h"

#include <algorithm>
#include <ctime>

#include <spdlog/spdlog.h>

#include "aion/core/json.h"

#include "aion/telemetry/exposition.h"
#include "aion/telemetry/gpu_collector.h"
#include "aion/telemetry/host_collector.h"

namespace aion::telemetry {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string utc(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

ConfigSchema telemetry_config_schema() {
  ConfigSchema s;
  s.boolean("telemetry.enabled", true, "Collect host, GPU and job metrics and keep them")
      .integer("telemetry.host_interval_s", 10, "Seconds between host metric collections", 1, 3600)
      .integer("telemetry.gpu_interval_s", 1, "Seconds between GPU metric collections", 1, 3600)
      .integer("telemetry.flush_interval_s", 60,
               "Seconds between writes of new samples to disk: at most this much is lost in a "
               "crash",
               1, 3600)
      .integer("telemetry.retention_days", 15, "Days of metrics kept (0: no age limit)", 0, 3650)
      .integer("telemetry.memory_hours", 2,
               "Hours of raw samples kept in memory; older ones are read from disk when queried "
               "(the 1 min rollups keep a day, the 1 h rollups a week)",
               1, 24 * 30)
      .integer("telemetry.rollup_1m_days", 90,
               "Days of 1-minute rollups (min, max, sum, count per minute) kept; queries read "
               "them where the raw samples are gone",
               0, 36500)
      .integer("telemetry.rollup_1h_days", 730, "Days of 1-hour rollups kept", 0, 36500)
      .integer("telemetry.max_disk_mb", 1024,
               "Megabytes the metric block files may use; the oldest go first (0: no limit)", 0,
               1 << 24)
      .boolean("telemetry.metrics_public", false,
               "Serve /metrics on the TCP listener without a token, like node_exporter (false: "
               "Prometheus must send a viewer token)")
      .boolean("telemetry.exposition_identity_labels", false,
               "Keep the labels that name users and their jobs (user, name, job_name) in "
               "/metrics (false: dropped; the job id stays)")
      .number("telemetry.anomaly_threshold", 0.7,
              "Anomaly score (0-1) from which a sample becomes an `anomaly` event; 0: no "
              "detection")
      .integer("telemetry.anomaly_min_gap_s", 300,
               "Seconds between two anomaly events of the same series", 0, 86400);
  return s;
}

Result<TelemetryOptions> telemetry_options(const Config& c, const fs::path& state_dir) {
  TelemetryOptions o;
  o.enabled = c.get_bool("telemetry.enabled");
  o.dir = state_dir / "metrics";
  o.host_interval = std::chrono::seconds(c.get_int("telemetry.host_interval_s"));
  o.gpu_interval = std::chrono::seconds(c.get_int("telemetry.gpu_interval_s"));
  o.flush_interval = std::chrono::seconds(c.get_int("telemetry.flush_interval_s"));
  o.retention_ms = c.get_int("telemetry.retention_days") * 86400LL * 1000;
  o.max_disk_bytes = static_cast<std::uint64_t>(c.get_int("telemetry.max_disk_mb")) << 20;
  o.head_ms = c.get_int("telemetry.memory_hours") * 3600LL * 1000;
  o.rollup_1m_retention_ms = c.get_int("telemetry.rollup_1m_days") * 86400LL * 1000;
  o.rollup_1h_retention_ms = c.get_int("telemetry.rollup_1h_days") * 86400LL * 1000;
  o.metrics_public = c.get_bool("telemetry.metrics_public");
  o.exposition_identity_labels = c.get_bool("telemetry.exposition_identity_labels");
  o.nvml_library = c.get_string("hw.nvml_library");
  o.anomaly_threshold = c.get_double("telemetry.anomaly_threshold");
  if (o.anomaly_threshold < 0 || o.anomaly_threshold > 1) {
    return fail(ErrorCode::kConfig, c.source() +
                                        ": telemetry.anomaly_threshold must be from 0 "
                                        "to 1 (0 turns detection off), got " +
                                        std::to_string(o.anomaly_threshold));
  }
  o.anomaly_min_gap_ms = c.get_int("telemetry.anomaly_min_gap_s") * 1000;
  return o;
}

Telemetry::Telemetry(TelemetryOptions options, HostFs fs, std::vector<hw::Accelerator> gpus,
                     EventSink events, const Clock& clock)
    : options_(std::move(options)), fs_(std::move(fs)), events_(std::move(events)), clock_(clock) {
  auto host = std::make_shared<HostCollector>(fs_);
  sources_.push_back({"host", options_.host_interval, [host] { return host->collect(); }});
  std::vector<hw::Accelerator> simulated, nvidia, amd;
  for (auto& g : gpus) {
    if (g.simulated) {
      simulated.push_back(g);
    } else if (g.vendor == "nvidia") {
      nvidia.push_back(g);
    } else if (g.vendor == "amd") {
      amd.push_back(g);
    }
  }
  if (!amd.empty()) {
    auto c = std::make_shared<AmdGpuCollector>(fs_, std::move(amd));
    sources_.push_back({"amdgpu", options_.gpu_interval, [c] { return c->collect(); }});
  }
  if (!nvidia.empty()) {
    auto nvml = hw::Nvml::load(hw::nvml_library_path(options_.nvml_library));
    if (!nvml) {
      spdlog::warn("event=gpu_metrics_unavailable reason=\"{}\"", nvml.error().message());
    } else {
      auto on_event = [this](const hw::NvmlEvent& e, const hw::Accelerator* a) {
        if (!events_) return;
        const std::string gpu = a ? "GPU " + std::to_string(a->index) + " (" + e.pci_address +
                                        (a->model.empty() ? "" : ", " + a->model) + ")"
                                  : "GPU " + e.pci_address;
        Json data{{"pci", e.pci_address}, {"kind", e.kind}};
        if (a) data["gpu"] = a->index;
        if (e.kind == "xid") {
          data["xid"] = e.xid;
          spdlog::warn("event=gpu_xid pci={} xid={}", e.pci_address, e.xid);
          events_("gpu", "critical",
                  gpu + " reported Xid " + std::to_string(e.xid) + " (NVML event)", data.dump());
        } else if (e.kind == "ecc_double_bit") {
          events_("gpu", "critical", gpu + " reported an uncorrectable (double-bit) ECC error",
                  data.dump());
        }
      };
      auto c = std::make_shared<NvmlGpuCollector>(std::move(*nvml), std::move(nvidia),
                                                  std::move(on_event));
      sources_.push_back({"nvml", options_.gpu_interval, [c] { return c->collect(); }});
    }
  }
  if (!simulated.empty()) {
    auto sim = std::make_shared<SimulatedGpuCollector>(std::move(simulated));
    // Sources run on the telemetry thread only (start() collects before it starts).
    sources_.push_back({"gpu", options_.gpu_interval, [sim] { return sim->collect(); }});
  }
}

Telemetry::~Telemetry() {
  stop();
}

void Telemetry::add_source(Source source) {
  sources_.push_back(std::move(source));
}

Status Telemetry::start() {
  if (!options_.enabled) return {};
  auto db = tsdb::Db::open({.dir = options_.dir,
                            .retention_ms = options_.retention_ms,
                            .max_bytes = options_.max_disk_bytes,
                            .head_ms = options_.head_ms});
  if (!db) return std::unexpected(db.error());
  db_ = std::move(*db);
  auto minutely = tsdb::Rollup::open({.dir = options_.dir / "rollup-1m",
                                      .retention_ms = options_.rollup_1m_retention_ms,
                                      .max_bytes = options_.max_disk_bytes / 8,
                                      .head_ms = 86'400'000},
                                     60'000);
  if (!minutely) return std::unexpected(minutely.error());
  minutely_ = std::move(*minutely);
  auto hourly = tsdb::Rollup::open({.dir = options_.dir / "rollup-1h",
                                    .retention_ms = options_.rollup_1h_retention_ms,
                                    .max_bytes = options_.max_disk_bytes / 8,
                                    .head_ms = 7 * 86'400'000LL},
                                   3'600'000);
  if (!hourly) return std::unexpected(hourly.error());
  hourly_ = std::move(*hourly);
  for (const tsdb::Rollup* r : {minutely_.get(), hourly_.get()}) {
    for (const auto& q : r->store().opened().quarantined) {
      spdlog::warn("event=metrics_block_quarantined reason=\"{}\"", q);
      if (events_)
        events_("metrics", "warning", "metrics rollup block damaged and set aside: " + q, "{}");
    }
  }
  const auto& o = db_->opened();
  for (const auto& q : o.quarantined) {
    spdlog::warn("event=metrics_block_quarantined reason=\"{}\"", q);
    if (events_)
      events_("metrics", "warning", "metrics block file damaged and set aside: " + q, "{}");
  }
  if (o.blocks > 0) {
    const std::int64_t lost_s = std::max<std::int64_t>(0, (wall_ms() - o.last_sample_ms) / 1000);
    spdlog::info("event=metrics_loaded blocks={} series={} samples={} newest={}", o.blocks,
                 o.series, o.samples, utc(o.last_sample_ms));
    if (events_) {
      events_("metrics", "info",
              "metrics store loaded: " + std::to_string(o.series) + " series, " +
                  std::to_string(o.samples) + " samples; the newest on disk is from " +
                  utc(o.last_sample_ms) + " (" + std::to_string(lost_s) +
                  " s ago): samples after it, at most one flush interval (" +
                  std::to_string(options_.flush_interval.count() / 1000) +
                  " s) before aiond stopped, were not kept",
              "{}");
    }
  }
  const std::int64_t now = wall_ms();
  for (std::size_t i = 0; i < sources_.size(); ++i) collect(i, now);
  last_flush_ms_ = now;
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Telemetry::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_) flush();
}

void Telemetry::collect(std::size_t i, std::int64_t now_ms) {
  std::vector<MetricFamily> families;
  try {
    families = sources_[i].collect();
  } catch (const std::exception& e) {
    spdlog::warn("event=metrics_collect_failed source={} error=\"{}\"", sources_[i].name, e.what());
    std::lock_guard lock(mu_);
    ++collect_errors_;
    return;
  }
  std::uint64_t refused = 0;
  for (const auto& f : families) {
    for (const auto& s : f.samples) {
      std::string key = series_key(f.name, s.labels);
      if (!db_->append(key, now_ms, s.value)) {
        ++refused;
        continue;
      }
      if (options_.anomaly_threshold > 0) detect(key, f, s.value, now_ms);
    }
  }
  std::lock_guard lock(mu_);
  collect_errors_ += refused;
  latest_[sources_[i].name] = std::move(families);
}

void Telemetry::detect(const std::string& key, const MetricFamily& family, double value,
                       std::int64_t now_ms) {
  auto it = watches_.find(key);
  if (it == watches_.end()) {
    DetectorOptions o;
    // A ratio spans [0, 1] by Prometheus naming: known, its span floors the deviations, so a
    // GPU sitting at a steady utilisation does not alarm on its own jitter.
    if (family.name.ends_with("_ratio")) o.value_range = 1;
    it = watches_.try_emplace(key, Watch{.detector = Detector(o)}).first;
  }
  Watch& w = it->second;
  double x = value;
  if (family.type == MetricType::kCounter) {
    // A counter's level only grows: watch its rate. A reset (restart) starts over.
    const bool usable = w.has_prev && now_ms > w.prev_ms && value >= w.prev;
    x = usable ? (value - w.prev) * 1000.0 / static_cast<double>(now_ms - w.prev_ms) : 0;
    w.prev = value;
    w.prev_ms = now_ms;
    const bool first = !w.has_prev;
    w.has_prev = true;
    if (first || !usable) return;
  }
  Score sc = w.detector.update(now_ms, x);
  if (sc.score < options_.anomaly_threshold) return;
  // The gap between events is a period: on the monotonic clock, so a wall clock stepped back
  // does not silence the detector.
  const auto mono = clock_.monotonic();
  if (w.last_event &&
      mono - *w.last_event < std::chrono::milliseconds(options_.anomaly_min_gap_ms)) {
    return;
  }
  w.last_event = mono;
  {
    std::lock_guard lock(mu_);
    ++anomalies_;
  }
  const std::string what =
      (family.type == MetricType::kCounter ? "the rate of " : "") + key + ": " + sc.explain();
  char score[16];
  std::snprintf(score, sizeof score, "%.2f", sc.score);
  spdlog::info("event=anomaly series=\"{}\" score={} explain=\"{}\"", key, score, sc.explain());
  if (events_) {
    Json data{{"series", key},
              {"t_ms", now_ms},
              {"score", sc.score},
              {"value", sc.value},
              {"baseline", sc.baseline},
              {"sigma", sc.sigma},
              {"rate", family.type == MetricType::kCounter},
              {"explanation", sc.explain()}};
    events_("anomaly", "warning", what + " (score " + score + ")", data.dump());
  }
}

void Telemetry::flush() {
  auto r = db_->flush();
  const std::int64_t now = wall_ms();
  bool was = false;
  {
    std::lock_guard lock(mu_);
    was = persisting_;
    persisting_ = r.has_value();
    if (r) last_flush_ms_ = now;
  }
  if (!r) {
    spdlog::warn("event=metrics_flush_failed error=\"{}\"", r.error().message());
    if (was && events_) {
      events_("metrics", "critical",
              "metrics are no longer written to disk (" + r.error().message() +
                  "); they are kept in memory and written once there is room",
              "{}");
    }
    return;
  }
  if (!was && events_) events_("metrics", "info", "metrics are written to disk again", "{}");
  if (auto c = db_->compact(); !c) {
    spdlog::warn("event=metrics_compaction_failed error=\"{}\"", c.error().message());
  }
  if (auto st = db_->apply_retention(now); !st) {
    spdlog::warn("event=metrics_retention_failed error=\"{}\"", st.error().message());
  }
  roll_up(now);
}

void Telemetry::roll_up(std::int64_t now_ms) {
  // A series that stopped has its last bucket built once it has been quiet for two
  // collection intervals.
  std::int64_t grace = 0;
  for (const auto& s : sources_) grace = std::max<std::int64_t>(grace, 2 * s.interval.count());
  minutely_->update(*db_, now_ms, grace);
  hourly_->update(*minutely_, now_ms, grace + 60'000);
  for (tsdb::Rollup* r : {minutely_.get(), hourly_.get()}) {
    if (auto f = r->store().flush(); !f) {
      spdlog::warn("event=metrics_rollup_flush_failed error=\"{}\"", f.error().message());
      continue;
    }
    if (auto c = r->store().compact(); !c) {
      spdlog::warn("event=metrics_rollup_compaction_failed error=\"{}\"", c.error().message());
    }
    if (auto st = r->store().apply_retention(now_ms); !st) {
      spdlog::warn("event=metrics_rollup_retention_failed error=\"{}\"", st.error().message());
    }
  }
}

Result<ImportReport> Telemetry::import(std::string_view text, std::int64_t now_ms) {
  if (!db_) return fail(ErrorCode::kUnavailable, "telemetry is not running");
  auto parsed = parse_exposition(text);
  if (!parsed) return std::unexpected(parsed.error());
  for (const auto& s : *parsed) {
    if (s.name.rfind("aion_", 0) == 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "metric " + s.name +
                      ": names that start with aion_ are aiond's own; push yours under "
                      "another prefix");
    }
  }
  ImportReport r;
  for (auto& s : *parsed) {
    const std::string key = series_key(s.name, std::move(s.labels));
    if (auto st = db_->append(key, s.t_ms.value_or(now_ms), s.value); !st) {
      if (r.rejected++ == 0) r.first_rejection = key + ": " + st.error().message();
      continue;
    }
    ++r.samples;
  }
  return r;
}

Stores Telemetry::stores() const {
  Stores s;
  s.raw = db_.get();
  if (minutely_) s.rollups.push_back(minutely_.get());
  if (hourly_) s.rollups.push_back(hourly_.get());
  return s;
}

void Telemetry::loop() {
  // Due times are on the monotonic clock, samples are stamped with the wall clock: a wall
  // clock stepped back (NTP, an operator) neither stops collection nor makes it run wild.
  using Mono = Clock::Monotonic;
  std::vector<Mono> due(sources_.size());
  const Mono start = clock_.monotonic();
  for (std::size_t i = 0; i < sources_.size(); ++i) due[i] = start + sources_[i].interval;
  Mono flush_due = start + options_.flush_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    Mono next = flush_due;
    for (auto d : due) next = std::min(next, d);
    const Mono now = clock_.monotonic();
    if (next > now) {
      // At most a second at a time, so that a test clock moved by hand is seen soon.
      cv_.wait_for(lock, std::min<std::chrono::nanoseconds>(next - now, std::chrono::seconds(1)));
      continue;
    }
    lock.unlock();
    const std::int64_t now_ms = wall_ms();
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      if (due[i] > now) continue;
      collect(i, now_ms);
      // The next slot on the source's own grid; skipped slots are not made up.
      const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::max<milliseconds>(sources_[i].interval, milliseconds(1)));
      due[i] += interval * std::max<std::int64_t>(1, (now - due[i]) / interval + 1);
    }
    if (flush_due <= now) {
      flush();
      flush_due = now + options_.flush_interval;
    }
    lock.lock();
  }
}

std::vector<MetricFamily> Telemetry::latest() const {
  std::vector<MetricFamily> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, families] : latest_)
      out.insert(out.end(), families.begin(), families.end());
    out.push_back({"aion_metrics_persisting",
                   "1 while metrics are written to disk, 0 after a failed flush (disk full)",
                   MetricType::kGauge,
                   {{{}, persisting_ ? 1.0 : 0.0}}});
    out.push_back({"aion_metrics_last_flush_timestamp_seconds",
                   "When metrics were last written to disk",
                   MetricType::kGauge,
                   {{{}, static_cast<double>(last_flush_ms_) / 1000}}});
    out.push_back({"aion_anomalies_total",
                   "Samples the streaming detector reported as anomalies (events of kind anomaly)",
                   MetricType::kCounter,
                   {{{}, static_cast<double>(anomalies_)}}});
    out.push_back({"aion_metrics_rejected_samples_total",
                   "Samples the store refused (clock stepped back) or collections that failed",
                   MetricType::kCounter,
                   {{{}, static_cast<double>(collect_errors_)}}});
  }
  if (db_) {
    auto st = db_->stats();
    out.push_back({"aion_metrics_series",
                   "Series in the metrics store",
                   MetricType::kGauge,
                   {{{}, static_cast<double>(st.series)}}});
    out.push_back({"aion_metrics_samples",
                   "Samples in the metrics store",
                   MetricType::kGauge,
                   {{{}, static_cast<double>(st.samples)}}});
    out.push_back({"aion_metrics_memory_bytes",
                   "Compressed sample bytes held in memory",
                   MetricType::kGauge,
                   {{{}, static_cast<double>(st.memory_bytes)}}});
    out.push_back({"aion_metrics_disk_bytes",
                   "Bytes of metric block files on disk",
                   MetricType::kGauge,
                   {{{}, static_cast<double>(st.disk_bytes)}}});
  }
  return out;
}

}  // namespace aion::telemetry
