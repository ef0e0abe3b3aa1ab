#include "aion/copilot/daemon_tools.h"

#include <map>

namespace aion::copilot {
namespace {

Json no_args() {
  return {{"type", "object"}, {"properties", Json::object()}};
}

Result<ToolOutput> output(Result<Json> j, std::string source) {
  if (!j) return std::unexpected(j.error());
  return ToolOutput{std::move(*j), std::move(source)};
}

// Free GPUs: the scheduler's GPUs that are usable, not drained and in no running job's
// allocation (allocations name GPUs by their index in the scheduler's list).
Result<Json> free_gpus(const DaemonGet& get) {
  auto sched = get("/v1/sched", {});
  if (!sched) return sched;
  auto running = get("/v1/jobs", {{"state", "running"}});
  if (!running) return running;
  std::map<long long, long long> owner;
  for (const auto& j : running->value("jobs", Json::array()))
    for (const auto& g : j.value("allocation", Json::object()).value("gpus", Json::array()))
      if (g.is_number_integer()) owner[g.get<long long>()] = j.value("id", 0LL);
  Json out = Json::array();
  long long i = 0;
  for (const auto& g : sched->value("gpus", Json::array())) {
    std::string why;
    if (!g.value("usable", true))
      why = "not usable";
    else if (g.contains("drained") && g["drained"].is_string())
      why = "drained: " + g["drained"].get<std::string>();
    else if (owner.count(i))
      why = "job " + std::to_string(owner[i]);
    out.push_back({{"index", i},
                   {"pci_address", g.value("pci_address", "")},
                   {"model", g.value("model", "")},
                   {"free", why.empty()},
                   {"why_not", why}});
    ++i;
  }
  return Json{{"gpus", out}};
}

// A duration argument as the API takes it ("5m", "1h", "2d"); anything else is the default.
std::string duration_arg(const Json& args, const char* key, const char* fallback) {
  const std::string v = string_arg(args, key);
  if (v.empty() || v.size() > 8) return fallback;
  for (std::size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] < '0' || v[i] > '9') return fallback;
  return std::string("smhd").find(v.back()) == std::string::npos ? fallback : v;
}

}  // namespace

void add_daemon_tools(Toolbox& box, DaemonGet get) {
  box.add({"jobs",
           "aiond's jobs: one job by id (state, exit code, signal, OOM kill, reason, allocation, "
           "usage) or the jobs in a state (pending, running, completed, failed...).",
           {{"type", "object"},
            {"properties", {{"id", {{"type", "integer"}}}, {"state", {{"type", "string"}}}}}}},
          [get](const Json& a) {
            const long long id = int_arg(a, "id", -1);
            if (id >= 0)
              return output(get("/v1/jobs/" + std::to_string(id), {}),
                            "aiond: job " + std::to_string(id));
            const std::string st = string_arg(a, "state");
            return output(
                get("/v1/jobs", st.empty() ? std::map<std::string, std::string>{{"limit", "50"}}
                                           : std::map<std::string, std::string>{{"state", st}}),
                "aiond: jobs");
          });
  box.add(
      {"job_guard",
       "A job's sandbox record: its profile, what the sandbox refused (files, system calls, "
       "connections) and the network endpoints it reached with bytes each way; the job's "
       "owner and admins only.",
       {{"type", "object"}, {"properties", {{"id", {{"type", "integer"}}}}}, {"required", {"id"}}}},
      [get](const Json& a) -> Result<ToolOutput> {
        const long long id = int_arg(a, "id", -1);
        if (id < 0) return fail(ErrorCode::kInvalidArgument, "id: the job's number");
        return output(get("/v1/jobs/" + std::to_string(id) + "/guard", {}),
                      "aiond: job " + std::to_string(id) + "'s guard record");
      });
  box.add({"queue", "aiond's pending jobs in the order they will start, each with why it waits.",
           no_args()},
          [get](const Json&) { return output(get("/v1/queue", {}), "aiond: queue"); });
  box.add(
      {"gpus_free",
       "Which GPUs the scheduler could give a new job now, and why the others are not free.",
       no_args()},
      [get](const Json&) { return output(free_gpus(get), "aiond: scheduler and running jobs"); });
  box.add({"incidents",
           "aiond's incidents, newest first: severity, title, devices, jobs, the top-ranked cause "
           "and its action.",
           no_args()},
          [get](const Json&) {
            return output(get("/v1/incidents", {{"limit", "20"}}), "aiond: incidents");
          });
  box.add({"metrics",
           "Samples of a metric from aiond's store, e.g. aion_gpu_utilization_ratio, "
           "aion_gpu_temperature_celsius, aion_gpu_power_watts, aion_gpu_memory_used_bytes.",
           {{"type", "object"},
            {"properties", {{"query", {{"type", "string"}}}, {"since", {{"type", "string"}}}}},
            {"required", {"query"}}}},
          [get](const Json& a) {
            const std::string q = string_arg(a, "query");
            const std::string since = duration_arg(a, "since", "5m");
            auto r = get("/v1/metrics/query", {{"q", q}, {"since", since}});
            if (r && r->is_array()) r = Json{{"series", *r}};
            return output(std::move(r), "aiond: metrics " + q + " over " + since);
          });
  box.add({"log_templates",
           "The log templates aiond mined from the node's logs, most frequent first.",
           {{"type", "object"}, {"properties", {{"since", {{"type", "string"}}}}}}},
          [get](const Json& a) {
            const std::string since = duration_arg(a, "since", "1h");
            return output(get("/v1/logs/templates", {{"limit", "20"}, {"since", since}}),
                          "aiond: log templates over " + since);
          });
}

}  // namespace aion::copilot
