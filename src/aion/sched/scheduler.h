// The queue policy: which pending jobs start now and where, which running jobs to preempt,
// and why the others wait. A pure function of the node, its allocations and the jobs, so it is
// tested without processes and timed by bench/sched_bench.
//
// Order: priority first (higher first, strictly); among equal priorities, the queue's weight
// times the user's fair-share factor 1 / (1 + usage / mean usage), where usage is the
// resources a user held (GPU-seconds, plus CPU-seconds / 8 for CPU-only work) decayed with
// a half-life; then submission order. Jobs are tried in that order and each one that fits
// starts (a blocked job does not block smaller ones behind it), except that a job that waited
// longer than `starvation_after` holds the line: nothing behind it starts until it does.
//
// Per-user limits: a user may hold at most `max_running_per_user` running jobs (0: no limit);
// a pending job of a user at that limit waits (and does not hold the line), whatever its
// rank. The pending cap is checked at submission (check_pending_limit), not here.
//
// Gang: placement gives a job all of its GPUs or none, so no job ever holds part of a set.
//
// Preemption: a blocked job may stop running jobs of a lower priority when stopping them
// frees enough for it; the fewest, lowest-priority, most recently started victims are chosen.
//
// GPU shares: the GPU a share goes to is chosen by `share_policy`, a placement policy of the
// cluster library (the one the simulator and the Kubernetes extender use), with this node as a
// one-node cluster. fgd and fgd-pack measure fragmentation against the node's own workload:
// the requests of its pending and running jobs. "local" keeps placement's built-in best fit.
// Whole-GPU sets are always chosen by placement's topology ranking (NVLink, PCIe, NUMA),
// which sees more of one node than the cluster policies do.
//
// Thread-safety: make_plan(), rank_pending() and the checks are pure functions; thread-safe.
// A FairShare is not thread-safe: its owner (the JobManager, under its mutex) serialises it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aion/sched/job.h"
#include "aion/sched/placement.h"

namespace aion::sched {

struct PolicyConfig {
  std::map<std::string, double> queue_weights = {{"default", 1.0}};
  double fairshare_half_life_s = 3600;
  std::int64_t starvation_after_ms = 10 * 60 * 1000;
  bool preemption = true;
  std::string share_policy = "fgd";  // a cluster::policy_names() entry, or "local"
  int max_running_per_user = 0;      // 0: no limit (sched.max_running_per_user)
  int max_pending_per_user = 1000;   // 0: no limit (sched.max_pending_per_user)
};

// Whether user `user` (uid `uid`), who has `pending` jobs waiting now, may queue one more
// under config.max_pending_per_user. Root (uid 0) is not capped: root can stop aiond anyway,
// and the node's own automation (remediation requeues, pipelines) submits as root; the
// node-wide sched.max_pending still bounds everyone. kResourceExhausted naming the limit,
// the count and what to do.
Status check_pending_limit(const PolicyConfig& config, std::string_view user, std::uint32_t uid,
                           int pending);

// Whether `name` is a share policy PolicyConfig takes; kInvalidArgument naming the known ones.
Status check_share_policy(std::string_view name);

// Decayed per-user usage. Not thread-safe; owned by the scheduler loop.
class FairShare {
 public:
  explicit FairShare(double half_life_s = 3600) : half_life_ms_(half_life_s * 1000) {}
  void add(const std::string& user, double units, std::int64_t now_ms);
  double usage(const std::string& user, std::int64_t now_ms) const;
  // 1 / (1 + usage / mean usage over users with usage); 1 when nobody used anything.
  double factor(const std::string& user, std::int64_t now_ms) const;

 private:
  struct Entry {
    double units = 0;
    std::int64_t at_ms = 0;
  };
  double decayed(const Entry& e, std::int64_t now_ms) const;
  double half_life_ms_;
  std::map<std::string, Entry, std::less<>> users_;
};

// What a running job contributes to fair share per second.
double usage_rate(const Request& r);

struct Plan {
  struct Start {
    std::int64_t job_id = 0;
    Allocation allocation;
    std::string why;
  };
  struct Preempt {
    std::int64_t for_job = 0;
    std::vector<std::int64_t> victims;
  };
  std::vector<Start> starts;
  std::vector<Preempt> preemptions;
  std::map<std::int64_t, std::string> waiting;  // pending job -> why it waits
  // Time spent in place() per job tried, for the benchmark (nanoseconds).
  std::vector<std::int64_t> decision_ns;
};

struct PlanInput {
  const NodeModel* model = nullptr;
  const NodeState* state = nullptr;  // allocations of every running job
  std::vector<const Job*> pending;   // any order
  std::vector<const Job*> running;   // with their allocations
  std::set<std::int64_t> stopping;   // running jobs already being preempted/cancelled
  const FairShare* fairshare = nullptr;
  std::int64_t now_ms = 0;
  bool measure = false;  // fill Plan::decision_ns
};

// Orders pending jobs (see above); exposed for `aion queue`.
std::vector<const Job*> rank_pending(const std::vector<const Job*>& pending,
                                     const FairShare& fairshare, const PolicyConfig& config,
                                     std::int64_t now_ms);

Plan make_plan(const PlanInput& in, const PolicyConfig& config);

}  // namespace aion::sched
