#include "aion/api/job_routes.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <charconv>

#include "aion/api/accounts.h"
#include "aion/api/json_reply.h"
#include "aion/api/params.h"
#include "aion/api/visibility.h"
#include "aion/core/json.h"
#include "aion/sched/job_json.h"

namespace aion::api {

namespace {}  // namespace

Status resolve_job_user(const Identity& caller, sched::JobSpec& spec, const std::string& asked,
                        const HostFs& host) {
  Result<Account> account = fail(ErrorCode::kInternal, "unset");
  if (caller.uid < 0) {
    if (caller.role < Role::kOperator) {
      return fail(ErrorCode::kPermissionDenied, "submitting jobs over TCP needs an operator token");
    }
    if (asked.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "a job submitted with a token must name its user (\"user\": \"alice\")");
    }
    if (std::find(caller.run_as.begin(), caller.run_as.end(), asked) == caller.run_as.end()) {
      std::string list;
      for (const auto& u : caller.run_as) list += (list.empty() ? "" : ",") + u;
      return fail(ErrorCode::kPermissionDenied,
                  caller.name + " may not run jobs as '" + asked +
                      "' (its run-as list: " + (list.empty() ? "empty" : list) +
                      "); create a token with `aion admin token create --role operator --run-as " +
                      asked + "`");
    }
    account = token_account(asked, uid_min(host));
  } else if (!asked.empty()) {
    account = find_account(asked);
    if (account && caller.uid != 0 && static_cast<long>(account->uid) != caller.uid) {
      return fail(ErrorCode::kPermissionDenied,
                  "only root may run jobs as another user (you are uid " +
                      std::to_string(caller.uid) + ")");
    }
  } else {
    account = find_account(static_cast<std::uint32_t>(caller.uid));
    if (!account) {
      spec.uid = static_cast<std::uint32_t>(caller.uid);
      spec.gid = static_cast<std::uint32_t>(caller.uid);
      spec.user = "uid" + std::to_string(caller.uid);
      return {};
    }
  }
  if (!account) return std::unexpected(account.error());
  spec.uid = account->uid;
  spec.gid = account->gid;
  spec.user = account->name;
  return {};
}

namespace {

// POST /v1/jobs and GET /v1/jobs
void add_submit_and_list_routes(Router& router, sched::JobManager& jobs, const HostFs& host) {
  router.add({"POST", "/v1/jobs", Role::kViewer,
              "Submit a job (runs as the caller; root or an operator token may name a user)",
              [&jobs, host](Request& r) {
                Json body = Json::parse(r.body, nullptr, false);
                if (body.is_discarded() || !body.is_object()) {
                  return Response::error(400, "invalid_argument",
                                         "the body must be a JSON job object");
                }
                std::string user = body.value("user", "");
                body.erase("uid");
                body.erase("gid");
                body.erase("user");
                auto spec = sched::spec_from_json(body);
                if (!spec) return Response::from_error(spec.error());
                if (auto st = resolve_job_user(r.caller, *spec, user, host); !st) {
                  return Response::from_error(st.error());
                }
                auto job = jobs.submit(std::move(*spec));
                if (!job) return Response::from_error(job.error());
                return json_reply(201, sched::to_json(*job));
              }});

  router.add({"GET", "/v1/jobs", Role::kViewer,
              "List jobs, oldest first: state=pending,running,... limit=N (newest N) mine=1",
              [&jobs](Request& r) {
                sched::JobFilter f;
                auto limit = int_query(r, "limit", 0, 0, 100000);
                if (!limit) return Response::from_error(limit.error());
                f.limit = static_cast<int>(*limit);
                std::string states = r.query_or("state", "");
                for (std::size_t p = 0; p < states.size();) {
                  std::size_t c = states.find(',', p);
                  if (c == std::string::npos) c = states.size();
                  auto s = sched::job_state_from(states.substr(p, c - p));
                  if (!s) {
                    return Response::error(400, "invalid_argument",
                                           "unknown state '" + states.substr(p, c - p) +
                                               "' (pending, running, completed, failed, "
                                               "cancelled, preempted, lost)");
                  }
                  f.states.push_back(*s);
                  p = c + 1;
                }
                if (r.query_or("mine", "") == "1" && r.caller.uid >= 0) {
                  f.uid = static_cast<std::uint32_t>(r.caller.uid);
                }
                auto list = jobs.list(f);
                if (!list) return Response::from_error(list.error());
                Json out = Json::array();
                for (const auto& j : *list) out.push_back(job_for(r.caller, j));
                return json_reply(200, {{"jobs", out}});
              }});
}

// /v1/jobs/{id}: the job, its cancel and its logs
void add_one_job_routes(Router& router, sched::JobManager& jobs) {
  router.add({"GET", "/v1/jobs/{id}", Role::kViewer, "One job, with its allocation and usage",
              [&jobs](Request& r) {
                auto id = positive_id_param(r, "a job");
                if (!id) return Response::from_error(id.error());
                auto job = jobs.get(*id);
                if (!job) return Response::from_error(job.error());
                return json_reply(200, job_for(r.caller, *job));
              }});

  router.add({"POST", "/v1/jobs/{id}/cancel", Role::kViewer,
              "Cancel a job: pending ones at once, running ones with SIGTERM then SIGKILL",
              [&jobs](Request& r) {
                auto id = positive_id_param(r, "a job");
                if (!id) return Response::from_error(id.error());
                // A token acts for the accounts of its run-as list: it cancels their jobs as
                // they would.
                long as_uid = r.caller.uid;
                if (as_uid < 0) {
                  auto found = jobs.get(*id);
                  if (!found) return Response::from_error(found.error());
                  if (acts_for(r.caller, found->spec.uid)) as_uid = found->spec.uid;
                }
                auto job = jobs.cancel(*id, as_uid, r.caller.role == Role::kAdmin);
                if (!job) return Response::from_error(job.error());
                return json_reply(200, job_for(r.caller, *job));
              }});

  router.add({"GET", "/v1/jobs/{id}/logs", Role::kViewer,
              "The job's output (stdout and stderr) from offset; its owner and admins only",
              [&jobs](Request& r) {
                auto id = positive_id_param(r, "a job");
                if (!id) return Response::from_error(id.error());
                auto offset = int_query(r, "offset", 0, 0, INT64_MAX);
                auto max = int_query(r, "max", 256 << 10, 1, 4 << 20);
                if (!offset) return Response::from_error(offset.error());
                if (!max) return Response::from_error(max.error());
                auto job = jobs.get(*id);
                if (!job) return Response::from_error(job.error());
                if (!may_see_private(r.caller, job->spec.uid)) {
                  return Response::error(403, "permission_denied",
                                         "only the job's owner or an admin may read its output");
                }
                auto chunk = jobs.read_log(*id, static_cast<std::uint64_t>(*offset),
                                           static_cast<std::size_t>(*max));
                if (!chunk) return Response::from_error(chunk.error());
                return json_reply(200, {{"data", chunk->data},
                                        {"next_offset", chunk->next_offset},
                                        {"finished", chunk->finished},
                                        {"state", sched::to_string(job->state)}});
              }});
}

// /v1/queue and /v1/sched/hold
void add_queue_and_hold_routes(Router& router, sched::JobManager& jobs, const HostFs& host) {
  router.add({"GET", "/v1/jobs/{id}/guard", Role::kViewer,
              "The job's sandbox: its plan, what it refused, its network egress record; its "
              "owner and admins only",
              [&jobs](Request& r) {
                auto id = positive_id_param(r, "a job");
                if (!id) return Response::from_error(id.error());
                auto job = jobs.get(*id);
                if (!job) return Response::from_error(job.error());
                if (!may_see_private(r.caller, job->spec.uid)) {
                  return Response::error(403, "permission_denied",
                                         "only the job's owner or an admin may read its record");
                }
                auto rec = jobs.guard_record(*id);
                if (!rec) return Response::from_error(rec.error());
                Json refusals = Json::array();
                for (const auto& e : rec->refusals) {
                  Json d = Json::parse(e.data_json, nullptr, false);
                  if (!d.is_object()) d = Json::object();
                  d["event_id"] = e.id;
                  d["message"] = e.message;
                  refusals.push_back(std::move(d));
                }
                auto parsed = [](const std::string& text) {
                  Json j = Json::parse(text, nullptr, false);
                  return j.is_discarded() ? Json(nullptr) : j;
                };
                return json_reply(200, {{"id", *id},
                                        {"sandbox", job->spec.sandbox},
                                        {"state", sched::to_string(job->state)},
                                        {"plan", parsed(rec->plan_json)},
                                        {"refusals", refusals},
                                        {"egress", parsed(rec->egress_json)}});
              }});
  router.add({"GET", "/v1/queue", Role::kViewer,
              "Pending jobs in the order they will start, each with why it waits",
              [&jobs](Request& r) {
                Json out = Json::array();
                for (const auto& e : jobs.queue()) {
                  Json j = job_for(r.caller, e.job);
                  j["position"] = e.position;
                  j["reason"] = e.reason;
                  out.push_back(std::move(j));
                }
                return json_reply(200, {{"jobs", out}});
              }});

  router.add({"POST", "/v1/sched/hold", Role::kAdmin,
              "Hold the node (no job starts; {\"hold\": true}) or release it ({\"hold\": false})",
              [&jobs, host](Request& r) {
                Json body = Json::parse(r.body, nullptr, false);
                if (!body.is_object() || !body.contains("hold") || !body["hold"].is_boolean()) {
                  return Response::error(400, "invalid_argument",
                                         "the body must be {\"hold\": true} or {\"hold\": false}");
                }
                jobs.set_hold(body["hold"].get<bool>(), r.caller.name);
                return json_reply(200, {{"held", jobs.held()}});
              }});
}

// /v1/sched/drain and /v1/sched
void add_drain_and_sched_routes(Router& router, sched::JobManager& jobs) {
  router.add(
      {"POST", "/v1/sched/drain", Role::kAdmin,
       "Take a GPU out of placement ({\"gpu\": PCI address or index, \"drain\": true, "
       "\"reason\": \"...\"}) or give it back (\"drain\": false); kept across restarts",
       [&jobs](Request& r) {
         Json body = Json::parse(r.body, nullptr, false);
         if (!body.is_object() || !body.contains("drain") || !body["drain"].is_boolean() ||
             !body.contains("gpu") ||
             !(body["gpu"].is_string() || body["gpu"].is_number_integer()) ||
             (body.contains("reason") && !body["reason"].is_string())) {
           return Response::error(400, "invalid_argument",
                                  "the body must be {\"gpu\": \"0000:3b:00.0\" or 2, \"drain\": "
                                  "true|false, \"reason\": \"...\"}");
         }
         const auto& gpus = jobs.model().gpus;
         std::string pci;
         if (body["gpu"].is_number_integer()) {
           const auto i = body["gpu"].get<std::int64_t>();
           if (i >= 0 && i < static_cast<std::int64_t>(gpus.size()))
             pci = gpus[static_cast<std::size_t>(i)].pci_address;
         } else {
           const auto want = body["gpu"].get<std::string>();
           for (const auto& g : gpus) {
             // "3b:00.0" names "0000:3b:00.0" too.
             if (g.pci_address == want || (want.size() >= 7 && g.pci_address.ends_with(want)))
               pci = g.pci_address;
           }
         }
         if (pci.empty()) {
           std::string known;
           for (std::size_t i = 0; i < gpus.size(); ++i)
             known += (i ? ", " : "") + std::to_string(i) + " = " + gpus[i].pci_address;
           return Response::error(404, "not_found",
                                  "no GPU " + body["gpu"].dump() + " on this node (GPUs: " +
                                      (known.empty() ? "none" : known) + ")");
         }
         const bool drain = body["drain"].get<bool>();
         std::string why = body.value("reason", "");
         if (why.empty()) why = drain ? "drained by " + r.caller.name : "";
         if (auto st = jobs.set_gpu_drained(pci, drain, why); !st)
           return Response::from_error(st.error());
         Json drained = Json::object();
         for (const auto& [addr, reason] : jobs.drained_gpus()) drained[addr] = reason;
         return json_reply(200, {{"gpu", pci}, {"drained", drained}});
       }});

  router.add({"GET", "/v1/sched", Role::kViewer,
              "What the scheduler places on: GPUs, CPUs, memory, isolation", [&jobs](Request&) {
                const auto& m = jobs.model();
                const auto drained = jobs.drained_gpus();
                Json gpus = Json::array();
                for (const auto& g : m.gpus) {
                  auto d = drained.find(g.pci_address);
                  gpus.push_back(
                      {{"pci_address", g.pci_address},
                       {"vendor", g.vendor},
                       {"model", g.model},
                       {"memory_bytes", g.memory_bytes},
                       {"numa_node", g.numa_node},
                       {"simulated", g.simulated},
                       {"usable", g.usable},
                       {"drained", d == drained.end() ? Json(nullptr) : Json(d->second)}});
                }
                auto n = jobs.counts();
                return json_reply(200, {{"held", jobs.held()},
                                        {"pending", n.pending},
                                        {"running", n.running},
                                        {"gpus", gpus},
                                        {"cpus", m.cpu_count},
                                        {"memory_bytes", m.memory_bytes},
                                        {"numa_nodes", m.numa.size()},
                                        {"isolation", jobs.isolation_summary()}});
              }});
}

}  // namespace

void add_job_routes(Router& router, sched::JobManager& jobs, HostFs host) {
  add_submit_and_list_routes(router, jobs, host);
  add_one_job_routes(router, jobs);
  add_queue_and_hold_routes(router, jobs, host);
  add_drain_and_sched_routes(router, jobs);
}

}  // namespace aion::api
