// plan_sandbox(): what one job's sandbox is on this machine. The profile's file lists with
// {workdir} and {home} filled in (and the job's device nodes), the system calls to refuse,
// the namespaces and the network policy, each checked against what the kernel offers
// (mechanisms.h). What the profile asks and this machine cannot enforce is listed in
// `unenforced`; a profile that refuses in that case makes plan_sandbox() fail with that list,
// one that warns gets a plan whose `unenforced` the job's record keeps. Never weakened in
// silence. Pure function of its arguments; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/json.h"
#include "aion/guard/mechanisms.h"
#include "aion/guard/profile.h"

namespace aion::guard {

struct JobContext {
  std::string workdir;                    // absolute; must be a directory of the job's own
  std::string home;                       // the user's home; "" when none
  std::vector<std::string> device_nodes;  // the accelerator nodes given to the job
  std::vector<std::string> extra_allow;   // network rules the job adds (--allow-net)
  std::string program;                    // the program's path (its directory is kept too)
};

struct SandboxPlan {
  std::string profile;
  int landlock_abi = 0;  // 0: no file rules
  std::vector<std::string> read_exec, read_only, read_write;
  bool seccomp = false;
  std::vector<std::string> deny_syscalls;
  bool deny_new_namespaces = false;
  bool no_new_privileges = false;
  bool private_tmp = false;
  std::vector<std::string> keep;  // the job's directories under /tmp or /dev/shm, bound back in
  NetworkMode network = NetworkMode::kHost;
  std::vector<std::string> allow;  // network = allow: the profile's rules and the job's
  bool egress_bpf = false;         // attach the cgroup BPF hooks (allow-list and/or record)
  bool record_egress = false;
  std::vector<std::string> unenforced;  // asked for, not enforceable here
  std::vector<std::string> notes;       // what holds but is not recorded, and the like
};

// kInvalidArgument for a working directory a sandbox cannot be built around ("/", a system
// directory), kUnsupported naming every missing mechanism when the profile refuses to run
// without them (with "see `aion guard status`").
Result<SandboxPlan> plan_sandbox(const SandboxProfile& p, const Mechanisms& m,
                                 const JobContext& job);

Json plan_json(const SandboxPlan& plan);

}  // namespace aion::guard
