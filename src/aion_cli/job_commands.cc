// aion run / submit / ps / show / logs / cancel / queue: jobs on this node's scheduler.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "aion/core/json.h"
#include "aion/core/strings.h"
#include "command.h"
#include "daemon_client.h"
#include "job_output.h"
#include "table.h"

extern char** environ;

namespace aion::cli {
namespace {

struct JobArgs {
  int gpus = 0;
  std::string accel;  // "npu:2"
  double gpu_fraction = 0;
  std::string gpu_mem;
  std::string gpu_model;
  int cpus = 1;
  std::string mem;
  int priority = 0;
  std::string queue = "default";
  std::string name;
  std::string user;
  bool requeue = false;
  std::string sandbox;
  std::vector<std::string> allow_net;
  std::vector<std::string> verify;
};

void add_job_flags(Command cmd, JobArgs& a) {
  cmd.option("--gpus", a.gpus, "Whole GPUs, all given at once (gang), best connected set");
  cmd.option("--accel", a.accel,
             "KIND:N: N accelerators of another kind (npu, vector, mlu, ...; the KIND column "
             "of `aion hw`), placed and isolated like GPUs; where two vendors make one kind, "
             "VENDOR:N (metax:2, iluvatar:2)");
  cmd.option("--gpu-fraction", a.gpu_fraction,
             "A share of one GPU, 0 < F < 1 (e.g. 0.25), shared with other jobs");
  cmd.option("--gpu-mem", a.gpu_mem,
             "GPU memory of a share (e.g. 10G); default: the fraction of the GPU's memory");
  cmd.option("--gpu-model", a.gpu_model,
             "Only GPUs whose model contains this (case-insensitive), e.g. A100");
  cmd.option("--cpus", a.cpus, "Logical CPUs (default 1), taken near the job's GPUs");
  cmd.option("--mem", a.mem, "Memory limit (e.g. 64G); the job is OOM-killed past it");
  cmd.option("--priority", a.priority,
             "-1000..1000 (default 0); higher starts first and may preempt lower");
  cmd.option("--queue", a.queue, "Queue (see [[sched.queue]] in the config)");
  cmd.option("--name", a.name, "Job name (default: the program's name)");
  cmd.option("--user", a.user, "Run as this user (root only)");
  cmd.flag("--requeue", a.requeue, "Go back to the queue when preempted");
  cmd.option("--sandbox", a.sandbox,
             "Confine the job with a guard profile: agent (an AI agent or the code it writes: "
             "files, system calls, network allow-list), strict (no network), observe (record "
             "egress only), or a site profile (`aion guard profiles`)");
  cmd.option("--verify", a.verify,
             "A checksum file (sha256sum form: model weights, datasets); the job starts only if "
             "every file it lists matches, checked as the job's user (repeat for more)");
  cmd.option("--allow-net", a.allow_net,
             "With --sandbox: one more destination the job may reach, HOST[:PORT][/tcp|/udp] "
             "or a CIDR (repeat for more)");
  // Everything from the command on is the job's: not parsed, not handed to the parent.
  cmd.pass_through();
}

Json job_body(const JobArgs& a, std::vector<std::string> command) {
  if (!command.empty() && command.front() == "--") command.erase(command.begin());
  Json env = Json::object();
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  Json res = {{"gpus", a.gpus}, {"cpus", a.cpus}, {"gpu_model", a.gpu_model}};
  if (!a.accel.empty()) {
    auto colon = a.accel.find(':');
    res["accel_kind"] = a.accel.substr(0, colon);
    res["gpus"] = parse_int<int>(a.accel.substr(colon + 1)).value_or(0);
  }
  if (a.gpu_fraction != 0) res["gpu_fraction"] = a.gpu_fraction;
  if (!a.gpu_mem.empty()) res["gpu_memory_bytes"] = a.gpu_mem;
  if (!a.mem.empty()) res["memory_bytes"] = a.mem;
  std::error_code ec;
  Json j = {{"command", command},
            {"env", env},
            {"cwd", std::filesystem::current_path(ec).string()},
            {"resources", res},
            {"priority", a.priority},
            {"queue", a.queue},
            {"requeue", a.requeue}};
  if (!a.name.empty()) j["name"] = a.name;
  if (!a.user.empty()) j["user"] = a.user;
  if (!a.sandbox.empty()) j["sandbox"] = a.sandbox;
  if (!a.allow_net.empty()) j["allow_net"] = a.allow_net;
  if (!a.verify.empty()) {
    Json files = Json::array();
    for (const auto& f : a.verify) files.push_back(std::filesystem::absolute(f, ec).string());
    j["verify"] = files;
  }
  return j;
}

std::string size_text(unsigned long long b) {
  if (b == 0) return "-";
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 && i > 0 ? "%.1f%s" : "%.0f%s", v, units[i]);
  return buf;
}

std::string request_text(const Json& j) {
  const Json& r = j["spec"]["resources"];
  std::string s;
  if (r.value("gpus", 0) > 0) {
    std::string kind = r.value("accel_kind", "");
    s += std::to_string(r.value("gpus", 0)) + " " + (kind.empty() ? "GPU" : kind) + " ";
  }
  if (r.value("gpu_fraction", 0.0) > 0) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%.2f GPU ", r.value("gpu_fraction", 0.0));
    s += buf;
  }
  std::string model = r.value("gpu_model", "");
  if (!model.empty()) s += "(" + model + ") ";
  s += std::to_string(r.value("cpus", 1)) + " CPU";
  if (r.value("memory_bytes", 0ULL) > 0) s += " " + size_text(r.value("memory_bytes", 0ULL));
  return s;
}

std::string age_text(long long from_ms, long long to_ms) {
  if (from_ms <= 0) return "-";
  return format_duration(std::max(0LL, (to_ms - from_ms) / 1000));
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string alloc_text(const Json& j) {
  const Json& a = j["allocation"];
  if (!a.is_object()) return "-";
  std::string s;
  auto gpus = a.value("gpus", std::vector<int>{});
  if (!gpus.empty()) {
    s += "GPU ";
    for (std::size_t i = 0; i < gpus.size(); ++i) s += (i ? "," : "") + std::to_string(gpus[i]);
    if (a.value("gpu_fraction", 0.0) > 0) {
      char buf[24];
      std::snprintf(buf, sizeof buf, " (%.2f)", a.value("gpu_fraction", 0.0));
      s += buf;
    }
    s += " ";
  }
  auto cpus = a.value("cpus", std::vector<int>{});
  s += "CPU ";
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    std::size_t k = i;
    while (k + 1 < cpus.size() && cpus[k + 1] == cpus[k] + 1) ++k;
    s += (i ? "," : "") + std::to_string(cpus[i]) + (k > i ? "-" + std::to_string(cpus[k]) : "");
    i = k;
  }
  return s;
}

// The exit status `aion run` passes on: the job's, 128+signal when killed, 1 otherwise.
int exit_status_of(const Json& j) {
  std::string state = j.value("state", "");
  if (state == "completed") return 0;
  if (j.value("signal", 0) > 0) return 128 + j.value("signal", 0);
  int code = j.value("exit_code", -1);
  if (state == "failed" && code > 0) return code;
  return kExitFailure;
}

volatile std::sig_atomic_t g_interrupted = 0;

void print_jobs(const Json& jobs, bool queue) {
  long long now = now_ms();
  Table t =
      queue ? Table({"POS", "ID", "NAME", "USER", "PRIO", "QUEUE", "REQUEST", "WAITING", "REASON"})
            : Table({"ID", "NAME", "USER", "STATE", "REQUEST", "ALLOCATION", "TIME", "REASON"});
  for (const auto& j : jobs) {
    if (queue) {
      t.add({std::to_string(j.value("position", 0)), std::to_string(j.value("id", 0LL)),
             j.value("name", ""), j.value("user", ""), std::to_string(j.value("priority", 0)),
             j.value("queue", ""), request_text(j), age_text(j.value("submit_ms", 0LL), now),
             j.value("reason", "")});
    } else {
      std::string state = j.value("state", "");
      long long start = j.value("start_ms", 0LL), end = j.value("end_ms", 0LL);
      std::string time = state == "pending"   ? age_text(j.value("submit_ms", 0LL), now)
                         : state == "running" ? age_text(start, now)
                                              : age_text(start, end);
      t.add({std::to_string(j.value("id", 0LL)), j.value("name", ""), j.value("user", ""), state,
             request_text(j), alloc_text(j), time, j.value("reason", "")});
    }
  }
  if (t.empty()) {
    std::printf(queue ? "no pending jobs\n" : "no jobs\n");
    return;
  }
  t.print();
}

void print_job(const Json& j) {
  auto ms = [](const Json& v, const char* k) {
    std::string s = v.value(k, "");
    return s.empty() ? std::string("-") : s;
  };
  Table t({"id", std::to_string(j.value("id", 0LL))});
  t.add({"name", j.value("name", "")});
  t.add({"user", j.value("user", "") + " (uid " + std::to_string(j.value("uid", 0)) + ")"});
  t.add({"state", j.value("state", "")});
  t.add({"reason", j.value("reason", "")});
  if (j["spec"].contains("command")) {
    std::string cmd;
    for (const auto& a : j["spec"]["command"])
      cmd += (cmd.empty() ? "" : " ") + a.get<std::string>();
    t.add({"command", cmd});
    t.add({"cwd", j["spec"].value("cwd", "")});
  }
  t.add({"request", request_text(j)});
  if (const std::string sandbox = j["spec"].value("sandbox", ""); !sandbox.empty()) {
    t.add({"sandbox", sandbox + " (what it refused and reached: aion guard log " +
                          std::to_string(j.value("id", 0LL)) + ")"});
  }
  t.add({"priority", std::to_string(j.value("priority", 0)) + ", queue " + j.value("queue", "") +
                         (j.value("requeue", false) ? ", requeue" : "")});
  t.add({"submitted", ms(j, "submitted_at")});
  t.add({"started", ms(j, "started_at")});
  t.add({"ended", ms(j, "ended_at")});
  if (j["allocation"].is_object()) {
    const Json& a = j["allocation"];
    t.add({"allocation", alloc_text(j)});
    std::string mems;
    for (const auto& m : a["mems"])
      mems += (mems.empty() ? "" : ",") + std::to_string(m.get<int>());
    t.add({"numa nodes", mems.empty() ? "-" : mems});
    t.add({"memory limit", size_text(a.value("memory_bytes", 0ULL))});
    if (a.value("gpu_fraction", 0.0) > 0) {
      t.add({"gpu memory", size_text(a.value("gpu_memory_bytes", 0ULL))});
    }
  }
  if (j.value("pid", 0) > 0) t.add({"pid", std::to_string(j.value("pid", 0))});
  std::string state = j.value("state", "");
  if (state != "pending" && state != "running") {
    std::string how = "exit " + std::to_string(j.value("exit_code", -1));
    if (j.value("signal", 0) > 0) how = "signal " + std::to_string(j.value("signal", 0));
    if (j.value("oom_killed", false)) how += " (OOM-killed)";
    t.add({"exit", how});
  }
  const Json& u = j["usage"];
  char cpu[32];
  std::snprintf(cpu, sizeof cpu, "%.2f s", u.value("cpu_time_ms", 0LL) / 1000.0);
  t.add({"cpu time", cpu});
  t.add({"memory peak", size_text(u.value("memory_peak_bytes", 0ULL))});
  char gpu[32];
  std::snprintf(gpu, sizeof gpu, "%.2f GPU-s", u.value("gpu_time_ms", 0LL) / 1000.0);
  t.add({"gpu time", gpu});
  if (u.value("gpu_memory_peak_bytes", 0ULL) > 0) {
    t.add({"gpu memory peak", size_text(u.value("gpu_memory_peak_bytes", 0ULL))});
  }
  if (j.value("restarts", 0) > 0) t.add({"requeued", std::to_string(j.value("restarts", 0))});
  t.print();
}

// The job's command line: after "--" (split off by main), else the words from the first
// one that is not a flag of ours (prefix_command).
std::vector<std::string> command_of(const Context& ctx, const Command& cmd) {
  std::vector<std::string> before = cmd.remaining();
  if (!ctx.has_job_command) return before;
  if (!before.empty()) return {};  // words both before and after "--": ambiguous
  return ctx.job_command;
}

std::optional<Json> submit(Context& ctx, api::Client& client, const JobArgs& a,
                           const std::vector<std::string>& command) {
  if (command.empty()) {
    std::fprintf(stderr,
                 "aion: give the command once, after the flags: aion run [flags] -- CMD ARGS\n");
    ctx.exit_code = kExitUsage;
    return std::nullopt;
  }
  if (!a.accel.empty()) {
    auto colon = a.accel.find(':');
    auto n = colon == std::string::npos ? std::nullopt : parse_int<int>(a.accel.substr(colon + 1));
    if (colon == 0 || !n || *n < 1 || a.gpus > 0 || a.gpu_fraction != 0) {
      std::fprintf(stderr,
                   "aion: --accel takes KIND:N with N >= 1 (e.g. --accel npu:2), and not with "
                   "--gpus or --gpu-fraction\n");
      ctx.exit_code = kExitUsage;
      return std::nullopt;
    }
  }
  auto body = call(ctx, client, "POST", "/v1/jobs", job_body(a, command).dump());
  if (!body) return std::nullopt;
  return Json::parse(*body, nullptr, false);
}

}  // namespace

std::optional<Json> copy_job_output(Context& ctx, api::Client& client, long long id, bool follow,
                                    bool cancel_on_interrupt) {
  if (cancel_on_interrupt) {
    g_interrupted = 0;
    std::signal(SIGINT, [](int) { g_interrupted = 1; });
    std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  }
  unsigned long long offset = 0;
  bool cancelled = false;
  for (;;) {
    if (g_interrupted && cancel_on_interrupt && !cancelled) {
      std::fprintf(stderr, "aion: cancelling job %lld\n", id);
      if (auto r = client.post("/v1/jobs/" + std::to_string(id) + "/cancel", "{}"); !r) {
        std::fprintf(stderr, "aion: cancelling job %lld failed: %s\n", id,
                     r.error().message().c_str());
      }
      cancelled = true;
    }
    auto body = call(ctx, client, "GET",
                     "/v1/jobs/" + std::to_string(id) + "/logs?offset=" + std::to_string(offset));
    if (!body) return std::nullopt;
    Json j = Json::parse(*body, nullptr, false);
    std::string data = j.value("data", "");
    if (!data.empty()) {
      std::fwrite(data.data(), 1, data.size(), stdout);
      std::fflush(stdout);
    }
    offset = j.value("next_offset", offset);
    if (j.value("finished", false) || (!follow && data.empty())) break;
    if (data.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  auto body = call(ctx, client, "GET", "/v1/jobs/" + std::to_string(id));
  if (!body) return std::nullopt;
  return Json::parse(*body, nullptr, false);
}

namespace {

// aion run and aion submit
void add_run_and_submit(Command& app, Context& ctx) {
  auto run_args = std::make_shared<JobArgs>();
  Command run = app.add(
      "run", "Run a job: queue it, stream its output, exit with its status (Ctrl-C cancels it)");
  add_job_flags(run, *run_args);
  run.footer(
      "Usage: aion run [--gpus N | --accel KIND:N | --gpu-fraction F --gpu-mem SIZE] [--cpus N] "
      "[--mem SIZE] [...] -- CMD ARGS\nExit status: the job's; 128+N when killed by "
      "signal N; 1 when it could not start, was cancelled or lost.");
  run.action([&ctx, run_args, run] {
    if (!strict_applies(ctx, "run", "its exit status is the job's")) return;
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto job = submit(ctx, *client, *run_args, command_of(ctx, run));
    if (!job) return;
    long long id = job->value("id", 0LL);
    if (!ctx.json) std::fprintf(stderr, "aion: job %lld submitted\n", id);
    auto end = copy_job_output(ctx, *client, id, true, true);
    if (!end) return;
    if (ctx.json) {
      std::printf("%s\n", end->dump().c_str());
    } else if (end->value("state", "") != "completed") {
      std::fprintf(stderr, "aion: job %lld %s: %s\n", id, end->value("state", "").c_str(),
                   end->value("reason", "").c_str());
    }
    ctx.exit_code = exit_status_of(*end);
  });

  auto sub_args = std::make_shared<JobArgs>();
  Command sub = app.add("submit", "Queue a job and print its id (see aion run)");
  add_job_flags(sub, *sub_args);
  sub.footer("Usage: aion submit [flags as for aion run] -- CMD ARGS");
  sub.action([&ctx, sub_args, sub] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto job = submit(ctx, *client, *sub_args, command_of(ctx, sub));
    if (!job) return;
    if (ctx.json) {
      std::printf("%s\n", job->dump().c_str());
    } else {
      std::printf("%lld\n", job->value("id", 0LL));
    }
  });
}

// aion ps and aion show ID
void add_ps_and_show(Command& app, Context& ctx) {
  struct PsArgs {
    bool all = false;
    bool mine = false;
    int limit = 50;
  };
  auto ps_args = std::make_shared<PsArgs>();
  Command ps = app.add("ps", "List pending and running jobs (-a: also ended ones)");
  ps.flag("-a,--all", ps_args->all, "Also jobs that ended (the newest --limit)");
  ps.flag("--mine", ps_args->mine, "Only your jobs");
  ps.option("--limit", ps_args->limit, "With -a: at most this many, newest (default 50)")
      .range(1, 100000);
  ps.action([&ctx, ps_args] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    std::string q = ps_args->all ? "/v1/jobs?limit=" + std::to_string(ps_args->limit)
                                 : std::string("/v1/jobs?state=pending,running");
    if (ps_args->mine) q += "&mine=1";
    auto body = call(ctx, *client, "GET", q);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    print_jobs(Json::parse(*body, nullptr, false)["jobs"], false);
  });

  auto show_id = std::make_shared<long long>(0);
  Command show = app.add("show", "A job in full: request, allocation, exit, usage");
  show.option("ID", *show_id, "Job id").required();
  show.action([&ctx, show_id] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/jobs/" + std::to_string(*show_id));
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    print_job(Json::parse(*body, nullptr, false));
  });
}

// aion cancel ID... and aion queue
void add_cancel_and_queue(Command& app, Context& ctx) {
  auto cancel_ids = std::make_shared<std::vector<long long>>();
  Command cancel = app.add(
      "cancel", "Cancel jobs: pending ones at once, running ones get SIGTERM, then SIGKILL");
  cancel.option("ID", *cancel_ids, "Job ids").required();
  cancel.action([&ctx, cancel_ids] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    for (long long id : *cancel_ids) {
      auto body = call(ctx, *client, "POST", "/v1/jobs/" + std::to_string(id) + "/cancel", "{}");
      if (!body) continue;
      Json j = Json::parse(*body, nullptr, false);
      if (ctx.json) {
        std::printf("%s\n", body->c_str());
      } else {
        std::printf("job %lld: %s\n", id, j.value("reason", "").c_str());
      }
    }
  });

  Command queue = app.add("queue", "Pending jobs in start order, and why each waits");
  queue.action([&ctx] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/queue");
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    print_jobs(Json::parse(*body, nullptr, false)["jobs"], true);
  });
}

}  // namespace

void add_job_commands(Command& app, Context& ctx) {
  add_run_and_submit(app, ctx);
  add_ps_and_show(app, ctx);
  add_cancel_and_queue(app, ctx);
}

}  // namespace aion::cli
