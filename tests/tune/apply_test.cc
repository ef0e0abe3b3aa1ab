#include "aion/tune/apply.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstring>

#include "aion/core/cpu_list.h"
#include "tune_fixture.h"

namespace aion::tune {
namespace {

using testing::TuneFixture;
namespace fs = std::filesystem;
using testing::tree_picture;

// A profile touching every kind of setting the fixture has.
constexpr const char* kEverything = R"(schema_version = 1
name = "everything"
[[setting]]
key = "sysctl.vm.swappiness"
value = 10
reason = "r"
source = "s"
[[setting]]
key = "sysctl.vm.max_map_count"
value = ">=1048576"
reason = "r"
source = "s"
[[setting]]
key = "sysctl.net.core.rmem_max"
value = ">=100"
reason = "already larger"
source = "s"
[[setting]]
key = "sysctl.net.ipv4.tcp_rmem"
value = "4096 262144 16777216"
reason = "r"
source = "s"
[[setting]]
key = "thp.enabled"
value = "always"
reason = "r"
source = "s"
[[setting]]
key = "hugepages.2048kB"
value = "2%"
reason = "r"
source = "s"
[[setting]]
key = "cpu.governor"
value = "schedutil|performance"
reason = "r"
source = "s"
[[setting]]
key = "cpu.energy_perf_preference"
value = "performance"
reason = "r"
source = "s"
[[setting]]
key = "cpu.resume_latency_us"
value = 20
reason = "r"
source = "s"
[[setting]]
key = "irq.nic_affinity"
value = "gpu-local"
reason = "r"
source = "s"
[[setting]]
key = "block.scheduler"
value = "mq-deadline"
reason = "r"
source = "s"
[[setting]]
key = "block.read_ahead_kb"
value = 4096
reason = "r"
source = "s"
[[setting]]
key = "net.tx_queue_len"
value = 10000
reason = "r"
source = "s"
[[setting]]
key = "sysctl.vm.no_such_knob"
value = 1
reason = "unsupported on purpose"
source = "s"
)";

// Takes CAP_DAC_OVERRIDE out of this thread's effective set, so that file modes bind root
// too (the tests run as root in CI); restores it on scope exit.
class WithoutDacOverride {
 public:
  WithoutDacOverride() {
    hdr_.version = _LINUX_CAPABILITY_VERSION_3;
    hdr_.pid = 0;
    if (::syscall(SYS_capget, &hdr_, saved_) != 0) return;
    __user_cap_data_struct reduced[2];
    std::memcpy(reduced, saved_, sizeof reduced);
    reduced[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
    active_ = ::syscall(SYS_capset, &hdr_, reduced) == 0;
  }
  ~WithoutDacOverride() {
    if (active_) ::syscall(SYS_capset, &hdr_, saved_);
  }

 private:
  __user_cap_header_struct hdr_{};
  __user_cap_data_struct saved_[2]{};
  bool active_ = false;
};

class ApplyTest : public TuneFixture {
 protected:
  Plan plan_of(const std::string& toml) {
    auto p = profile_from(toml);
    EXPECT_TRUE(p) << (p ? "" : p.error().message());
    auto plan = plan_for(*p);
    EXPECT_TRUE(plan) << (plan ? "" : plan.error().message());
    return plan ? *plan : Plan{};
  }
  Plan shipped_plan(const std::string& name) {
    auto r = testing::shipped_catalog(host()).resolve(name);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    auto plan = plan_for(*r);
    EXPECT_TRUE(plan) << (plan ? "" : plan.error().message());
    return plan ? *plan : Plan{};
  }
  const SettingOutcome& outcome(const ApplyReport& r, const std::string& key) {
    for (const auto& s : r.settings) {
      if (s.setting.key == key) return s;
    }
    ADD_FAILURE() << "no outcome for " << key;
    return r.settings.front();
  }
};

TEST_F(ApplyTest, AppliesEverySettingAndReadsBackTheValues) {
  Plan plan = plan_of(kEverything);
  auto report = apply(plan, host(), store());
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->ok) << report->failure;
  EXPECT_FALSE(report->snapshot_id.empty());
  EXPECT_EQ(read("proc/sys/vm/swappiness"), "10");
  EXPECT_EQ(read("proc/sys/vm/max_map_count"), "1048576");
  EXPECT_EQ(read("proc/sys/net/core/rmem_max"), "212992\n");
  EXPECT_EQ(read("proc/sys/net/ipv4/tcp_rmem"), "4096 262144 16777216");
  EXPECT_EQ(read("sys/kernel/mm/transparent_hugepage/enabled"), "always");
  // 2% of 16 GiB in 2 MiB pages, per node.
  EXPECT_EQ(read("sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"), "163");
  EXPECT_EQ(read("sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"), "163");
  EXPECT_EQ(read("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"), "performance");
  EXPECT_EQ(read("sys/devices/system/cpu/cpu0/cpufreq/energy_performance_preference"),
            "performance");
  EXPECT_EQ(read("sys/devices/system/cpu/cpu2/power/pm_qos_resume_latency_us"), "20");
  // The NIC sits on node 0, but its nearest GPU on node 1: its interrupts go to node 1.
  EXPECT_EQ(read("proc/irq/25/smp_affinity_list"), "2-3");
  EXPECT_EQ(read("proc/irq/26/smp_affinity_list"), "2-3");
  EXPECT_EQ(read("proc/irq/24/smp_affinity_list"), "0-3\n");
  EXPECT_EQ(read("sys/block/nvme0n1/queue/scheduler"), "mq-deadline");
  EXPECT_EQ(read("sys/block/sda/queue/read_ahead_kb"), "4096");
  EXPECT_EQ(read("sys/block/loop0/queue/read_ahead_kb"), "128\n");
  EXPECT_EQ(read("sys/class/net/ens1f0/tx_queue_len"), "10000");
  EXPECT_EQ(read("sys/class/net/lo/tx_queue_len"), "1000\n");
  EXPECT_EQ(outcome(*report, "sysctl.vm.swappiness").outcome, Outcome::kApplied);
  EXPECT_EQ(outcome(*report, "sysctl.net.core.rmem_max").outcome, Outcome::kAlreadySet);
  EXPECT_EQ(outcome(*report, "sysctl.vm.no_such_knob").outcome, Outcome::kUnsupported);
  EXPECT_NE(outcome(*report, "sysctl.vm.no_such_knob").message.find("/proc/sys/vm/no_such_knob"),
            std::string::npos);
  // Persistence: sysctls in sysctl.d, the rest in tmpfiles.d, IRQs in neither.
  std::string sysctl_d = read("etc/sysctl.d/90-aion-tune.conf");
  EXPECT_NE(sysctl_d.find("vm.swappiness = 10\n"), std::string::npos) << sysctl_d;
  EXPECT_NE(sysctl_d.find("net.ipv4.tcp_rmem = 4096 262144 16777216\n"), std::string::npos);
  std::string tmpfiles = read("etc/tmpfiles.d/aion-tune.conf");
  EXPECT_NE(tmpfiles.find("w /sys/kernel/mm/transparent_hugepage/enabled - - - - always\n"),
            std::string::npos)
      << tmpfiles;
  EXPECT_EQ(tmpfiles.find("/proc/irq"), std::string::npos);
  auto snap = store().load(report->snapshot_id);
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_EQ(snap->state, "applied");
}

TEST_F(ApplyTest, ApplyThenRollbackLeavesTheTreeByteForByteIdentical) {
  auto before = tree_picture(root_);
  auto report = apply(plan_of(kEverything), host(), store());
  ASSERT_TRUE(report && report->ok);
  EXPECT_NE(tree_picture(root_), before);
  auto snap = store().latest_active(root_.string());
  ASSERT_TRUE(snap && *snap);
  EXPECT_EQ((*snap)->id, report->snapshot_id);
  auto rb = rollback(**snap, host(), store());
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_TRUE(rb->ok);
  EXPECT_EQ(tree_picture(root_), before);
  EXPECT_FALSE(fs::exists(root_ / "etc/tmpfiles.d"));
  EXPECT_EQ(store().load(report->snapshot_id)->state, "rolled-back");
  auto none = store().latest_active(root_.string());
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(ApplyTest, ShippedProfilesStackAndRollBackInReverseOrder) {
  auto before = tree_picture(root_);
  auto training = apply(shipped_plan("ai-training"), host(), store());
  ASSERT_TRUE(training && training->ok) << (training ? training->failure : "");
  auto after_training = tree_picture(root_);
  auto inference = apply(shipped_plan("ai-inference"), host(), store());
  ASSERT_TRUE(inference && inference->ok) << (inference ? inference->failure : "");
  EXPECT_EQ(read("proc/sys/net/core/busy_poll"), "50");
  // ai-inference keeps one housekeeping CPU per node (0 and 2) for interrupts.
  EXPECT_EQ(read("proc/irq/24/smp_affinity_list"), "0,2");
  for (int i = 0; i < 2; ++i) {
    auto snap = store().latest_active(root_.string());
    ASSERT_TRUE(snap && *snap);
    auto rb = rollback(**snap, host(), store());
    ASSERT_TRUE(rb && rb->ok);
    if (i == 0) {
      EXPECT_EQ(tree_picture(root_), after_training);
    }
  }
  EXPECT_EQ(tree_picture(root_), before);
}

TEST_F(ApplyTest, SecondApplyFindsEverythingAlreadySet) {
  ASSERT_TRUE(apply(plan_of(kEverything), host(), store())->ok);
  auto after_first = tree_picture(root_);
  auto snapshots = store().list()->size();
  Plan again = plan_of(kEverything);
  EXPECT_FALSE(again.needs_change());
  auto report = apply(again, host(), store());
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok);
  EXPECT_TRUE(report->snapshot_id.empty());
  for (const auto& s : report->settings) {
    if (s.setting.key == "sysctl.vm.no_such_knob") continue;
    EXPECT_EQ(s.outcome, Outcome::kAlreadySet) << s.setting.key;
  }
  EXPECT_EQ(tree_picture(root_), after_first);
  EXPECT_EQ(store().list()->size(), snapshots);
}

TEST_F(ApplyTest, ReadOnlyFileMidApplyRollsBackEverythingAndSaysWhy) {
  auto before = tree_picture(root_);
  fs::path ro = root_ / "sys/block/sda/queue/read_ahead_kb";
  ASSERT_EQ(::chmod(ro.c_str(), 0444), 0);
  Result<ApplyReport> report = fail(ErrorCode::kInternal, "not run");
  {
    WithoutDacOverride as_plain_user;
    report = apply(plan_of(kEverything), host(), store());
  }
  ::chmod(ro.c_str(), 0644);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_FALSE(report->ok);
  EXPECT_TRUE(report->rolled_back);
  EXPECT_TRUE(report->rollback_errors.empty());
  EXPECT_NE(report->failure.find("block.read_ahead_kb"), std::string::npos) << report->failure;
  EXPECT_NE(report->failure.find("sda/queue/read_ahead_kb"), std::string::npos);
  EXPECT_NE(report->failure.find("Permission denied"), std::string::npos) << report->failure;
  EXPECT_EQ(outcome(*report, "sysctl.vm.swappiness").outcome, Outcome::kRolledBack);
  EXPECT_EQ(outcome(*report, "block.scheduler").outcome, Outcome::kRolledBack);
  EXPECT_EQ(outcome(*report, "block.read_ahead_kb").outcome, Outcome::kFailed);
  EXPECT_EQ(outcome(*report, "net.tx_queue_len").outcome, Outcome::kNotReached);
  EXPECT_EQ(tree_picture(root_), before);
  auto snap = store().load(report->snapshot_id);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->state, "rolled-back");
  EXPECT_NE(snap->note.find("automatic"), std::string::npos);
}

TEST_F(ApplyTest, FileVanishingMidApplyRollsBackTheRest) {
  auto before = tree_picture(root_);
  ApplyOptions options;
  options.before_write = [&](std::string_view path) {
    if (path == "/sys/block/sda/queue/scheduler")
      fs::remove(root_ / "sys/block/sda/queue/scheduler");
  };
  auto report = apply(plan_of(kEverything), host(), store(), options);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->ok);
  EXPECT_TRUE(report->rolled_back);
  EXPECT_TRUE(report->rollback_errors.empty());
  EXPECT_NE(report->failure.find("sda/queue/scheduler"), std::string::npos) << report->failure;
  EXPECT_NE(report->failure.find("No such file"), std::string::npos) << report->failure;
  before.erase("sys/block/sda/queue/scheduler");
  EXPECT_EQ(tree_picture(root_), before);
}

TEST_F(ApplyTest, SnapshotTakenBeforeACrashRollsBackTheHalfAppliedTree) {
  auto before = tree_picture(root_);
  Plan plan = plan_of(kEverything);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int writes = 0;
    ApplyOptions options;
    options.before_write = [&](std::string_view) {
      if (++writes == 9) ::_exit(0);  // dies in the middle, like a power cut of the CLI
    };
    ignore(apply(plan, host(), store(), options), "the child is killed in the middle of it");
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the apply finished before the simulated crash";
  EXPECT_NE(tree_picture(root_), before);
  auto snap = store().latest_active(root_.string());
  ASSERT_TRUE(snap && *snap);
  EXPECT_EQ((*snap)->state, "applying");
  auto rb = rollback(**snap, host(), store());
  ASSERT_TRUE(rb && rb->ok);
  EXPECT_EQ(tree_picture(root_), before);
}

struct Rejected {
  std::string key;
  std::string value;
  std::string expect;
};

TEST_F(ApplyTest, BadValuesAreRejectedBeforeAnythingIsTouchedNamingFileAndKey) {
  std::vector<Rejected> cases = {
      {"sysctl.vm.swappiness", "300", "outside the kernel's range 0..200"},
      {"sysctl.vm.swappiness", "\"-1\"", "outside the kernel's range 0..200"},
      {"sysctl.kernel.numa_balancing", "4", "0..3"},
      {"sysctl.vm.max_map_count", "\"lots\"", "'lots' is not an integer"},
      {"sysctl.net.ipv4.tcp_rmem", "\"4096 8192\"", "expects 3 integers"},
      {"thp.enabled", "\"sometimes\"",
       "not offered by /sys/kernel/mm/transparent_hugepage/enabled"},
      {"cpu.governor", "\"ondemand\"", "scaling_available_governors (performance, powersave)"},
      {"cpu.energy_perf_preference", "\"turbo\"", "energy_performance_available_preferences"},
      {"block.scheduler", "\"noop\"", "not offered by /sys/block/nvme0n1/queue/scheduler"},
      {"block.read_ahead_kb", "\"-5\"", "outside the kernel's range"},
      {"hugepages.2048kB", "\"95%\"", "outside the kernel's range 0..90"},
      {"irq.isolate", "\"0-3\"", "no CPU would be left"},
      {"irq.isolate", "\"7\"", "CPU 7 is not online"},
      // The kernel never writes a list with a trailing comma; a profile must not either.
      {"irq.isolate", "\"2-3,\"", "neither auto nor a CPU list like 2-7"},
      {"irq.nic_affinity", "\"anywhere\"", "numa-local or gpu-local"},
  };
  auto before = tree_picture(root_);
  for (const auto& c : cases) {
    std::string toml =
        "schema_version = 1\nname = \"t\"\n[[setting]]\nkey = \"thp.defrag\"\n"
        "value = \"never\"\nreason = \"r\"\nsource = \"s\"\n[[setting]]\nkey = \"" +
        c.key + "\"\nvalue = " + c.value + "\nreason = \"r\"\nsource = \"s\"\n";
    auto p = profile_from(toml);
    ASSERT_TRUE(p) << p.error().message();
    auto plan = plan_for(*p);
    ASSERT_FALSE(plan) << c.key << " = " << c.value;
    const std::string& m = plan.error().message();
    EXPECT_NE(m.find("test.toml:9: " + c.key + ": "), std::string::npos) << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << "want '" << c.expect << "' in: " << m;
  }
  EXPECT_EQ(tree_picture(root_), before);
}

TEST_F(ApplyTest, MissingHardwareMakesSettingsUnsupportedNotFailed) {
  for (int cpu = 0; cpu < 4; ++cpu)
    fs::remove_all(root_ / ("sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq"));
  fs::remove_all(root_ / "sys/kernel/mm/transparent_hugepage");
  Plan plan = plan_of(kEverything);
  auto report = apply(plan, host(), store());
  ASSERT_TRUE(report && report->ok) << (report ? report->failure : "");
  EXPECT_EQ(outcome(*report, "cpu.governor").outcome, Outcome::kUnsupported);
  EXPECT_NE(outcome(*report, "cpu.governor").message.find("cpufreq"), std::string::npos);
  EXPECT_EQ(outcome(*report, "thp.enabled").outcome, Outcome::kUnsupported);
  EXPECT_EQ(outcome(*report, "sysctl.vm.swappiness").outcome, Outcome::kApplied);
}

TEST_F(ApplyTest, NumaLocalNicAffinityUsesTheNicsOwnNode) {
  Plan plan = plan_of(R"(schema_version = 1
name = "n"
[[setting]]
key = "irq.nic_affinity"
value = "numa-local"
reason = "r"
source = "s"
)");
  ASSERT_TRUE(apply(plan, host(), store(), {.persist = false})->ok);
  EXPECT_EQ(read("proc/irq/25/smp_affinity_list"), "0-1");
  EXPECT_FALSE(fs::exists(root_ / "etc/tmpfiles.d"));
}

TEST_F(ApplyTest, InterruptTheKernelKeepsIsUnsupportedNotAFailure) {
  auto before = tree_picture(root_);
  fs::path kept = root_ / "proc/irq/24/smp_affinity_list";
  ASSERT_EQ(::chmod(kept.c_str(), 0444), 0);
  Plan plan = plan_of(R"(schema_version = 1
name = "n"
[[setting]]
key = "irq.isolate"
value = "1"
reason = "r"
source = "s"
)");
  Result<ApplyReport> report = fail(ErrorCode::kInternal, "not run");
  {
    WithoutDacOverride as_plain_user;
    report = apply(plan, host(), store());
  }
  ::chmod(kept.c_str(), 0644);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->failure;
  const SettingOutcome& isolate = outcome(*report, "irq.isolate");
  EXPECT_EQ(isolate.outcome, Outcome::kApplied);
  ASSERT_EQ(isolate.targets.size(), 5u);
  for (const auto& t : isolate.targets) {
    bool refused = t.path == "/proc/irq/24/smp_affinity_list";
    EXPECT_EQ(t.outcome, refused ? Outcome::kUnsupported : Outcome::kApplied) << t.path;
  }
  EXPECT_EQ(read("proc/irq/25/smp_affinity_list"), "0,2-3");
  EXPECT_EQ(read("proc/irq/24/smp_affinity_list"), "0-3\n");
  auto snap = store().latest_active(root_.string());
  ASSERT_TRUE(snap && *snap);
  ASSERT_TRUE(rollback(**snap, host(), store())->ok);
  EXPECT_EQ(tree_picture(root_), before);

  // Applied twice, the second time only the refused interrupt differs, and it is refused
  // again: nothing changes and no snapshot is kept.
  ASSERT_EQ(::chmod(kept.c_str(), 0444), 0);
  {
    WithoutDacOverride as_plain_user;
    ASSERT_TRUE(apply(plan, host(), store())->ok);
  }
  ::chmod(kept.c_str(), 0644);
  EXPECT_EQ(read("proc/irq/24/smp_affinity_list"), "0-3\n");
  auto snapshots = store().list()->size();
  Plan again = plan_of(R"(schema_version = 1
name = "n"
[[setting]]
key = "irq.isolate"
value = "1"
reason = "r"
source = "s"
)");
  ASSERT_EQ(::chmod(kept.c_str(), 0444), 0);
  {
    WithoutDacOverride as_plain_user;
    report = apply(again, host(), store());
  }
  ::chmod(kept.c_str(), 0644);
  ASSERT_TRUE(report && report->ok);
  EXPECT_TRUE(again.needs_change());
  EXPECT_TRUE(report->snapshot_id.empty());
  EXPECT_EQ(outcome(*report, "irq.isolate").outcome, Outcome::kAlreadySet);
  EXPECT_EQ(store().list()->size(), snapshots);
}

TEST_F(ApplyTest, AtLeastRaisesSmallValuesAndLeavesLargerOnesAlone) {
  std::ofstream(root_ / "sys/block/sda/queue/read_ahead_kb") << "8192\n";
  Plan plan = plan_of(R"(schema_version = 1
name = "n"
[[setting]]
key = "block.read_ahead_kb"
value = ">=4096"
reason = "r"
source = "s"
)");
  ASSERT_EQ(plan.settings.size(), 1u);
  ASSERT_EQ(plan.settings[0].targets.size(), 2u);  // nvme0n1 and sda, not loop0
  EXPECT_EQ(plan.settings[0].targets[0].want, "4096");
  EXPECT_EQ(plan.settings[0].targets[1].want, "8192");
  EXPECT_FALSE(plan.settings[0].targets[1].needs_change());
}

TEST(CpuListTest, ParsesAndFormatsRanges) {
  EXPECT_EQ(format_cpu_list(*parse_cpu_list("3,0-2,8")), "0-3,8");
  EXPECT_EQ(format_cpu_list(*parse_cpu_list("0,2")), "0,2");
  EXPECT_FALSE(parse_cpu_list("2-1"));
  EXPECT_FALSE(parse_cpu_list("a"));
  EXPECT_FALSE(parse_cpu_list("2-3,"));
  EXPECT_EQ(normalize(ValueKind::kCpuList, std::string_view("3,0-2\n\0", 7)), "0-3");
  EXPECT_EQ(normalize(ValueKind::kChoice, "always [madvise] never\n"), "madvise");
  EXPECT_EQ(normalize(ValueKind::kChoice, "madvise"), "madvise");
  EXPECT_EQ(normalize(ValueKind::kInts, "4096\t131072\t6291456\n"), "4096 131072 6291456");
}

}  // namespace
}  // namespace aion::tune
