// PipelineSpec: a pipeline file (TOML) as values. A pipeline is a named DAG of stages; each
// stage is one job (argv, cwd, env, resources) with declared inputs (paths or dataset
// versions) and outputs, retries with exponential backoff, an optional timeout and checkpoint
// directory, and either runs to completion (batch) or stays up behind a stable port (service).
// parse_pipeline() reads the text, validate() checks the whole graph against the node and
// orders it. Values and pure functions (validate() only stats input paths); thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::pipeline {

// Bounds that keep a mistyped file from holding the node: retries and timeouts are generous.
inline constexpr int kMaxRetries = 100;
inline constexpr int kMaxBackoffS = 300;  // also the cap of backoff_s * 2^(n-1)
inline constexpr int kMaxStages = 1000;

struct ServiceSpec {
  int port = 0;  // the stable loopback port clients use (1..65535)
  std::string health_path = "/health";
  int health_timeout_s = 60;
  bool restart = true;  // resubmit (with backoff) when the live version's job ends
};

struct InputRef {
  std::string path;  // resolved absolute path, or empty for a dataset
  std::string dataset;
  std::string dataset_version;  // "" = latest
};

struct StageSpec {
  std::string name;
  std::vector<std::string> command;  // argv, never empty after parse
  std::string cwd;                   // absolute
  std::map<std::string, std::string> env;
  std::vector<InputRef> inputs;
  std::vector<std::string> outputs;  // absolute
  std::vector<std::string> depends_on;
  int gpus = 0;
  double gpu_share = 0;  // a share of one GPU in (0,1); 0 = none
  int cpus = 1;
  std::uint64_t memory_bytes = 0;
  int retries = 0;             // extra attempts after a failure
  int backoff_s = 1;           // before retry n: backoff_s * 2^(n-1), capped at kMaxBackoffS
  int timeout_s = 0;           // 0 = none
  std::string checkpoint_dir;  // absolute or ""
  bool service = false;
  ServiceSpec svc;
};

struct PipelineSpec {
  std::string name;
  std::filesystem::path file_dir;
  std::vector<StageSpec> stages;  // in a valid topological order after validate
};

// Parses a pipeline file. Relative cwd is taken from `file_dir`; relative inputs, outputs and
// checkpoint_dir from the stage's cwd; "dataset:NAME[@VERSION]" names a dataset. Unknown keys
// and wrong types are errors. Errors are kInvalidArgument naming the stage and field:
// "stage 'train': field 'retries': must be 0..100"; a TOML syntax error names line:column.
Result<PipelineSpec> parse_pipeline(std::string_view toml_text,
                                    const std::filesystem::path& file_dir);

struct NodeCapacity {
  int gpus = 0;
  int cpus = 0;
  std::uint64_t memory_bytes = 0;  // 0 = not checked
};

// Rejects before anything runs, naming stage and field (kInvalidArgument): a cycle in
// depends_on ("stage 'a': field 'depends_on': cycle a -> b -> a"), an unknown stage in
// depends_on, a missing input (a path input that neither exists nor is an output of a stage it
// depends on, directly or transitively, nor lies inside such an output directory), a duplicate
// stage name, outputs written by two stages, resources the node cannot give (more
// gpus/cpus/memory than `cap`; a GPU share needs at least one GPU), a service stage without a
// port or two service stages on one port, an empty command. On success orders `spec.stages`
// topologically (file order among stages that are ready together).
Status validate(PipelineSpec& spec, const NodeCapacity& cap);

// The spec as JSON text (stored with a run, so a restarted daemon re-reads it without the
// file) and back. spec_from_json(spec_to_json(s)) == s field for field.
std::string spec_to_json(const PipelineSpec& spec);
Result<PipelineSpec> spec_from_json(std::string_view json_text);

// backoff_s * 2^(attempt_after_failure-1) capped at kMaxBackoffS, in seconds; n >= 1.
int backoff_seconds(int backoff_s, int n);

}  // namespace aion::pipeline
