#include "aion/sched/job_launch.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string_view>

#include <spdlog/spdlog.h>

#include "aion/core/fd.h"
#include "aion/core/strings.h"
#include "aion/sched/job_env.h"

namespace aion::sched {

namespace fs = std::filesystem;

namespace {

// The job's cgroup with its CPUs, memory nodes and limit. Every accelerator node the job was
// not given is denied; everything else (RDMA, FUSE, vendor control nodes) stays usable.
Result<JobCgroup> make_cgroup(const LaunchContext& ctx, const Job& job, const Allocation& a) {
  CgroupLimits limits;
  limits.cpus = cpuset_list(a.cpus);
  std::vector<std::string> mems;
  for (int x : a.mems) mems.push_back(std::to_string(x));
  limits.mems = join(mems, ",");
  limits.memory_bytes = a.memory_bytes;
  std::set<int> mine(a.gpus.begin(), a.gpus.end());
  for (std::size_t i = 0; i < ctx.inventory.accelerators.size(); ++i) {
    if (mine.contains(static_cast<int>(i))) continue;
    for (const auto& node : ctx.inventory.accelerators[i].device_nodes) {
      auto rule = device_rule_for(node);
      if (rule) limits.deny_devices.push_back(*rule);
    }
  }
  return JobCgroup::create(ctx.fs, ctx.caps, ctx.config.cgroup_parent,
                           "job-" + std::to_string(job.id), limits);
}

// The device nodes of the accelerators the job was given.
std::vector<std::string> device_nodes_of(const LaunchContext& ctx, const Allocation& a) {
  std::vector<std::string> out;
  for (int g : a.gpus) {
    if (g < 0 || static_cast<std::size_t>(g) >= ctx.inventory.accelerators.size()) continue;
    for (const auto& n : ctx.inventory.accelerators[static_cast<std::size_t>(g)].device_nodes)
      out.push_back(n);
  }
  return out;
}

// The launch file: NUL-separated key=value records (values may hold any byte but NUL).
Status write_launch_file(const LaunchContext& ctx, const Job& job, const Allocation& a,
                         const fs::path& dir, const std::vector<std::string>& procs,
                         const std::optional<guard::SandboxPlan>& sandbox, std::size_t held_fds) {
  auto exe = resolve_command(job.spec);
  if (!exe) return std::unexpected(exe.error());
  std::string launch;
  bool nul = false;  // a value with a NUL would split into records of its own: refused below
  auto rec = [&](std::string_view k, std::string_view v) {
    nul = nul || v.find('\0') != std::string_view::npos;
    launch.append(k).append("=").append(v).push_back('\0');
  };
  rec("exe", *exe);
  for (const auto& arg : job.spec.command) rec("arg", arg);
  for (const auto& [k, v] : job_env(job, a, ctx.model)) rec("env", k + "=" + v);
  rec("cwd", job.spec.cwd);
  rec("uid", std::to_string(job.spec.uid));
  rec("gid", std::to_string(job.spec.gid));
  if (job.spec.uid != 0) rec("groups", std::to_string(job.spec.gid));
  rec("log", (dir / "output.log").string());
  rec("log_max", std::to_string(ctx.config.job_output_max_bytes));
  for (const auto& p : procs) rec("procs", p);
  if (!job.spec.verify.empty()) {
    if (ctx.config.cli.empty())
      return fail(ErrorCode::kUnavailable,
                  "the job declares files to check, and the aion program (which checks them) is "
                  "not installed beside aiond nor in /usr/bin");
    rec("verify_exe", ctx.config.cli.string());
    for (const auto& f : job.spec.verify) rec("verify", f);
  }
  if (sandbox) {
    if (auto st = write_sandbox(*sandbox, dir, rec); !st) return st;
    if (held_fds > 0) rec("held_fds", std::to_string(held_fds));
    std::ofstream(dir / "sandbox.json") << guard::plan_json(*sandbox).dump(2) << "\n";
  }
  if (nul) return fail(ErrorCode::kInvalidArgument, "a value of the job holds a NUL byte");
  std::ofstream f(dir / "launch", std::ios::binary);
  f.write(launch.data(), static_cast<std::streamsize>(launch.size()));
  if (!f) return fail(ErrorCode::kIo, "cannot write " + (dir / "launch").string());
  return {};
}

// Starts aion-shim on `dir` in a session of its own, stdin from /dev/null, its own output to
// shim.log, no inherited environment, and no inherited descriptors but `held` (as 3, 4, ...):
// the attachments of the job's network policy, which the shim keeps for the job's life.
Result<pid_t> spawn_shim(const fs::path& shim_path, const fs::path& dir,
                         const std::vector<int>& held) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // The shim starts with SIGTERM blocked and unblocks it once it forwards it to the job, so a
  // stop that comes this early is kept, not fatal to the shim.
  sigset_t term_only, all;
  sigemptyset(&term_only);
  sigaddset(&term_only, SIGTERM);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &term_only);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::string shim_log = (dir / "shim.log").string();
  posix_spawn_file_actions_addopen(&actions, 1, shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Each held descriptor is copied high first (close-on-exec here), so that moving it to its
  // place (3 + i) never overwrites another still to be moved.
  std::vector<Fd> high;
  for (std::size_t i = 0; i < held.size(); ++i) {
    high.emplace_back(::fcntl(held[i], F_DUPFD_CLOEXEC, 1000));
    if (!high.back().valid()) {
      posix_spawn_file_actions_destroy(&actions);
      posix_spawnattr_destroy(&attr);
      return fail(ErrorCode::kIo, std::string("cannot hand the network policy to the shim: ") +
                                      std::strerror(errno));
    }
    posix_spawn_file_actions_adddup2(&actions, high.back().get(), static_cast<int>(3 + i));
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, static_cast<int>(3 + held.size()));
  std::string shim = shim_path.string(), dir_s = dir.string();
  char* argv[] = {shim.data(), dir_s.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, shim.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(ErrorCode::kIo, "cannot start " + shim + ": " + std::strerror(rc));
  return pid;
}

}  // namespace

Result<std::unique_ptr<JobProcess>> launch_job(const LaunchContext& ctx, Job& job,
                                               const Allocation& a, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Leftovers of an earlier run (a requeued job) must not be taken for this run's.
  for (const char* f : {"status", "pid", "shim.pid", "launch", "guard.log", "sandbox.json",
                        "egress.json", "seccomp.bpf"})
    fs::remove(dir / f, ec);
  fs::permissions(dir, fs::perms::owner_all, ec);

  // The sandbox first: a job whose profile cannot be enforced is refused before anything is
  // made for it.
  std::optional<guard::SandboxPlan> sandbox;
  if (!job.spec.sandbox.empty()) {
    auto plan = plan_job_sandbox(ctx.guard, job.spec, device_nodes_of(ctx, a));
    if (!plan) return std::unexpected(plan.error());
    sandbox = std::move(*plan);
  }
  auto process = std::make_unique<JobProcess>(dir);
  std::vector<std::string> procs;
  if (ctx.config.cgroups && ctx.caps.version != CgroupVersion::kNone) {
    auto cg = make_cgroup(ctx, job, a);
    if (!cg) return std::unexpected(cg.error());
    procs = cg->procs_files();
    process->cgroup() = std::move(*cg);
  }
  // From here on a failure leaves no cgroup behind.
  auto undo = [&](Error e) -> Result<std::unique_ptr<JobProcess>> {
    process->egress().reset();
    if (process->cgroup()) {
      if (auto st = process->cgroup()->remove(); !st) {
        spdlog::warn("event=job_cgroup_remove_failed id={} error=\"{}\"", job.id,
                     st.error().message());
      }
    }
    return std::unexpected(std::move(e));
  };
  if (sandbox) {  // the network policy is in place before the job's first socket
    auto egress = attach_egress(
        *sandbox, process->cgroup() ? process->cgroup()->unified_dir() : std::string());
    if (!egress) return undo(egress.error());
    process->egress() = std::move(*egress);
  }
  if (auto st = write_launch_file(ctx, job, a, dir, procs, sandbox,
                                  process->egress() ? process->egress()->link_fds().size() : 0);
      !st)
    return undo(st.error());
  const std::vector<int> held =
      process->egress() ? process->egress()->link_fds() : std::vector<int>{};
  auto pid = spawn_shim(ctx.config.shim, dir, held);
  if (!pid) return undo(pid.error());
  process->attach_child(*pid);
  job.shim_pid = *pid;
  job.shim_start = process_start_time(*pid);
  return process;
}

}  // namespace aion::sched
