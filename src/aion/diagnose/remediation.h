// Remediation: playbooks (data/playbooks/*.toml) turned into concrete steps for one
// incident, shown as a dry run or executed with an approval, every executed step and every
// refusal written to the append-only audit log with who asked and who approved.
//
// A playbook's steps use a fixed set of actions (the mechanisms live here; which steps and
// which commands are data):
//   drain_gpu        no new job is placed on the incident's GPUs (aion's scheduler)
//   reset_gpu        runs the step's `command` once per GPU ({gpu} = its index, {pci})
//   restart_service  runs the step's `command` ({service} = the step's service)
//   requeue_jobs     submits the incident's failed jobs again through the scheduler
//   mark_unhealthy   writes <state_dir>/health/unhealthy ("<incident id> <title>" and the
//                    time), which the Slurm HealthCheckProgram and the Kubernetes node
//                    plugin read; removing the file marks the node healthy again
// Commands run through run_process (no shell), with the configured environment.
// Thread-safe: remediate() may be called from several threads (each call is independent).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/diagnose/incident.h"
#include "aion/diagnose/incident_store.h"

namespace aion::diagnose {

inline constexpr int kPlaybookSchemaVersion = 1;

struct PlaybookStep {
  std::string action;                // see above
  std::vector<std::string> command;  // argv template for reset_gpu / restart_service
  std::string service;               // restart_service
};

struct Playbook {
  std::string id;
  std::string title;
  std::string description;
  std::vector<PlaybookStep> steps;
  std::string file;
};

// Every *.toml in `dir`; kConfig naming the file and step for anything invalid.
Result<std::vector<Playbook>> load_playbooks(const std::filesystem::path& dir);
Result<Playbook> parse_playbook(std::string_view text, const std::string& file);

struct PlannedStep {
  int number = 0;
  std::string action;
  std::string description;        // what it does, in words
  std::vector<std::string> argv;  // the command, for command steps
  std::string target;             // "gpu:0", "job:12", "service:nvidia-persistenced"
  std::string problem;            // non-empty: the step cannot run (why)
};

struct Plan {
  std::int64_t incident_id = 0;
  std::string playbook;
  std::string title;
  bool automatic = false;  // listed in diagnose.automatic_playbooks
  std::vector<PlannedStep> steps;
};

struct StepResult {
  PlannedStep step;
  std::string outcome;  // ok | failed | skipped
  std::string detail;
};

// How steps reach the rest of the node; aiond wires these to the scheduler.
struct RemediationHooks {
  std::function<Status(int gpu, const std::string& reason)> drain_gpu;
  std::function<Result<std::int64_t>(std::int64_t job)> requeue_job;  // the new job's id
  std::filesystem::path health_dir;                                   // <state_dir>/health
  // Added to the commands' environment; its PATH (when set) is where commands are found.
  std::map<std::string, std::string> env;
  std::chrono::milliseconds command_timeout{120'000};
};

struct RemediateRequest {
  std::string playbook;  // "" = the top hypothesis's playbook
  bool dry_run = true;
  bool approve = false;     // explicit approval by the caller
  bool privileged = false;  // the caller is an operator or admin
  std::string caller;       // "uid:1000 (alice)"
};

struct RemediateOutcome {
  Plan plan;
  bool executed = false;
  std::vector<StepResult> steps;
};

class Remediator {
 public:
  Remediator(std::vector<Playbook> playbooks, std::set<std::string> automatic, IncidentStore* audit,
             RemediationHooks hooks);

  const std::vector<Playbook>& playbooks() const { return playbooks_; }
  // The steps the playbook would run for this incident. kNotFound for an unknown playbook
  // or an incident none of whose hypotheses has one.
  Result<Plan> plan(const Incident& incident, const std::string& playbook = "") const;
  // Dry run: the plan. Otherwise: kPermissionDenied unless privileged, and unless approved
  // or automatic; refusals and every step are audited. Stops at the first failed step (the
  // rest are reported as skipped).
  Result<RemediateOutcome> remediate(const Incident& incident, const RemediateRequest& request);

 private:
  std::vector<Playbook> playbooks_;
  std::set<std::string> automatic_;
  IncidentStore* audit_;
  RemediationHooks hooks_;
};

}  // namespace aion::diagnose
