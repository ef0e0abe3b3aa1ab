// Answer writers for questions about what the node is doing: jobs (why one died or waits),
// the queue, free GPUs, incidents, metrics and recent log templates. Their facts come from
// aiond through the tools the program adds (the CLI's over its socket, aiond's own inside).
#include <algorithm>
#include <map>
#include <set>

#include "aion/copilot/writers.h"

namespace aion::copilot {
namespace {

const Json* the_job(Draft& d) {
  if (d.q.job < 0) {
    d.cannot(
        "name the job by its id, for example \"why did job 42 die?\" (`aion jobs` lists them)");
    return nullptr;
  }
  const Json* j = d.use("jobs", {{"id", d.q.job}});
  if (!j) return nullptr;
  auto it = j->find("job");
  return it != j->end() ? &*it : j;
}

std::string job_label(const Json& job) {
  return "Job " + std::to_string(num(job, "id")) +
         (str(job, "name").empty() ? "" : " (" + str(job, "name") + ")");
}

// Incidents aiond linked to the job, as lines.
void linked_incidents(Draft& d, long long job) {
  const Json* inc = d.try_use("incidents", Json::object());
  if (!inc) return;
  for (const auto& i : inc->value("incidents", Json::array())) {
    bool linked = false;
    for (const auto& j : i.value("jobs", Json::array()))
      linked |= j.is_number() && j.get<long long>() == job;
    if (!linked) continue;
    const Json top = i.value("top", Json::object());
    d.say("Incident " + std::to_string(num(i, "id")) + " involves it: " + str(i, "title") +
          (str(top, "action").empty() ? "" : ". Action: " + str(top, "action")));
  }
}

void job_died(Draft& d) {
  const Json* job = the_job(d);
  if (!job) return;
  const std::string state = str(*job, "state");
  if (state == "running" || state == "pending") {
    d.say(job_label(*job) + " has not ended: it is " + state +
          (str(*job, "reason").empty() ? "." : " (" + str(*job, "reason") + ")."));
    return;
  }
  std::string how = job_label(*job) + " " + state;
  if (job->value("oom_killed", false))
    how += ": the kernel's OOM killer ended it (out of memory)";
  else if (num(*job, "signal") > 0)
    how += ": killed by signal " + std::to_string(num(*job, "signal"));
  else if (job->contains("exit_code") && !(*job)["exit_code"].is_null())
    how += " with exit code " + std::to_string(num(*job, "exit_code"));
  d.say(how + ".");
  if (!str(*job, "reason").empty()) d.say("Reason recorded: " + str(*job, "reason") + ".");
  if (num(*job, "restarts") > 0)
    d.say("It was restarted " + std::to_string(num(*job, "restarts")) + " time(s).");
  const Json usage = job->value("usage", Json::object());
  if (num(usage, "memory_peak_bytes") > 0)
    d.say("Peak memory: " + human_bytes(static_cast<double>(num(usage, "memory_peak_bytes"))) +
          ".");
  linked_incidents(d, num(*job, "id"));
  d.suggest("aion logs " + std::to_string(num(*job, "id")) + "   # its last output");
}

void job_waits(Draft& d) {
  const Json* job = the_job(d);
  if (!job) return;
  const std::string state = str(*job, "state");
  if (state != "pending") {
    d.say(job_label(*job) + " is not waiting: it is " + state + ".");
    return;
  }
  d.say(job_label(*job) + " is pending: " +
        (str(*job, "reason").empty() ? std::string("the scheduler gives no reason")
                                     : str(*job, "reason")) +
        ".");
  if (const Json* q = d.try_use("queue")) {
    int pos = 0;
    for (const auto& j : q->value("jobs", Json::array())) {
      ++pos;
      if (num(j, "id") == num(*job, "id"))
        d.say("It is number " + std::to_string(pos) + " in the queue.");
    }
  }
  d.suggest("aion queue   # every pending job with its position and reason");
}

void job_status(Draft& d) {
  const Json* job = the_job(d);
  if (!job) return;
  const std::string state = str(*job, "state");
  if (state == "pending") return job_waits(d);
  if (state != "running") return job_died(d);
  std::string gpus;
  for (const auto& g : job->value("allocation", Json::object()).value("gpus", Json::array()))
    gpus += (gpus.empty() ? "" : ",") + std::to_string(g.get<long long>());
  d.say(job_label(*job) + " is running since " + str(*job, "started_at") +
        (gpus.empty() ? "" : " on GPUs " + gpus) + ".");
}

// What a job's sandbox refused and which endpoints it reached (its guard record).
void job_guard(Draft& d) {
  if (d.q.job < 0) {
    d.cannot("name the job by its id, for example \"what did job 42's sandbox refuse?\"");
    return;
  }
  const Json* g = d.use("job_guard", {{"id", d.q.job}});
  if (!g) return;
  const std::string job = "Job " + std::to_string(d.q.job);
  if (str(*g, "sandbox").empty()) {
    d.say(job +
          " ran without a sandbox: nothing confined it and nothing of its network "
          "traffic was recorded.");
    d.suggest("aion run --sandbox agent -- CMD");
    return;
  }
  const std::string state = str(*g, "state");
  const bool live = state == "running" || state == "pending";
  d.say(job + (live ? " runs" : " ran") + " under the '" + str(*g, "sandbox") + "' sandbox (" +
        state + ").");
  const Json plan = g->value("plan", Json());
  if (plan.is_object()) {
    for (const auto& u : plan.value("unenforced", Json::array()))
      if (u.is_string()) d.say("Not enforced on this machine: " + u.get<std::string>() + ".");
  }
  const Json refusals = g->value("refusals", Json::array());
  if (refusals.empty()) {
    d.say("Its sandbox refused nothing.");
  } else {
    d.say("Its sandbox refused " + std::to_string(refusals.size()) + " attempt(s):");
    for (std::size_t i = 0; i < refusals.size() && i < 5; ++i) {
      const Json& r = refusals[i];
      d.say("  " + str(r, "kind") + ": " + str(r, "what") +
            (str(r, "comm").empty() ? "" : " (" + str(r, "comm") + ")"));
    }
  }
  const Json egress = g->value("egress", Json());
  std::vector<Json> flows;
  if (egress.is_object())
    for (const auto& f : egress.value("flows", Json::array())) flows.push_back(f);
  std::sort(flows.begin(), flows.end(), [](const Json& a, const Json& b) {
    return num(a, "bytes_out") + num(a, "bytes_in") > num(b, "bytes_out") + num(b, "bytes_in");
  });
  if (!flows.empty())
    d.say("It exchanged data with " + std::to_string(flows.size()) + " endpoint(s):");
  for (std::size_t i = 0; i < flows.size() && i < 5; ++i) {
    const Json& f = flows[i];
    const std::string name = !str(f, "name").empty() ? str(f, "name") : str(f, "server_name");
    d.say("  " + str(f, "address") + ":" + std::to_string(num(f, "port")) +
          (name.empty() ? "" : " (" + name + ")") + ": " +
          human_bytes(static_cast<double>(num(f, "bytes_out"))) + " sent, " +
          human_bytes(static_cast<double>(num(f, "bytes_in"))) + " received");
  }
  d.suggest("aion guard log " + std::to_string(d.q.job));
}

void jobs_overview(Draft& d) {
  const Json* list = d.use("jobs", {{"state", "running,pending"}});
  if (!list) return;
  std::vector<std::string> running, pending;
  for (const auto& j : list->value("jobs", Json::array()))
    (str(j, "state") == "running" ? running : pending)
        .push_back(std::to_string(num(j, "id")) +
                   (str(j, "name").empty() ? "" : " " + str(j, "name")));
  d.say(std::to_string(running.size()) + " job(s) running" +
        (running.empty() ? "" : ": " + join_list(running)) + ".");
  d.say(std::to_string(pending.size()) + " job(s) pending" +
        (pending.empty() ? "" : ": " + join_list(pending)) + ".");
  d.suggest("aion ps");
}

void free_gpus(Draft& d) {
  const Json* g = d.use("gpus_free");
  if (!g) return;
  std::vector<std::string> free, busy;
  for (const auto& x : g->value("gpus", Json::array()))
    (x.value("free", false) ? free : busy)
        .push_back("GPU" + std::to_string(num(x, "index")) +
                   (str(x, "why_not").empty() ? "" : " (" + str(x, "why_not") + ")"));
  d.say(free.empty() ? "No GPU is free right now."
                     : std::to_string(free.size()) + " GPU(s) free: " + join_list(free) + ".");
  if (!busy.empty()) d.say("In use or unavailable: " + join_list(busy) + ".");
  if (d.q.lower.find("nvlink") == std::string::npos || free.size() < 2) return;
  const Json* topo = d.use("topology");
  if (!topo) return;
  std::set<std::string> f;
  for (const auto& x : g->value("gpus", Json::array()))
    if (x.value("free", false)) f.insert("GPU" + std::to_string(num(x, "index")));
  std::vector<std::string> pairs;
  for (const DirectLink& l : direct_links(*topo))
    if (f.count(l.a) && f.count(l.b) && l.level.rfind("NV", 0) == 0)
      pairs.push_back(l.a + "-" + l.b + " (" + l.level + ")");
  d.say(pairs.empty() ? "None of the free GPUs are NVLinked to each other."
                      : "NVLinked among the free ones: " + join_list(pairs) + ".");
}

void incidents(Draft& d) {
  const Json* inc = d.use("incidents");
  if (!inc) return;
  const auto list = inc->value("incidents", Json::array());
  if (list.empty()) {
    d.say("aiond has recorded no incidents.");
    return;
  }
  d.say(std::to_string(list.size()) + " incident(s), newest first:");
  for (std::size_t i = 0; i < list.size() && i < 5; ++i) {
    const Json top = list[i].value("top", Json::object());
    d.say("  #" + std::to_string(num(list[i], "id")) + " [" + str(list[i], "severity") + "] " +
          str(list[i], "title") + (str(list[i], "state") == "resolved" ? " (resolved)" : "") +
          (str(top, "action").empty() ? "" : " -> " + str(top, "action")));
  }
  d.suggest("aion incident <id>   # evidence and ranked causes");
}

void gpu_metrics(Draft& d) {
  const std::string& l = d.q.lower;
  std::string metric = "aion_gpu_utilization_ratio", what = "utilization";
  if (l.find("temp") != std::string::npos || l.find("hot") != std::string::npos)
    metric = "aion_gpu_temperature_celsius", what = "temperature";
  else if (l.find("power") != std::string::npos)
    metric = "aion_gpu_power_watts", what = "power";
  else if (l.find("memory") != std::string::npos)
    metric = "aion_gpu_memory_used_bytes", what = "memory used";
  const Json* m = d.use("metrics", {{"query", metric}, {"since", "5m"}});
  if (!m) return;
  const auto series = m->value("series", Json::array());
  if (series.empty()) {
    d.say("aiond has no " + what +
          " samples of the last 5 minutes (no GPU telemetry on this node).");
    return;
  }
  for (const auto& s : series) {
    const auto pts = s.value("points", Json::array());
    if (pts.empty()) continue;
    const double v = pts.back()[1].get<double>();
    std::string val = metric.ends_with("ratio")
                          ? std::to_string(static_cast<int>(v * 100 + 0.5)) + "%"
                      : metric.ends_with("bytes") ? human_bytes(v)
                                                  : std::to_string(static_cast<int>(v + 0.5)) +
                                                        (metric.ends_with("celsius") ? " C" : " W");
    d.say(str(s, "series") + ": " + val);
  }
}

void log_errors(Draft& d) {
  const Json* t = d.use("log_templates", {{"since", "1h"}});
  if (!t) return;
  const auto list = t->value("templates", Json::array());
  if (list.empty()) {
    d.say("No log templates were seen in the last hour.");
    return;
  }
  d.say("The most frequent log templates of the last hour:");
  for (std::size_t i = 0; i < list.size() && i < 8; ++i)
    d.say("  " + std::to_string(num(list[i], "count")) + "  " + str(list[i], "template"));
  d.suggest("aion logs templates --since 1h");
}

}  // namespace

const std::vector<WriterEntry>& operations_writers() {
  static const std::vector<WriterEntry> w = {
      {"job_died", job_died},           {"job_waits", job_waits},   {"job_status", job_status},
      {"jobs_overview", jobs_overview}, {"free_gpus", free_gpus},   {"incidents", incidents},
      {"gpu_metrics", gpu_metrics},     {"log_errors", log_errors}, {"job_guard", job_guard},
  };
  return w;
}

}  // namespace aion::copilot
