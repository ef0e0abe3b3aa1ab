// PipelineService: the engine that runs pipelines on this node. It turns each stored run into
// jobs of the node's scheduler (through JobLauncher), one stage at a time as its dependencies
// finish, with retries, backoff, checkpoint resume, timeouts, skipping of unchanged stages,
// artifacts with their lineage, and service stages kept behind a stable loopback proxy.
// All state lives in the store (PipelineStore); the service keeps only caches and proxies.
//
// Thread-safety: every public method may be called from any thread. One mutex (mu_) serializes
// tick() and the public methods that change runs, so the state machine is never stepped twice
// at once; the launcher and the dataset resolver are called with it held (they must not call
// back into the service). A service's health probe (at most kHealthProbeTimeoutMs) also runs
// inside tick(). The read-only methods (list, get, artifacts, lineage, services) only read the
// store and do not wait for mu_. Proxies run their own threads (pipeline_proxy.h).
//
// Durability. Each state change is written in a transaction before the engine acts on it:
//  - a stage is written "submitting" (attempt n, fingerprint) before JobLauncher::submit, and
//    "running" with the job id right after;
//  - a stage is written "succeeded" together with its artifacts only after its outputs are
//    hashed; nothing downstream starts before that write;
//  - a succeeded or skipped stage is never submitted again, by tick() or by start().
// The remaining window: a kill of aiond between submit() returning and the job id being
// written leaves a "submitting" stage whose job was queued. start() then asks
// JobLauncher::find() for a job of that name (pipeline run, stage and attempt are in the job's
// name) and follows it when found; when the launcher cannot tell (the default find()), the
// attempt is submitted again, so that one attempt of a not-yet-succeeded stage may run twice.
// A succeeded stage is never rerun.
//  - a service version becomes live in one transaction (its service record + its stage
//    succeeded); the proxy switches after it and the replaced version's job is cancelled last,
//    once the connections the proxy gave it before the switch have closed (kDrainMs at most).
//    A kill in between leaves the old job running until recover() cancels it (a sweep of
//    stage rows whose live job is no longer the live version).//
// Times stored (next_try_ms, deadlines) are wall-clock milliseconds so they survive a restart.
//
// Skipping: a batch stage whose fingerprint (command, env, cwd, outputs and the content of its
// inputs: file and directory hashes, dataset version + manifest ids) equals that of a
// succeeded stage run of a pipeline with the same name and stage name, whose recorded outputs
// still have the recorded hashes, is "skipped" unless the run is forced. Service stages are
// never skipped (each run deploys a version).
//
// Cost: inputs are hashed when a stage becomes ready and outputs when it succeeds. tick()
// hashes them before it takes mu_ (the path inputs of the stages ready to start, the outputs of
// the batch stages whose job succeeded), so a stage reading or writing many gigabytes does not
// hold up submit, cancel and retry; the state machine's step right after uses those hashes.
// Two cases still hash with mu_ held: the inputs of a stage that became ready within the same
// step through a dependency it does not read (its dependency's outputs were hashed ahead), and
// the recorded outputs of an earlier run checked before a stage is skipped. Read-only calls
// never wait for hashing.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/error.h"
#include "aion/core/json.h"
#include "aion/pipeline/pipeline_spec.h"
#include "aion/pipeline/pipeline_store.h"
#include "aion/sched/job.h"
#include "aion/store/store.h"

namespace aion::pipeline {

class ServiceProxy;

enum class JobPhase { kPending, kRunning, kSucceeded, kFailed, kCancelled, kGone };
struct JobStatus {
  JobPhase phase = JobPhase::kGone;
  int exit_code = 0;
  std::string reason;
};

// The node's scheduler as the engine sees it (aiond implements it over sched::JobManager;
// tests fake it). Must be thread-safe for calls from the engine's thread.
class JobLauncher {
 public:
  virtual ~JobLauncher() = default;
  // spec.uid/gid/user are set by the engine from the run's owner; spec.name is
  // "pipeline-<run id>-<stage>-<attempt>", "pipeline-<run id>-<stage>-g<n>-<attempt>" after
  // the stage started over n times (retry of the run, restart of a service; see find()). spec.env
  // holds the stage's env plus AION_PIPELINE_RUN, AION_STAGE, AION_ATTEMPT (1-based), on a retry
  // AION_RESUME_FROM (the newest entry of checkpoint_dir by mtime, when there is one),
  // AION_DATASET_<NAME> (the root of each dataset input) and, for a service, PORT (the loopback
  // port it must listen on).
  virtual Result<std::int64_t> submit(const sched::JobSpec& spec) = 0;
  // kGone when the launcher no longer knows the job.
  virtual Result<JobStatus> status(std::int64_t job_id) = 0;
  virtual Status cancel(std::int64_t job_id) = 0;
  // The id of a job submitted with this exact name (not yet ended, or ended), nullopt when
  // none or unknown. Used after a restart to close the submit window; the default cannot tell.
  virtual Result<std::optional<std::int64_t>> find(const std::string& /*job_name*/) {
    return std::optional<std::int64_t>{};
  }
};

// Resolves dataset inputs (name[@version]) to a version id + manifest id + root path, as the
// run's owner; aiond implements it; tests fake it.
struct DatasetInput {
  std::int64_t version_id = 0;
  std::string manifest_id;
  std::string root;
  std::string version;
};
using DatasetResolver = std::function<Result<DatasetInput>(
    std::uint32_t owner_uid, const std::string& name, const std::string& version)>;

struct Owner {
  std::uint32_t uid = 0, gid = 0;
  std::string user;
};
struct RunOptions {
  bool force = false;  // run every stage even when unchanged
};

// The content hash of a path a pipeline names: a file's XXH3-128, or a directory's over its
// sorted entries (relative path, size and hash of each; a link by its target text).
struct PathHash {
  std::string xxh3;
  std::uint64_t size = 0;
  std::string kind;  // "file" | "dir"
};

// How often the thread started by start() calls tick().
inline constexpr int kTickMs = 200;
// The health probe's connect + read timeout.
inline constexpr int kHealthProbeTimeoutMs = 1000;
// How long a replaced service version may finish the connections it still serves before it is
// stopped anyway.
inline constexpr std::int64_t kDrainMs = 30000;

class PipelineService {
 public:
  PipelineService(store::Store& store, JobLauncher& jobs, DatasetResolver datasets,
                  const Clock& clock);
  ~PipelineService();  // stops
  PipelineService(const PipelineService&) = delete;
  PipelineService& operator=(const PipelineService&) = delete;

  static std::span<const store::Migration> migrations();

  // Resumes unfinished runs from the store: never reruns a stage that succeeded; a stage whose
  // job the launcher still knows is followed again; a running stage whose job is gone is
  // retried from its checkpoint as a failed attempt; proxies of live services are re-opened.
  // Then a thread ticks every kTickMs. Call once.
  Status start();
  // Resumes like start() without the thread (tests tick by hand).
  Status recover();
  void stop();  // joins the thread and closes the proxies; jobs keep running

  // Stores a run (validated already by the caller); returns its id. Runs on the next tick.
  Result<std::int64_t> submit(PipelineSpec spec, Owner owner, RunOptions opts);
  // Runs (newest first) with their stages' states; only those of `only_uid` when set.
  Result<Json> list(std::optional<std::uint32_t> only_uid);
  // {"run":{...},"stages":[...],"artifacts":[...]}; kNotFound for an unknown id.
  Result<Json> get(std::int64_t run_id);
  // Marks every unfinished stage cancelled (written first), then cancels their jobs, and stops
  // the live services this run deployed (their proxies close). For a run that already ended:
  // stops its live services if it has any, else kConflict.
  Status cancel(std::int64_t run_id);
  // A failed or cancelled run: resets `stage` and every stage depending on it (transitively)
  // to pending, the run to running; with `stage` empty, every failed or cancelled stage and
  // its dependents. Succeeded stages outside that set are kept. kConflict for a run in another
  // state; kNotFound for an unknown stage.
  Status retry(std::int64_t run_id, const std::string& stage);
  Result<Json> artifacts(std::optional<std::int64_t> run_id);
  Result<Json> lineage(const std::string& path);
  // Live services: [{pipeline, stage, port, backend_port, job_id, run_id}].
  Result<Json> services();

  // One step of the state machine over every unfinished run and every live service, after
  // hashing (without mu_) the paths that step will read.
  void tick();
  // Called with each path tick() is about to hash ahead of its step, on the ticking thread
  // without mu_ held (a progress display; tests hold it to see what waits meanwhile). Set
  // before start().
  void set_hash_observer(std::function<void(const std::string& path)> observer);

 private:
  struct LoadedRun;
  // (owner uid, owner gid, path).
  using HashKey = std::tuple<std::uint32_t, std::uint32_t, std::string>;
  void tick_locked();
  // The paths the next step will hash: inputs of the stages ready to start, outputs of the
  // batch stages whose job succeeded. With mu_ held.
  std::vector<HashKey> paths_to_hash();
  // `path` hashed with the owner's rights: from prehashed_ when tick() hashed it ahead, else
  // now. With mu_ held.
  Result<PathHash> hash_for(const std::string& path, const RunRecord& owner);
  Status tick_run(std::int64_t run_id);
  Status tick_services();
  Status recover_locked();
  Result<LoadedRun> load(std::int64_t run_id);
  std::int64_t now_ms() const;

  // Stage steps; each writes its new state before acting.
  Status step_stage(LoadedRun& run, StageRecord& st);
  Status start_stage(LoadedRun& run, StageRecord& st);
  Status submit_attempt(LoadedRun& run, StageRecord& st, int attempt);
  Status follow_job(LoadedRun& run, StageRecord& st);
  Status follow_service(LoadedRun& run, StageRecord& st);
  Status stage_failed(LoadedRun& run, StageRecord& st, const std::string& why, bool may_retry);
  Status stage_succeeded(LoadedRun& run, StageRecord& st,
                         const std::optional<ServiceRecord>& service = std::nullopt);
  // Cancels the jobs of service versions that are no longer live (replaced or stopped), each
  // once its proxy forwards no connection to it any more (at most kDrainMs after the switch).
  Status sweep_replaced_versions();
  // Whether a replaced version still answers connections the proxy gave it before the switch
  // (and the drain has not run out); records when its drain began.
  bool still_serving(const StageRecord& old);
  Status finish_run_if_done(LoadedRun& run);
  Result<std::string> fingerprint(const LoadedRun& run, const StageSpec& stage,
                                  std::string* inputs_json);
  Result<bool> unchanged(const LoadedRun& run, const StageSpec& stage,
                         const std::string& fingerprint, std::string* message);
  sched::JobSpec job_spec(const LoadedRun& run, const StageSpec& stage, const StageRecord& st,
                          int attempt, int service_port);
  ServiceProxy* proxy_for(const std::string& pipeline, const std::string& stage, int port);

  store::Store& store_;
  PipelineStore db_;
  JobLauncher& jobs_;
  DatasetResolver datasets_;
  const Clock& clock_;

  // Guards the state machine: tick(), the run-changing methods, proxies_, draining_since_ and
  // prehashed_.
  std::mutex mu_;
  // Replaced service versions waiting for their open connections: (run, stage) -> since (ms).
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> draining_since_;
  // What tick() hashed before its step, for that step only.
  std::map<HashKey, Result<PathHash>> prehashed_;
  std::function<void(const std::string&)> hash_observer_;  // set before start()
  // Open proxies by (pipeline name, stage name).
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ServiceProxy>> proxies_;

  // Guards stopping_ (the ticker waits on stop_cv_ between ticks).
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread ticker_;
};

// A plain HTTP/1.0 GET of http://127.0.0.1:<port><path> with `timeout_ms` for connect and
// reply; true when the status is 200. Thread-safe.
bool http_health_ok(int port, const std::string& path, int timeout_ms);
// A loopback TCP port that was free a moment ago (the kernel picks it); kUnavailable when no
// socket could be had. Thread-safe.
Result<int> pick_free_port();

}  // namespace aion::pipeline
