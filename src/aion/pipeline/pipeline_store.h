// PipelineStore: the durable state of pipeline runs in aiond's SQLite store (module
// "pipeline" migrations): pipeline_runs (one per submitted run, with the parsed spec as JSON),
// stage_runs (one row per stage of a run: state, attempt, job, fingerprint, retry time),
// artifacts (each output a succeeded stage wrote: path, size, XXH3-128, the fingerprint,
// command and inputs that made it) and pipeline_services (the live version of each service
// stage, keyed by pipeline name + stage name, so a restarted daemon re-opens its proxy).
// Every method is one short store::Store::with() call (multi-row writes in one transaction),
// so a PipelineStore is thread-safe as its Store is; it holds no state of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/json.h"
#include "aion/store/store.h"

namespace aion::pipeline {

enum class RunState { kPending, kRunning, kSucceeded, kFailed, kCancelled };
// kSubmitting: the engine decided to submit attempt `attempt` and wrote so before calling the
// scheduler; the job id follows in the next write (see pipeline_runner.h on the window).
enum class StageState {
  kPending,
  kWaiting,  // failed, another attempt at next_try_ms
  kSubmitting,
  kRunning,  // a job is submitted (queued or running); for a service: not yet healthy
  kSucceeded,
  kFailed,
  kCancelled,
  kSkipped,  // unchanged since a succeeded run whose outputs still exist
};

std::string_view to_string(RunState s);
std::string_view to_string(StageState s);
std::optional<RunState> run_state_from(std::string_view s);
std::optional<StageState> stage_state_from(std::string_view s);
inline bool is_terminal(RunState s) {
  return s == RunState::kSucceeded || s == RunState::kFailed || s == RunState::kCancelled;
}
inline bool is_terminal(StageState s) {
  return s == StageState::kSucceeded || s == StageState::kFailed || s == StageState::kCancelled ||
         s == StageState::kSkipped;
}

struct RunRecord {
  std::int64_t id = 0;
  std::string name;
  std::string spec_json;
  std::uint32_t owner_uid = 0, owner_gid = 0;
  std::string user;
  RunState state = RunState::kPending;
  std::string message;
  std::int64_t created_ms = 0, updated_ms = 0;
  bool force = false;
};

struct StageRecord {
  std::int64_t run_id = 0;
  std::string stage;
  StageState state = StageState::kPending;
  int attempt = 0;  // of the current or last job, 1-based; 0 = never submitted
  std::int64_t job_id = 0;
  std::string fingerprint;
  std::int64_t next_try_ms = 0;  // wall ms, when waiting
  std::string message;
  std::int64_t started_ms = 0, ended_ms = 0;  // started: submitted (attempt 1); ended: terminal
  std::int64_t attempt_start_ms = 0;          // this attempt's job first seen running (timeout)
  int backend_port = 0;                       // service: the port this version listens on
  std::int64_t live_job_id = 0;               // service: the job of the healthy version
  // Bumped when the stage starts over (retry of the run, restart of a service), so that job
  // names stay unique per stage run: "pipeline-<run>-<stage>-<attempt>" or, from generation 1,
  // "pipeline-<run>-<stage>-g<generation>-<attempt>".
  int generation = 0;
  // The inputs as hashed for the fingerprint when the stage started (JSON array, as in
  // ArtifactRecord::inputs_json): what the artifacts record, even when the stage rewrote an
  // input in place.
  std::string inputs_json;
};

struct ArtifactRecord {
  std::int64_t id = 0;
  std::int64_t run_id = 0;
  std::string stage;
  std::string path;
  std::uint64_t size = 0;
  std::string xxh3;           // hex
  std::string kind = "file";  // "file" | "dir"
  std::string fingerprint;
  std::string command_json;  // JSON array of argv
  // JSON array, one entry per input: {path, xxh3, kind} or
  // {dataset, version, version_id, manifest_id, root}.
  std::string inputs_json;
  std::int64_t created_ms = 0;
};

// The live version of a service stage.
struct ServiceRecord {
  std::string pipeline;
  std::string stage;
  int port = 0;          // the stable proxy port
  int backend_port = 0;  // where the live version listens
  std::int64_t job_id = 0;
  std::int64_t run_id = 0;
  std::int64_t updated_ms = 0;
};

Json to_json(const RunRecord& r);  // spec_json is left out (see the run's stages instead)
Json to_json(const StageRecord& s);
Json to_json(const ArtifactRecord& a);
Json to_json(const ServiceRecord& s);

// Lineage recursion bound: deeper chains end with "truncated": true.
inline constexpr int kMaxLineageDepth = 32;

class PipelineStore {
 public:
  explicit PipelineStore(store::Store& store) : store_(store) {}
  static std::span<const store::Migration> migrations();

  // Inserts the run and its stages (all pending) in one transaction; returns the run id.
  Result<std::int64_t> insert_run(const RunRecord& run, const std::vector<StageRecord>& stages);
  Result<RunRecord> run(std::int64_t run_id);  // kNotFound "no pipeline run N"
  // Newest first; `unfinished_only`: pending or running.
  Result<std::vector<RunRecord>> runs(std::optional<std::uint32_t> only_uid,
                                      bool unfinished_only = false);
  Result<std::vector<StageRecord>> stages(std::int64_t run_id);
  Status set_run_state(std::int64_t run_id, RunState state, std::string_view message,
                       std::int64_t now_ms);
  // Replaces the stage's row (by run_id + stage).
  Status put_stage(const StageRecord& stage);
  // Writes several stage rows (and optionally the run's state) in one transaction.
  Status put_stages(const std::vector<StageRecord>& stages,
                    std::optional<RunState> run_state = std::nullopt, std::int64_t now_ms = 0,
                    std::string_view run_message = {});
  // A stage's success: its row, its artifacts and, for a service stage that became live, its
  // service record, in one transaction.
  Status finish_stage(const StageRecord& stage, const std::vector<ArtifactRecord>& artifacts,
                      const std::optional<ServiceRecord>& service = std::nullopt);
  // Service stage rows that still name a live job (live_job_id) which is no longer the live
  // version of their pipeline + stage: versions replaced or stopped whose job may still run.
  Result<std::vector<StageRecord>> stale_live_versions();
  Status clear_live(std::int64_t run_id, std::string_view stage);

  // The newest succeeded stage run of a pipeline called `pipeline`, stage `stage`, with
  // `fingerprint`, in a run other than `exclude_run`; nullopt when none.
  Result<std::optional<StageRecord>> find_succeeded(std::string_view pipeline,
                                                    std::string_view stage,
                                                    std::string_view fingerprint,
                                                    std::int64_t exclude_run);
  // Artifacts of a run (all runs when nullopt), oldest first.
  Result<std::vector<ArtifactRecord>> artifacts(std::optional<std::int64_t> run_id);
  Result<std::vector<ArtifactRecord>> stage_artifacts(std::int64_t run_id, std::string_view stage);

  // The newest artifact at `path` (kNotFound when none), the stage run that made it, its inputs
  // and, for each input path that is itself an artifact (newest with that path and hash), its
  // lineage, recursively: {"artifact":{...},"stage":{...},"inputs":[{..., "lineage":{...}}]}.
  // Bounded at kMaxLineageDepth and cycle-safe (an artifact seen on the path is not entered
  // again: "cycle": true).
  Result<Json> lineage(const std::string& path);

  Result<std::vector<ServiceRecord>> services();
  Result<std::optional<ServiceRecord>> service(std::string_view pipeline, std::string_view stage);
  Status put_service(const ServiceRecord& s);
  Status remove_service(std::string_view pipeline, std::string_view stage);

 private:
  store::Store& store_;
};

}  // namespace aion::pipeline
