#include "aion/sched/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <tuple>

#include "aion/cluster/fragmentation.h"
#include "aion/cluster/policy.h"

namespace aion::sched {

Status check_share_policy(std::string_view name) {
  if (name == "local") return {};
  const cluster::WorkloadDistribution probe;
  if (auto p = cluster::make_policy(name, &probe); !p) {
    return fail(
        ErrorCode::kInvalidArgument, "unknown share policy '" + std::string(name) +
                                         "' (known: local, " +
                                         [] {
                                           std::string k;
                                           for (auto n : cluster::policy_names())
                                             k += (k.empty() ? "" : ", ") + std::string(n);
                                           return k;
                                         }() +
                                         ")");
  }
  return {};
}

namespace {

// The share policy for one planning pass, with the node's workload (the requests of its
// pending and running jobs) as fgd's target; null for "local" or when no share is pending.
struct SharePolicy {
  cluster::WorkloadDistribution workload;
  std::unique_ptr<cluster::Policy> policy;
};

std::unique_ptr<SharePolicy> share_policy_for(const PlanInput& in, const PolicyConfig& config) {
  if (config.share_policy == "local") return nullptr;
  bool any_share = false;
  for (const Job* j : in.pending) any_share = any_share || j->spec.resources.gpu_fraction > 0;
  if (!any_share) return nullptr;
  std::vector<cluster::PodRequest> pods;
  pods.reserve(in.pending.size() + in.running.size());
  for (const auto* list : {&in.pending, &in.running})
    for (const Job* j : *list) pods.push_back(pod_request(j->spec.resources));
  auto sp = std::make_unique<SharePolicy>();
  sp->workload = cluster::WorkloadDistribution::from_requests(pods, 1.0);
  auto p = cluster::make_policy(config.share_policy, &sp->workload);
  if (!p) return nullptr;  // checked when the configuration was read
  sp->policy = std::move(*p);
  return sp;
}

}  // namespace

double FairShare::decayed(const Entry& e, std::int64_t now_ms) const {
  if (half_life_ms_ <= 0) return e.units;
  double dt = static_cast<double>(std::max<std::int64_t>(0, now_ms - e.at_ms));
  return e.units * std::exp2(-dt / half_life_ms_);
}

void FairShare::add(const std::string& user, double units, std::int64_t now_ms) {
  Entry& e = users_[user];
  e.units = decayed(e, now_ms) + units;
  e.at_ms = now_ms;
}

double FairShare::usage(const std::string& user, std::int64_t now_ms) const {
  auto it = users_.find(user);
  return it == users_.end() ? 0 : decayed(it->second, now_ms);
}

double FairShare::factor(const std::string& user, std::int64_t now_ms) const {
  double total = 0;
  int n = 0;
  for (const auto& [u, e] : users_) {
    double d = decayed(e, now_ms);
    if (d > 0) {
      total += d;
      ++n;
    }
  }
  if (n == 0 || total <= 0) return 1;
  return 1 / (1 + usage(user, now_ms) / (total / n));
}

double usage_rate(const Request& r) {
  double gpus = r.gpus > 0 ? r.gpus : r.gpu_fraction;
  return gpus + r.cpus / 8.0;
}

namespace {

double queue_weight(const PolicyConfig& c, const std::string& q) {
  auto it = c.queue_weights.find(q);
  return it == c.queue_weights.end() ? 1.0 : it->second;
}

// Two requests that place identically (same shape): a failure for one is a failure for the
// other while the node state has not changed.
auto shape(const Request& r) {
  return std::tie(r.gpus, r.gpu_fraction, r.gpu_memory_bytes, r.gpu_model, r.accel_kind, r.cpus,
                  r.memory_bytes);
}

}  // namespace

std::vector<const Job*> rank_pending(const std::vector<const Job*>& pending,
                                     const FairShare& fairshare, const PolicyConfig& config,
                                     std::int64_t now_ms) {
  struct Keyed {
    const Job* job;
    double share;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(pending.size());
  std::map<std::string, double, std::less<>> factors;
  for (const Job* j : pending) {
    auto it = factors.find(j->spec.user);
    if (it == factors.end()) {
      it = factors.emplace(j->spec.user, fairshare.factor(j->spec.user, now_ms)).first;
    }
    keyed.push_back({j, queue_weight(config, j->spec.queue) * it->second});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    if (a.job->spec.priority != b.job->spec.priority) {
      return a.job->spec.priority > b.job->spec.priority;
    }
    if (a.share != b.share) return a.share > b.share;
    return a.job->id < b.job->id;
  });
  std::vector<const Job*> out;
  out.reserve(keyed.size());
  for (const auto& k : keyed) out.push_back(k.job);
  return out;
}

Status check_pending_limit(const PolicyConfig& config, std::string_view user, std::uint32_t uid,
                           int pending) {
  if (uid == 0 || config.max_pending_per_user <= 0 || pending < config.max_pending_per_user) {
    return {};
  }
  return fail(ErrorCode::kResourceExhausted,
              "user " + std::string(user) + " (uid " + std::to_string(uid) + ") already has " +
                  std::to_string(pending) + " pending jobs, the limit per user " +
                  "(sched.max_pending_per_user = " + std::to_string(config.max_pending_per_user) +
                  "); wait for some to start or cancel some (aion cancel), then submit again");
}

namespace {

// The running jobs to preempt for `job`: lower-priority ones not already stopping, the lowest
// priority and the most recently started first, taken until the job fits in `trial` (the
// state on entry), then pruned to those it needs. On success `trial` is the state without
// them; nullopt (and `trial` changed) when stopping all of them would not make room.
std::optional<std::vector<const Job*>> choose_victims(const PlanInput& in, const Job& job,
                                                      const std::set<std::int64_t>& stopping,
                                                      const PlaceOptions& popt, NodeState& trial) {
  const Request& req = job.spec.resources;
  std::vector<const Job*> victims;
  for (const Job* r : in.running) {
    if (r->spec.priority < job.spec.priority && r->allocation && !stopping.contains(r->id)) {
      victims.push_back(r);
    }
  }
  std::sort(victims.begin(), victims.end(), [](const Job* a, const Job* b) {
    if (a->spec.priority != b->spec.priority) return a->spec.priority < b->spec.priority;
    return a->start_ms > b->start_ms;
  });
  std::vector<const Job*> chosen;
  bool fits = false;
  for (const Job* v : victims) {
    trial.remove(*v->allocation);
    chosen.push_back(v);
    if (!place(*in.model, trial, req, 1, popt).candidates.empty()) {
      fits = true;
      break;
    }
  }
  if (!fits) return std::nullopt;
  // Keep only the victims that are needed: put each back and see if it still fits.
  for (std::size_t i = chosen.size(); i-- > 0;) {
    NodeState again = trial;
    again.add(*chosen[i]->allocation);
    if (!place(*in.model, again, req, 1, popt).candidates.empty()) {
      trial = std::move(again);
      chosen.erase(chosen.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return chosen;
}

}  // namespace

namespace {

// One planning pass: walks the ranked pending jobs, placing each on what the jobs before it
// left, or holding it back with the reason.
class Planner {
 public:
  Planner(const PlanInput& in, const PolicyConfig& config)
      : in_(in),
        config_(config),
        state_(*in.state),
        stopping_(in.stopping),
        shares_(share_policy_for(in, config)),
        popt_{.share_policy = shares_ ? shares_->policy.get() : nullptr} {
    // Running jobs per uid (stopping ones still count: they hold their share until they exit).
    if (config.max_running_per_user > 0) {
      for (const Job* r : in.running) ++running_of_[r->spec.uid];
    }
  }

  Plan run() {
    for (const Job* job : rank_pending(in_.pending, *in_.fairshare, config_, in_.now_ms)) {
      consider(*job);
    }
    return std::move(plan_);
  }

 private:
  void consider(const Job& job) {
    if (auto why = held_back(job)) {
      plan_.waiting[job.id] = *why;
      return;
    }
    std::string reason;
    if (try_start(job, reason)) return;
    // Blocked. Could lower-priority running jobs make room?
    const bool preempting = config_.preemption && try_preempt(job, reason);
    plan_.waiting[job.id] = reason;
    if (!preempting && job.submit_ms > 0 &&
        in_.now_ms - job.submit_ms > config_.starvation_after_ms) {
      line_holder_ = job.id;
    }
  }

  // Why the job waits whatever is free: its user's running limit, or a starving job first.
  std::optional<std::string> held_back(const Job& job) {
    if (config_.max_running_per_user > 0 &&
        running_of_[job.spec.uid] >= config_.max_running_per_user) {
      return "user " + job.spec.user + " has " + std::to_string(running_of_[job.spec.uid]) +
             " running jobs, the limit per user (sched.max_running_per_user)";
    }
    if (line_holder_) {
      return "behind job " + std::to_string(*line_holder_) +
             ", which has waited longest and goes first";
    }
    return std::nullopt;
  }

  // Places the job on what is free and plans its start; else `reason` says why not. A shape
  // that did not fit since the last start is not placed again.
  bool try_start(const Job& job, std::string& reason) {
    const Request& req = job.spec.resources;
    for (const auto& [r, why] : failed_shapes_) {
      if (shape(r) == shape(req)) {
        reason = why;
        return false;
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    PlacementResult res = place(*in_.model, state_, req, 1, popt_);
    if (in_.measure) {
      plan_.decision_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - t0)
                                      .count());
    }
    if (!res.candidates.empty()) {
      Candidate& c = res.candidates.front();
      state_.add(c.allocation);
      ++running_of_[job.spec.uid];
      plan_.starts.push_back({job.id, std::move(c.allocation), std::move(c.why)});
      failed_shapes_.clear();
      return true;
    }
    reason = res.reason;
    failed_shapes_.emplace_back(req, reason);
    return false;
  }

  // Plans the preemption of lower-priority running jobs that makes room for the job, and
  // holds what they free for it; false when no set of them would.
  bool try_preempt(const Job& job, std::string& reason) {
    NodeState trial = state_;
    auto chosen = choose_victims(in_, job, stopping_, popt_, trial);
    if (!chosen) return false;
    Plan::Preempt p{job.id, {}};
    for (const Job* v : *chosen) {
      p.victims.push_back(v->id);
      stopping_.insert(v->id);
    }
    plan_.preemptions.push_back(std::move(p));
    std::string ids;
    for (const Job* v : *chosen) ids += (ids.empty() ? "" : ", ") + std::to_string(v->id);
    reason = "preempting lower-priority job" + std::string(chosen->size() > 1 ? "s " : " ") + ids +
             " to make room";
    // What the victims free is this job's: hold it from the jobs ranked behind.
    state_ = std::move(trial);
    if (auto c = place(*in_.model, state_, job.spec.resources, 1, popt_); !c.candidates.empty()) {
      state_.add(c.candidates.front().allocation);
    }
    for (const Job* v : *chosen) state_.add(*v->allocation);  // still held until they exit
    failed_shapes_.clear();
    return true;
  }

  const PlanInput& in_;
  const PolicyConfig& config_;
  Plan plan_;
  NodeState state_;
  // Shapes that did not fit since the last start: skip placement for them.
  std::vector<std::pair<Request, std::string>> failed_shapes_;
  std::optional<std::int64_t> line_holder_;
  std::set<std::int64_t> stopping_;
  const std::unique_ptr<SharePolicy> shares_;
  const PlaceOptions popt_;
  std::map<std::uint32_t, int> running_of_;
};

}  // namespace

Plan make_plan(const PlanInput& in, const PolicyConfig& config) {
  return Planner(in, config).run();
}

}  // namespace aion::sched
