#include "aion/guard/plan.h"

#include <algorithm>
#include <array>

namespace aion::guard {

namespace {

// Directories a job's working directory may not be (nor lie directly in, for "/"): making
// them writable would hand the job the system.
bool system_directory(const std::string& dir) {
  static const std::array<std::string_view, 14> kSystem = {
      "/",     "/usr", "/etc",  "/bin", "/sbin", "/lib", "/lib64",
      "/boot", "/var", "/root", "/opt", "/proc", "/sys", "/dev"};
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return std::find(kSystem.begin(), kSystem.end(), d) != kSystem.end() || d == "/home";
}

// The list with the placeholders filled in; a {home} of a user without one is dropped.
std::vector<std::string> fill(const std::vector<std::string>& paths, const JobContext& job) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (p == "{workdir}") {
      out.push_back(job.workdir);
    } else if (p == "{home}") {
      if (!job.home.empty() && job.home != "/") out.push_back(job.home);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

void check_mechanisms(const SandboxProfile& p, const Mechanisms& m, SandboxPlan& plan) {
  const bool files = !p.read_exec.empty() || !p.read_only.empty() || !p.read_write.empty();
  if (files && m.landlock_abi == 0) plan.unenforced.push_back("file rules (no Landlock)");
  if (!p.deny_syscalls.empty() && !m.seccomp)
    plan.unenforced.push_back("system-call filter (no seccomp)");
  if (p.no_new_privileges && !m.no_new_privs) plan.unenforced.push_back("no_new_privileges");
  if (p.private_tmp && !m.mount_ns) plan.unenforced.push_back("private /tmp (no mount namespace)");
  if ((p.network == NetworkMode::kNone || p.network == NetworkMode::kLoopback) && !m.net_ns)
    plan.unenforced.push_back("network " + std::string(to_string(p.network)) +
                              " (no network namespace)");
  if (p.network == NetworkMode::kAllow && !m.cgroup_bpf)
    plan.unenforced.push_back("network allow-list (no cgroup BPF)");
  if (p.record_egress && !m.cgroup_bpf && p.network != NetworkMode::kNone)
    plan.notes.push_back("egress is not recorded (no cgroup BPF)");
  if (files && m.landlock_abi > 0 && (m.landlock_abi < 7 || !m.audit_enabled))
    plan.notes.push_back(m.landlock_abi < 7 ? "refused file accesses are not recorded (Landlock "
                                              "ABI 7 audits them; this kernel has ABI " +
                                                  std::to_string(m.landlock_abi) + ")"
                                            : "refused file accesses are not recorded (kernel "
                                              "auditing is off)");
}

}  // namespace

Result<SandboxPlan> plan_sandbox(const SandboxProfile& p, const Mechanisms& m,
                                 const JobContext& job) {
  const bool wants_workdir =
      std::find(p.read_write.begin(), p.read_write.end(), "{workdir}") != p.read_write.end();
  if (wants_workdir &&
      (job.workdir.empty() || job.workdir.front() != '/' || system_directory(job.workdir))) {
    return fail(ErrorCode::kInvalidArgument,
                "sandbox '" + p.name + "' makes the job's working directory writable, and '" +
                    job.workdir +
                    "' is not a directory of the job's own: run it from (or with --cwd) a "
                    "project directory");
  }
  SandboxPlan plan;
  plan.profile = p.name;
  check_mechanisms(p, m, plan);
  if (!plan.unenforced.empty() && p.on_unenforceable == Unenforceable::kRefuse) {
    std::string list;
    for (const auto& u : plan.unenforced) list += (list.empty() ? "" : ", ") + u;
    return fail(ErrorCode::kUnsupported, "sandbox '" + p.name +
                                             "' cannot be enforced on this machine: " + list +
                                             "; see `aion guard status`");
  }
  if (m.landlock_abi > 0) {
    plan.landlock_abi = m.landlock_abi;
    plan.read_exec = fill(p.read_exec, job);
    if (!job.program.empty()) plan.read_exec.push_back(job.program);  // its own program
    plan.read_only = fill(p.read_only, job);
    plan.read_write = fill(p.read_write, job);
    if (p.job_devices) {
      for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                              "/dev/tty", "/dev/pts", "/dev/ptmx"})
        plan.read_write.push_back(dev);
      for (const auto& d : job.device_nodes) plan.read_write.push_back(d);
      if (!job.device_nodes.empty()) {  // the vendors' shared control nodes
        for (const char* dev :
             {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/kfd", "/dev/dri"})
          plan.read_write.push_back(dev);
      }
    }
    if (plan.read_exec.empty() && plan.read_only.empty() && plan.read_write.empty())
      plan.landlock_abi = 0;
  }
  plan.seccomp = m.seccomp && (!p.deny_syscalls.empty() || p.deny_new_namespaces);
  if (plan.seccomp) {
    plan.deny_syscalls = p.deny_syscalls;
    plan.deny_new_namespaces = p.deny_new_namespaces;
  }
  plan.no_new_privileges = p.no_new_privileges && m.no_new_privs;
  plan.private_tmp = p.private_tmp && m.mount_ns;
  if (plan.private_tmp) {
    const std::string program_dir = job.program.substr(0, job.program.rfind('/'));
    for (const std::string& d : {job.workdir, program_dir}) {
      if ((d.starts_with("/tmp/") || d.starts_with("/dev/shm/")) &&
          std::find(plan.keep.begin(), plan.keep.end(), d) == plan.keep.end())
        plan.keep.push_back(d);
    }
  }
  plan.network = p.network;
  if ((p.network == NetworkMode::kNone || p.network == NetworkMode::kLoopback) && !m.net_ns)
    plan.network = NetworkMode::kHost;
  plan.allow = p.allow;
  plan.allow.insert(plan.allow.end(), job.extra_allow.begin(), job.extra_allow.end());
  if (p.network == NetworkMode::kAllow && !m.cgroup_bpf) plan.network = NetworkMode::kHost;
  plan.record_egress = p.record_egress && m.cgroup_bpf && plan.network != NetworkMode::kNone;
  plan.egress_bpf = plan.network == NetworkMode::kAllow || plan.record_egress;
  return plan;
}

Json plan_json(const SandboxPlan& plan) {
  return {{"profile", plan.profile},
          {"landlock_abi", plan.landlock_abi},
          {"read_exec", plan.read_exec},
          {"read_only", plan.read_only},
          {"read_write", plan.read_write},
          {"seccomp", plan.seccomp},
          {"deny_syscalls", plan.deny_syscalls},
          {"deny_new_namespaces", plan.deny_new_namespaces},
          {"no_new_privileges", plan.no_new_privileges},
          {"private_tmp", plan.private_tmp},
          {"network", std::string(to_string(plan.network))},
          {"allow", plan.allow},
          {"record_egress", plan.record_egress},
          {"unenforced", plan.unenforced},
          {"notes", plan.notes}};
}

}  // namespace aion::guard
