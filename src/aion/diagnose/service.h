// The diagnosis service in aiond: the catalog, the engine fed by the EventLog (polled on a
// thread of its own) and by the log sources (on_log_line), incidents persisted as they
// change, a `incident` event when one opens, remediation and doctor on request.
//
// Thread-safety: create(), start() and stop() belong to the daemon's controlling thread.
// Log sources call on_log_line(source, time, text) from any thread; doctor(), engine(),
// incidents(), remediator() and catalog() are thread-safe (each object they return is), so
// the API calls them from any worker. One thread follows the EventLog.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "aion/core/clock.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/doctor.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/incident_store.h"
#include "aion/diagnose/matcher.h"
#include "aion/diagnose/remediation.h"
#include "aion/store/event_log.h"

namespace aion::diagnose {

struct DiagnoseOptions {
  bool enabled = true;
  std::filesystem::path signatures_dir;  // default <data_dir>/signatures
  std::filesystem::path playbooks_dir;   // default <data_dir>/playbooks
  std::chrono::milliseconds window{300'000};
  std::chrono::milliseconds poll_interval{1000};
  std::set<std::string> automatic_playbooks;
  std::chrono::milliseconds command_timeout{120'000};
  std::filesystem::path state_dir;
  std::filesystem::path host_root = "/";
  std::string nvml_library;
  // Doctor results are reused for this long: callers in between share one run (one NVML load).
  std::chrono::milliseconds doctor_cache{30'000};
};

// The doctor's checks, computed at most once per `period` and shared by every caller: the
// first caller after the period computes (outside the lock), callers that arrive meanwhile
// wait for that run instead of starting their own. Thread-safe.
class DoctorCache {
 public:
  using Compute = std::function<std::vector<DoctorCheck>()>;
  DoctorCache(Compute compute, std::chrono::milliseconds period, const Clock& clock)
      : compute_(std::move(compute)), period_(period), clock_(clock) {}

  std::vector<DoctorCheck> get();

 private:
  Compute compute_;
  std::chrono::milliseconds period_;
  const Clock& clock_;
  std::mutex mu_;  // guards computing_, computed_at_, checks_, generation_; cv_ waits on it
  std::condition_variable cv_;
  bool computing_ = false;                       // guarded by mu_
  std::optional<Clock::Monotonic> computed_at_;  // guarded by mu_
  std::vector<DoctorCheck> checks_;              // guarded by mu_
  std::uint64_t generation_ = 0;                 // guarded by mu_; +1 per finished run
};

// The [diagnose] section of the config.
ConfigSchema diagnose_config_schema();
Result<DiagnoseOptions> diagnose_options(const Config& config,
                                         const std::filesystem::path& state_dir);

// Loads the catalog and playbooks of the options (the CLI's offline commands use this too).
struct Knowledge {
  Catalog catalog;
  std::unique_ptr<Matcher> matcher;
  std::vector<Playbook> playbooks;
};
Result<std::unique_ptr<Knowledge>> load_knowledge(const DiagnoseOptions& options);

// Whether job `job` of this node's scheduler ran at `time_ms` (EngineOptions::job_ran_at).
using JobRanAt = std::function<bool(std::int64_t job, std::int64_t time_ms)>;

class DiagnoseService {
 public:
  // gpu_by_pci: the inventory's GPUs ("0000:07:00.0" -> index). hooks: how remediation
  // reaches the scheduler (health_dir is filled in from the state directory).
  static Result<std::unique_ptr<DiagnoseService>> create(
      DiagnoseOptions options, store::Store& store, store::EventLog& events,
      std::map<std::string, int> gpu_by_pci, RemediationHooks hooks, JobRanAt job_ran_at = {});
  ~DiagnoseService();

  // Starts following the EventLog from its current end.
  void start();
  void stop();

  // For the log sources: a kernel/journal/file/job-log line and its origin (see
  // Engine::on_log_line). Thread-safe.
  void on_log_line(std::string_view source, Clock::Wall time, std::string_view text,
                   std::string_view origin = {}) {
    engine_->on_log_line(source, time, text, origin);
  }

  Engine& engine() { return *engine_; }
  IncidentStore& incidents() { return incidents_; }
  Remediator& remediator() { return *remediator_; }
  const Catalog& catalog() const { return knowledge_->catalog; }
  std::vector<DoctorCheck> doctor();
  // Resolves an open incident (IncidentStore::resolve), stops the engine adding to it and
  // records an "incident" event. kNotFound, kConflict.
  Result<Incident> resolve(std::int64_t id, const std::string& by, const std::string& note);

 private:
  DiagnoseService(DiagnoseOptions options, store::Store& store, store::EventLog& events,
                  std::unique_ptr<Knowledge> knowledge);
  void loop();

  DiagnoseOptions options_;
  store::EventLog& events_;
  std::unique_ptr<Knowledge> knowledge_;
  IncidentStore incidents_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Remediator> remediator_;
  std::set<std::int64_t> known_;  // incidents already announced (listener only: the Engine's
                                  // listener_mu_ keeps its calls one at a time)
  DoctorCache doctor_cache_;

  std::mutex mu_;  // guards stopping_; cv_ waits on it
  std::condition_variable cv_;
  bool stopping_ = false;
  std::int64_t last_event_ = 0;  // the loop thread's (set by start() before it runs)
  std::thread thread_;
};

}  // namespace aion::diagnose
