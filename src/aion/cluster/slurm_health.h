// The Slurm health check's facts and decision: which GPU or node faults are present (from the
// local inventory, the gres.conf the node runs with, aiond's event log and the diagnose
// module's "unhealthy" marker), what the node's Slurm state is, and whether to drain it,
// resume it or leave it. Everything here is a pure function over values or a read of one
// file, so the CLI only gathers inputs and runs scontrol. Thread-safe.
//
// Resume rule: aion resumes a node only when its current Slurm reason starts with "aion:"
// (kDrainPrefix), i.e. aion drained it, and no fault remains. A node drained by someone else is
// never touched, not even to replace the reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/cluster/slurm_gres.h"
#include "aion/core/error.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/hw/inventory.h"

namespace aion::cluster {

inline constexpr std::string_view kDrainPrefix = "aion: ";

struct Fault {
  std::string source;   // "local" (inventory vs gres.conf), "aiond" (event log), "marker"
  std::string message;  // "GPU 3 (0000:47:00.0) reported Xid 79 (NVML event)"
  int gpu = -1;         // accelerator index when the fault is one GPU's, -1: the whole node
};

// GPUs found vs expected: every accelerator whose state is not "ok" (NVML "GPU is lost",
// fell off the bus); every device of `expected` (a parsed gres.conf; may be empty) whose
// device node name (nvidia3) no discovered GPU has, or whose File= does not exist below
// check_root (skipped when check_root is empty).
std::vector<Fault> local_faults(const hw::Inventory& inventory,
                                const std::vector<GresDevice>& expected,
                                const std::vector<GresDevice>& discovered,
                                const std::filesystem::path& check_root);

// The diagnose module's marker, <state_dir>/health/unhealthy: its first line is the reason.
// nullopt when there is no marker; an error when it exists but cannot be read.
Result<std::optional<Fault>> marker_fault(const std::filesystem::path& state_dir);

// Unresolved faults in a GET /v1/events answer ({"events": [...]}): critical `gpu` events
// (Xid, double-bit ECC) at or after since_ms (the node's boot: a GPU that raised them needs a
// reset), and `hw_change` events whose device's latest event is critical (lost, gone).
std::vector<Fault> daemon_faults(const Json& events, std::int64_t since_ms);

// The node's boot time (from /proc/stat btime), in Unix milliseconds.
Result<std::int64_t> boot_time_ms(const HostFs& fs);

// What `scontrol show node NAME` says about the node.
struct NodeState {
  std::string state;   // "IDLE+DRAIN", "MIXED", ...
  std::string reason;  // "aion: GPU 3 ..." without the "[user@time]" suffix; "" when none
  bool drained() const;
  bool drained_by_aion() const { return reason.starts_with(kDrainPrefix); }
};
Result<NodeState> parse_scontrol_node(std::string_view text, const std::string& node_name);

enum class HealthAction { kNone, kDrain, kResume };

struct HealthDecision {
  HealthAction action = HealthAction::kNone;
  std::string reason;  // for kDrain: "aion: <first fault> (+N more)"
  std::string why;     // one line for the operator's log
};

HealthDecision decide_health(const std::vector<Fault>& faults, const NodeState& node);

// The job's GPU indices from the environment Slurm gives a prolog/epilog (SLURM_JOB_GPUS)
// or a job step (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES); empty text -> no GPUs.
Result<std::vector<int>> parse_job_gpus(std::string_view text);

}  // namespace aion::cluster
