#include "aion/sched/runner_config.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "aion/guard/config.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

// The shim: AION_SHIM, beside this program (a build tree), or the installed one.
Result<fs::path> find_shim() {
  std::vector<fs::path> tries;
  if (const char* env = std::getenv("AION_SHIM")) tries.emplace_back(env);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    tries.push_back(self.parent_path() / "aion-shim");
    tries.push_back(self.parent_path().parent_path() / "lib/aion/aion-shim");
  }
  tries.emplace_back("/usr/lib/aion/aion-shim");
  for (const auto& t : tries) {
    if (::access(t.c_str(), X_OK) == 0) return t;
  }
  return fail(ErrorCode::kNotFound,
              "aion-shim (the job supervisor) is not installed beside aiond nor in "
              "/usr/lib/aion; reinstall aion or set AION_SHIM");
}

// The aion program beside this one, or the installed one ("" when neither: jobs that declare
// files to check are then refused at launch, saying why).
fs::path find_cli() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  for (const fs::path& t :
       {ec ? fs::path() : self.parent_path() / "aion", fs::path("/usr/bin/aion")})
    if (!t.empty() && ::access(t.c_str(), X_OK) == 0) return t;
  return {};
}

}  // namespace

ConfigSchema sched_config_schema() {
  ConfigSchema queue;
  queue.string("name", "default", "Queue name (aion run --queue NAME)")
      .number("weight", 1.0, "Share of the node relative to other queues at equal priority");
  ConfigSchema s;
  s.boolean("sched.cgroups", true,
            "Run each job in its own cgroup (cpuset, memory limit, devices); false: only "
            "environment variables and CPU affinity")
      .string("sched.cgroup_parent", "aion.jobs", "Cgroup below which job cgroups are made")
      .integer("sched.cpu_overcommit", 1,
               "Jobs that may share one CPU (1: every job has its CPUs to itself)", 1, 256)
      .string("sched.reserved_memory", "1G", "Memory kept back from jobs for the OS and aiond")
      .integer("sched.kill_grace_s", 10,
               "Seconds between SIGTERM and SIGKILL when a job is cancelled or preempted", 0, 3600)
      .boolean("sched.preemption", true,
               "Let a higher-priority job stop lower-priority ones to get its resources")
      .string("sched.share_policy", "fgd",
              "How a GPU share picks its GPU: a placement policy of `aion sim` (fgd, fgd-pack, "
              "bestfit, packing, clustering, dotprod, random) with fgd measuring fragmentation "
              "against this node's own jobs, or \"local\" (best fit)")
      .integer("sched.fairshare_half_life_s", 3600,
               "Half-life of past usage in fair share between users", 0, 30 * 86400)
      .integer("sched.starvation_after_s", 600,
               "A job waiting longer than this goes before smaller jobs behind it", 1, 30 * 86400)
      .integer("sched.max_pending", 100000, "Pending jobs beyond this are refused", 1, 10000000)
      .integer("sched.max_pending_per_user", 1000,
               "Pending jobs one user may have; more are refused (0: no limit; root is exempt)", 0,
               10000000)
      .integer("sched.max_running_per_user", 0,
               "Running jobs one user may have; more wait in the queue (0: no limit)", 0, 1000000)
      .string("sched.job_output_max_bytes", "1G",
              "Output (stdout+stderr) kept per job run; beyond it output is dropped and the "
              "job's log says how much (0: no cap)")
      .integer("sched.gpu_memory_check_s", 2,
               "How often to read per-process GPU memory through NVML and stop jobs using more "
               "than their GPU share (0: never)",
               0, 3600)
      .table_array("sched.queue", queue, "Queues and their weights (\"default\" always exists)");
  s.merge(guard::guard_config_schema());  // the sandboxes of jobs
  return s;
}

Result<RunnerConfig> runner_config(const Config& c, const fs::path& state_dir) {
  RunnerConfig r;
  r.jobs_dir = state_dir / "jobs";
  r.guard_profiles_dir = c.get_string("guard.profiles_dir");
  r.guard_endpoints_file = c.get_string("guard.endpoints_file");
  r.guard_enable_audit = c.get_string("guard.kernel_audit") == "enable";
  r.cgroups = c.get_bool("sched.cgroups");
  r.cgroup_parent = c.get_string("sched.cgroup_parent");
  if (r.cgroup_parent.empty() || r.cgroup_parent.find("..") != std::string::npos ||
      r.cgroup_parent.front() == '/') {
    return fail(ErrorCode::kConfig, c.source() +
                                        ": sched.cgroup_parent must be a relative cgroup name "
                                        "like \"aion.jobs\"");
  }
  r.cpu_overcommit = static_cast<int>(c.get_int("sched.cpu_overcommit"));
  auto reserved = parse_size(c.get_string("sched.reserved_memory"));
  if (!reserved) {
    return fail(ErrorCode::kConfig,
                c.source() + ": sched.reserved_memory: " + reserved.error().message());
  }
  r.reserved_memory_bytes = *reserved;
  r.kill_grace = std::chrono::seconds(c.get_int("sched.kill_grace_s"));
  r.policy.preemption = c.get_bool("sched.preemption");
  r.policy.share_policy = c.get_string("sched.share_policy");
  if (auto ok = check_share_policy(r.policy.share_policy); !ok)
    return fail(ErrorCode::kConfig, c.source() + ": sched.share_policy: " + ok.error().message());
  r.policy.fairshare_half_life_s = static_cast<double>(c.get_int("sched.fairshare_half_life_s"));
  r.policy.starvation_after_ms = c.get_int("sched.starvation_after_s") * 1000;
  r.max_pending = static_cast<int>(c.get_int("sched.max_pending"));
  r.policy.max_pending_per_user = static_cast<int>(c.get_int("sched.max_pending_per_user"));
  r.policy.max_running_per_user = static_cast<int>(c.get_int("sched.max_running_per_user"));
  const std::string out_max = c.get_string("sched.job_output_max_bytes");
  if (out_max == "0") {
    r.job_output_max_bytes = 0;
  } else if (auto n = parse_size(out_max); n) {
    r.job_output_max_bytes = *n;
  } else {
    return fail(ErrorCode::kConfig,
                c.source() + ": sched.job_output_max_bytes: " + n.error().message());
  }
  r.gpu_check = std::chrono::seconds(c.get_int("sched.gpu_memory_check_s"));
  r.nvml_library = c.get_string("hw.nvml_library");
  for (const auto& q : c.get_tables("sched.queue")) {
    double w = q.get_double("weight");
    if (!(w > 0)) {
      return fail(ErrorCode::kConfig, c.source() + ": sched.queue '" + q.get_string("name") +
                                          "': weight must be above 0");
    }
    r.policy.queue_weights[q.get_string("name")] = w;
  }
  auto shim = find_shim();
  if (!shim) return std::unexpected(shim.error());
  r.shim = std::move(*shim);
  r.cli = find_cli();
  return r;
}

}  // namespace aion::sched
