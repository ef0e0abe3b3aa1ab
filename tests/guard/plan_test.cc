// plan_sandbox(): what a profile becomes on machines that offer less. A profile that refuses
// names every missing mechanism; one that warns runs with the rest and lists what it lacks;
// nothing is dropped in silence. The machines are described, not probed: a cgroup v1 host
// without a cgroup2 mount, a kernel without Landlock, one without namespaces.
#include <gtest/gtest.h>

#include "aion/guard/plan.h"

namespace aion::guard {
namespace {

Mechanisms full() {
  Mechanisms m;
  m.root = true;
  m.landlock_abi = 7;
  m.seccomp = m.no_new_privs = m.mount_ns = m.net_ns = true;
  m.cgroup2_root = "/sys/fs/cgroup/unified";
  m.cgroup_bpf = true;
  m.audit_enabled = m.audit_readable = true;
  return m;
}

SandboxProfile agent() {
  SandboxProfile p;
  p.name = "agent";
  p.read_exec = {"/usr"};
  p.read_only = {"/etc", "{home}"};
  p.read_write = {"{workdir}", "/tmp"};
  p.deny_syscalls = {"ptrace"};
  p.network = NetworkMode::kAllow;
  p.allow = {"127.0.0.1:8000"};
  return p;
}

JobContext job() {
  JobContext j;
  j.workdir = "/home/alice/proj";
  j.home = "/home/alice";
  j.program = "/tmp/run/agent";
  j.extra_allow = {"10.0.0.5:443"};
  return j;
}

TEST(GuardPlan, AFullMachineGetsEverything) {
  auto plan = plan_sandbox(agent(), full(), job());
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_TRUE(plan->unenforced.empty());
  EXPECT_EQ(plan->landlock_abi, 7);
  EXPECT_EQ(plan->read_write.front(), "/home/alice/proj");
  EXPECT_NE(std::find(plan->read_only.begin(), plan->read_only.end(), "/home/alice"),
            plan->read_only.end());
  EXPECT_NE(std::find(plan->read_exec.begin(), plan->read_exec.end(), "/tmp/run/agent"),
            plan->read_exec.end());
  EXPECT_EQ(plan->keep, std::vector<std::string>{"/tmp/run"});  // the program's dir in /tmp
  EXPECT_EQ(plan->network, NetworkMode::kAllow);
  EXPECT_EQ(plan->allow, (std::vector<std::string>{"127.0.0.1:8000", "10.0.0.5:443"}));
  EXPECT_TRUE(plan->seccomp);
  EXPECT_TRUE(plan->egress_bpf);
}

// cgroup v1 with no cgroup2 mounted: no BPF hooks. The allow-list cannot be enforced.
TEST(GuardPlan, ACgroupV1HostWithoutCgroup2RefusesTheAllowList) {
  Mechanisms m = full();
  m.cgroup2_root.clear();
  m.cgroup_bpf = false;
  auto refused = plan_sandbox(agent(), m, job());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(refused.error().message().find("network allow-list (no cgroup BPF)"), std::string::npos)
      << refused.error().message();
  SandboxProfile warn = agent();
  warn.on_unenforceable = Unenforceable::kWarn;
  auto plan = plan_sandbox(warn, m, job());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->unenforced, std::vector<std::string>{"network allow-list (no cgroup BPF)"});
  EXPECT_EQ(plan->network, NetworkMode::kHost);  // said, not hidden
  EXPECT_EQ(plan->landlock_abi, 7);              // the rest holds
}

TEST(GuardPlan, EveryMissingMechanismIsNamed) {
  Mechanisms m;  // nothing at all
  auto r = plan_sandbox(agent(), m, job());
  ASSERT_FALSE(r.has_value());
  for (const char* missing :
       {"file rules (no Landlock)", "system-call filter (no seccomp)", "no_new_privileges",
        "private /tmp (no mount namespace)", "network allow-list (no cgroup BPF)"})
    EXPECT_NE(r.error().message().find(missing), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("aion guard status"), std::string::npos);
}

TEST(GuardPlan, OldLandlockOrAuditOffIsANoteNotARefusal) {
  Mechanisms m = full();
  m.landlock_abi = 3;
  auto plan = plan_sandbox(agent(), m, job());
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_NE(plan->notes[0].find("ABI 3"), std::string::npos);
}

TEST(GuardPlan, TheSystemIsNoWorkDirectory) {
  for (const char* dir : {"/", "/usr", "/etc/", "/home", ""}) {
    JobContext j = job();
    j.workdir = dir;
    auto r = plan_sandbox(agent(), full(), j);
    ASSERT_FALSE(r.has_value()) << dir;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace aion::guard
