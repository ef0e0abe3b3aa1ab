// The pipeline routes and the bridges the engine needs from the rest of the node.
//
// POST /v1/pipelines takes a pipeline file's text (and the directory its relative paths are
// read from), parses and validates it against this node (a cycle, an unknown stage, a missing
// input, a command the owner cannot run, more GPUs, CPUs or memory than the node has: refused
// before anything runs, naming the stage and the field) and stores the run. A run belongs to
// the caller (a token names a user of its run-as list, as for jobs); its owner and admins see
// its stages, commands and artifacts and may cancel or retry it.
//
// SchedLauncher runs stages as jobs of the node's scheduler. catalog_datasets() resolves a
// stage's `dataset:NAME[@VERSION]` inputs in the owner's own catalog (root: the daemon's state
// directory; a user: ~/.local/state/aion), opened read-only and only when that file is a
// regular file the owner owns.
//
// Thread-safety: routes are added before the server starts; handlers, SchedLauncher and the
// resolver are called from any thread (JobManager and PipelineService are thread-safe).
#pragma once

#include <filesystem>

#include "aion/api/router.h"
#include "aion/core/host_fs.h"
#include "aion/pipeline/pipeline_runner.h"
#include "aion/sched/runner.h"

namespace aion::api {

class SchedLauncher final : public pipeline::JobLauncher {
 public:
  explicit SchedLauncher(sched::JobManager& jobs) : jobs_(jobs) {}
  Result<std::int64_t> submit(const sched::JobSpec& spec) override;
  Result<pipeline::JobStatus> status(std::int64_t job_id) override;
  Status cancel(std::int64_t job_id) override;
  Result<std::optional<std::int64_t>> find(const std::string& job_name) override;

 private:
  sched::JobManager& jobs_;
};

// The resolver for dataset inputs; `daemon_state_dir` holds root's catalog.
pipeline::DatasetResolver catalog_datasets(std::filesystem::path daemon_state_dir);

void add_pipeline_routes(Router& router, pipeline::PipelineService& pipelines,
                         sched::JobManager& jobs, HostFs host);

}  // namespace aion::api
