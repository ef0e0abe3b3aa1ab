#include "aion/sched/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "aion/sched/device_bpf.h"
#include "support/temp_dir.h"

namespace aion::sched {
namespace {
namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs a function at scope exit (cgroup cleanup that must happen when an ASSERT returns).
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> f) : f_(std::move(f)) {}
  ~Cleanup() { f_(); }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;

 private:
  std::function<void()> f_;
};

// ---------------------------------------------------------------------------------------
// Fabricated trees.

class CgroupTreeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& [path, fd] : fifos_) ::close(fd);
  }
  void put(const std::string& rel, const std::string& content) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << content;
  }
  std::string get(const std::string& rel) { return slurp(root_ / rel); }
  // A FIFO standing in for a knob the kernel parses write by write (devices.allow): every
  // write lands in the pipe, so the test sees all of them in order, not only the last.
  void fifo(const std::string& rel) {
    fs::create_directories((root_ / rel).parent_path());
    ASSERT_EQ(::mkfifo((root_ / rel).c_str(), 0644), 0) << std::strerror(errno);
    int fd = ::open((root_ / rel).c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    fifos_[rel] = fd;
  }
  std::string drain(const std::string& rel) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fifos_.at(rel), buf, sizeof(buf))) > 0) out.append(buf, n);
    return out;
  }
  HostFs host() const { return HostFs(root_); }

  ::aion::testing::TempDir tmp_{"cgroup"};
  fs::path root_ = tmp_.path();
  std::map<std::string, int> fifos_;
};

constexpr char kV1MountInfo[] =
    "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
    "cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - "
    "cgroup cgroup rw,cpu,cpuacct\n"
    "30 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpuset\n"
    "31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,memory\n"
    "32 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
    "cgroup rw,devices\n"
    "33 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup "
    "cgroup rw,pids\n";

constexpr char kUnifiedLine[] =
    "34 25 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:11 - cgroup2 "
    "cgroup2 rw,nsdelegate\n";

constexpr char kV2MountInfo[] =
    "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

TEST_F(CgroupTreeTest, DetectsV1ControllersIncludingCombinedCpuCpuacct) {
  put("proc/self/mountinfo", kV1MountInfo);
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kV1);
  EXPECT_EQ(caps->cpuset_root, "/sys/fs/cgroup/cpuset");
  EXPECT_EQ(caps->memory_root, "/sys/fs/cgroup/memory");
  EXPECT_EQ(caps->devices_root, "/sys/fs/cgroup/devices");
  EXPECT_EQ(caps->cpuacct_root, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(caps->pids_root, "/sys/fs/cgroup/pids");
  EXPECT_EQ(caps->unified_root, "");
  EXPECT_TRUE(caps->cpuset && caps->memory && caps->cpu_accounting && caps->pids);
  EXPECT_EQ(caps->device_isolation, kDevicesCgroupV1);
  EXPECT_TRUE(caps->notes.empty()) << caps->notes.front();
}

TEST_F(CgroupTreeTest, HybridIsV1WithTheUnifiedRootRemembered) {
  put("proc/self/mountinfo", std::string(kV1MountInfo) + kUnifiedLine);
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kV1);
  EXPECT_EQ(caps->unified_root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(caps->memory_root, "/sys/fs/cgroup/memory");
  EXPECT_EQ(caps->device_isolation, kDevicesCgroupV1);
}

TEST_F(CgroupTreeTest, HybridWithoutDevicesControllerNeedsBpfWhichATestTreeCannotProbe) {
  std::string info = std::string(kV1MountInfo) + kUnifiedLine;
  info.erase(info.find("32 25"), info.find("33 25") - info.find("32 25"));
  put("proc/self/mountinfo", info);
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kV1);
  EXPECT_EQ(caps->devices_root, "");
  EXPECT_EQ(caps->device_isolation, kNoDeviceIsolation);
  std::string notes;
  for (const auto& n : caps->notes) notes += n + "\n";
  EXPECT_NE(notes.find("no devices controller"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bpf(2) not probed"), std::string::npos) << notes;
}

TEST_F(CgroupTreeTest, PureV2TakesControllersFromCgroupControllers) {
  put("proc/self/mountinfo", kV2MountInfo);
  put("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb rdma misc\n");
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kV2);
  EXPECT_EQ(caps->unified_root, "/sys/fs/cgroup");
  EXPECT_TRUE(caps->cpuset);
  EXPECT_TRUE(caps->memory);
  EXPECT_FALSE(caps->pids);  // not listed above
  EXPECT_TRUE(caps->cpu_accounting);
  EXPECT_EQ(caps->cpuset_root, "/sys/fs/cgroup");
  EXPECT_EQ(caps->memory_root, "/sys/fs/cgroup");
  EXPECT_EQ(caps->pids_root, "");
  EXPECT_EQ(caps->devices_root, "");
  EXPECT_EQ(caps->device_isolation, kNoDeviceIsolation);  // bpf(2) is not probed on a tree
  std::string notes;
  for (const auto& n : caps->notes) notes += n + "\n";
  EXPECT_NE(notes.find("no pids controller"), std::string::npos) << notes;
}

TEST_F(CgroupTreeTest, NoCgroupMountsIsVersionNoneWithANote) {
  put("proc/self/mountinfo", "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n");
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kNone);
  EXPECT_EQ(caps->device_isolation, kNoDeviceIsolation);
  EXPECT_FALSE(caps->notes.empty());
  CgroupLimits limits;
  auto cg = JobCgroup::create(host(), *caps, "aion.jobs", "j1", limits);
  ASSERT_FALSE(cg);
  EXPECT_EQ(cg.error().code(), ErrorCode::kUnsupported);
}

TEST_F(CgroupTreeTest, FallsBackToProcMountsAndUnescapesMountPoints) {
  put("proc/mounts",
      "/dev/vda1 / ext4 rw,relatime 0 0\n"
      "cgroup /sys/fs/cgroup/my\\040memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n"
      "cgroup /sys/fs/cgroup/cpuset cgroup rw,nosuid,nodev,noexec,relatime,cpuset 0 0\n");
  auto caps = detect_cgroups(host());
  ASSERT_TRUE(caps) << caps.error().message();
  EXPECT_EQ(caps->version, CgroupVersion::kV1);
  EXPECT_EQ(caps->memory_root, "/sys/fs/cgroup/my memory");
  EXPECT_EQ(caps->cpuset_root, "/sys/fs/cgroup/cpuset");
  EXPECT_FALSE(caps->pids);
  EXPECT_EQ(caps->device_isolation, kNoDeviceIsolation);
}

TEST_F(CgroupTreeTest, NoMountTableIsAnErrorNamingTheFiles) {
  auto caps = detect_cgroups(host());
  ASSERT_FALSE(caps);
  EXPECT_EQ(caps.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(caps.error().message().find("/proc/self/mountinfo"), std::string::npos);
  EXPECT_NE(caps.error().message().find("/proc/mounts"), std::string::npos);
}

// A v1 machine as the kernel would show it after mkdir: the job's directory already has its
// files (so the writes below are the adoption path, which is also what create() does on an
// existing cgroup).
class FakeV1Test : public CgroupTreeTest {
 protected:
  void SetUp() override {
    CgroupTreeTest::SetUp();
    put("proc/self/mountinfo", kV1MountInfo);
    const std::string cg = "sys/fs/cgroup/";
    put(cg + "cpuset/cpuset.cpus", "0-7\n");
    put(cg + "cpuset/cpuset.mems", "0-1\n");
    for (const char* f : {"cpuset.cpus", "cpuset.mems", "cgroup.procs"}) {
      put(cg + "cpuset/aion.jobs/" + f, "");
      put(cg + "cpuset/aion.jobs/j42/" + f, "");
    }
    put(cg + "memory/aion.jobs/j42/memory.limit_in_bytes", "9223372036854771712\n");
    put(cg + "memory/aion.jobs/j42/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put(cg + "memory/aion.jobs/j42/cgroup.procs", "");
    fifo(cg + "devices/aion.jobs/j42/devices.deny");
    fifo(cg + "devices/aion.jobs/j42/devices.allow");
    put(cg + "devices/aion.jobs/j42/cgroup.procs", "");
    put(cg + "cpu,cpuacct/aion.jobs/j42/cgroup.procs", "");
    put(cg + "pids/aion.jobs/j42/pids.max", "max\n");
    put(cg + "pids/aion.jobs/j42/cgroup.procs", "");
    auto caps = detect_cgroups(host());
    ASSERT_TRUE(caps) << caps.error().message();
    caps_ = *caps;
  }
  CgroupCaps caps_;
};

TEST_F(FakeV1Test, CreateWritesEveryLimitAndInheritsCpusetIntoTheParent) {
  CgroupLimits limits;
  limits.cpus = "2-3";
  limits.memory_bytes = 64 * kMiB;
  limits.swap = false;
  limits.pids_max = 100;
  limits.devices = std::vector<DeviceRule>{{'c', 195, 0, "rwm"}, {'c', 195, -1, "rw"}};
  auto cg = JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  const std::string cg_root = "sys/fs/cgroup/";
  EXPECT_EQ(get(cg_root + "cpuset/aion.jobs/cpuset.cpus"), "0-7");
  EXPECT_EQ(get(cg_root + "cpuset/aion.jobs/cpuset.mems"), "0-1");
  EXPECT_EQ(get(cg_root + "cpuset/aion.jobs/j42/cpuset.cpus"), "2-3");
  EXPECT_EQ(get(cg_root + "cpuset/aion.jobs/j42/cpuset.mems"), "0-1");  // "" = inherit
  EXPECT_EQ(get(cg_root + "memory/aion.jobs/j42/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(get(cg_root + "memory/aion.jobs/j42/memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(get(cg_root + "pids/aion.jobs/j42/pids.max"), "100");
  EXPECT_EQ(drain(cg_root + "devices/aion.jobs/j42/devices.deny"), "a\n");
  EXPECT_EQ(drain(cg_root + "devices/aion.jobs/j42/devices.allow"),
            "c 195:0 rwm\n"
            "c 195:* rw\n"
            "c 1:3 rwm\n"
            "c 1:5 rwm\n"
            "c 1:7 rwm\n"
            "c 1:8 rwm\n"
            "c 1:9 rwm\n"
            "c 5:0 rwm\n"
            "c 5:1 rwm\n"
            "c 5:2 rwm\n"
            "c 136:* rwm\n");
}

TEST_F(FakeV1Test, SwapAllowedLeavesMemswUnlimitedAndNoLimitsWriteUnlimited) {
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  limits.swap = true;
  ASSERT_TRUE(JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits));
  const std::string mem = "sys/fs/cgroup/memory/aion.jobs/j42/";
  EXPECT_EQ(get(mem + "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(get(mem + "memory.memsw.limit_in_bytes"), "-1");
  EXPECT_EQ(get("sys/fs/cgroup/pids/aion.jobs/j42/pids.max"), "max");

  ASSERT_TRUE(JobCgroup::create(host(), caps_, "aion.jobs", "j42", CgroupLimits{}));
  EXPECT_EQ(get(mem + "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(get(mem + "memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(FakeV1Test, AdoptedCgroupWithoutDeviceListAllowsAllAgain) {
  ASSERT_TRUE(JobCgroup::create(host(), caps_, "aion.jobs", "j42", CgroupLimits{}));
  EXPECT_EQ(drain("sys/fs/cgroup/devices/aion.jobs/j42/devices.deny"), "");
  EXPECT_EQ(drain("sys/fs/cgroup/devices/aion.jobs/j42/devices.allow"), "a\n");
}

TEST_F(FakeV1Test, DenyListGoesToDevicesDenyAfterTheAllowList) {
  CgroupLimits limits;
  limits.deny_devices = {{'c', 195, 1, "rwm"}, {'b', 8, -1, "w"}};
  ASSERT_TRUE(JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits));
  EXPECT_EQ(drain("sys/fs/cgroup/devices/aion.jobs/j42/devices.allow"), "a\n");  // adopted
  EXPECT_EQ(drain("sys/fs/cgroup/devices/aion.jobs/j42/devices.deny"),
            "c 195:1 rwm\n"
            "b 8:* w\n");
}

TEST_F(FakeV1Test, ProcsFilesListEveryHierarchyBelowTheRoot) {
  auto cg = JobCgroup::open(host(), caps_, "aion.jobs", "j42");
  ASSERT_TRUE(cg) << cg.error().message();
  std::vector<std::string> want;
  for (const char* h : {"memory", "cpuset", "devices", "cpu,cpuacct", "pids"}) {
    want.push_back((root_ / "sys/fs/cgroup" / h / "aion.jobs/j42/cgroup.procs").string());
  }
  EXPECT_EQ(cg->procs_files(), want);
}

TEST_F(FakeV1Test, AttachWritesThePidIntoEveryHierarchy) {
  auto cg = JobCgroup::create(host(), caps_, "aion.jobs", "j42", CgroupLimits{});
  ASSERT_TRUE(cg) << cg.error().message();
  ASSERT_TRUE(cg->attach(4242));
  for (const char* h : {"cpuset", "memory", "devices", "cpu,cpuacct", "pids"}) {
    EXPECT_EQ(get(std::string("sys/fs/cgroup/") + h + "/aion.jobs/j42/cgroup.procs"), "4242") << h;
  }
}

TEST_F(FakeV1Test, PidsAndStatsReadTheKernelFiles) {
  const std::string mem = "sys/fs/cgroup/memory/aion.jobs/j42/";
  put(mem + "cgroup.procs", "12\n345\n");
  put(mem + "memory.usage_in_bytes", "1000\n");
  put(mem + "memory.max_usage_in_bytes", "5000\n");
  put(mem + "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  put("sys/fs/cgroup/cpu,cpuacct/aion.jobs/j42/cpuacct.usage", "1234567890\n");
  auto cg = JobCgroup::open(host(), caps_, "aion.jobs", "j42");
  ASSERT_TRUE(cg) << cg.error().message();
  auto pids = cg->pids();
  ASSERT_TRUE(pids) << pids.error().message();
  EXPECT_EQ(*pids, (std::vector<pid_t>{12, 345}));
  CgroupStats s = cg->stats();
  EXPECT_EQ(s.cpu_time, std::chrono::nanoseconds(1234567890));
  EXPECT_EQ(s.memory_current_bytes, 1000u);
  EXPECT_EQ(s.memory_peak_bytes, 5000u);
  EXPECT_EQ(s.oom_kills, 3u);

  // Kernels before 4.13 have no oom_kill line.
  put(mem + "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_EQ(cg->stats().oom_kills, 0u);
}

TEST_F(FakeV1Test, BlockIoComesFromTheBlkioThrottleCounters) {
  CgroupCaps caps = caps_;
  caps.io = true;
  caps.blkio_root = "/sys/fs/cgroup/blkio";
  put("sys/fs/cgroup/memory/aion.jobs/j5/cgroup.procs", "");
  put("sys/fs/cgroup/blkio/aion.jobs/j5/blkio.throttle.io_service_bytes",
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n"
      "253:0 Read 100\n253:0 Write 0\nTotal 12388\n");
  auto cg = JobCgroup::open(host(), caps, "aion.jobs", "j5");
  ASSERT_TRUE(cg) << cg.error().message();
  CgroupStats s = cg->stats();
  EXPECT_EQ(s.io_read_bytes, 4196u);
  EXPECT_EQ(s.io_write_bytes, 8192u);
}

TEST_F(FakeV1Test, FailedWriteNamesTheFileAndTheErrno) {
  fs::remove(root_ / "sys/fs/cgroup/memory/aion.jobs/j42/memory.limit_in_bytes");
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  auto cg = JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits);
  ASSERT_FALSE(cg);
  EXPECT_EQ(cg.error().code(), ErrorCode::kNotFound);
  std::string want = "cannot write " +
                     (root_ / "sys/fs/cgroup/memory/aion.jobs/j42/memory.limit_in_bytes").string() +
                     ": No such file or directory";
  EXPECT_NE(cg.error().message().find(want), std::string::npos) << cg.error().message();
}

TEST_F(FakeV1Test, BadNamesAndRulesAreRejectedBeforeTouchingTheTree) {
  for (const char* name : {"", ".", "..", "a/b"}) {
    auto cg = JobCgroup::create(host(), caps_, "aion.jobs", name, CgroupLimits{});
    ASSERT_FALSE(cg) << name;
    EXPECT_EQ(cg.error().code(), ErrorCode::kInvalidArgument);
  }
  auto up = JobCgroup::create(host(), caps_, "aion.jobs/../x", "j1", CgroupLimits{});
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code(), ErrorCode::kInvalidArgument);
  CgroupLimits limits;
  limits.devices = std::vector<DeviceRule>{{'x', 195, 0, "rwm"}};
  auto bad_type = JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits);
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().code(), ErrorCode::kInvalidArgument);
  limits.devices = std::vector<DeviceRule>{{'c', 195, 0, "rwx"}};
  EXPECT_FALSE(JobCgroup::create(host(), caps_, "aion.jobs", "j42", limits));
  EXPECT_EQ(drain("sys/fs/cgroup/devices/aion.jobs/j42/devices.deny"), "");
}

TEST_F(FakeV1Test, OpenOfAMissingCgroupIsNotFound) {
  auto cg = JobCgroup::open(host(), caps_, "aion.jobs", "j43");
  ASSERT_FALSE(cg);
  EXPECT_EQ(cg.error().code(), ErrorCode::kNotFound);
}

class FakeV2Test : public CgroupTreeTest {
 protected:
  void SetUp() override {
    CgroupTreeTest::SetUp();
    put("proc/self/mountinfo", kV2MountInfo);
    put("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    put("sys/fs/cgroup/cgroup.subtree_control", "cpu memory\n");
    put("sys/fs/cgroup/aion.jobs/cgroup.controllers", "cpuset cpu memory pids\n");
    put("sys/fs/cgroup/aion.jobs/cgroup.subtree_control", "");
    for (const char* f : {"cpuset.cpus", "cpuset.mems", "memory.max", "memory.swap.max", "pids.max",
                          "cgroup.procs", "cgroup.kill"}) {
      put(std::string("sys/fs/cgroup/aion.jobs/j7/") + f, "");
    }
    auto caps = detect_cgroups(host());
    ASSERT_TRUE(caps) << caps.error().message();
    caps_ = *caps;
  }
  CgroupCaps caps_;
};

TEST_F(FakeV2Test, CreateEnablesMissingControllersAndWritesLimits) {
  CgroupLimits limits;
  limits.cpus = "1";
  limits.memory_bytes = 1024 * kMiB;
  limits.swap = false;
  limits.pids_max = 64;
  limits.devices = std::vector<DeviceRule>{{'c', 195, 0, "rwm"}};  // no BPF on a tree
  auto cg = JobCgroup::create(host(), caps_, "aion.jobs", "j7", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  EXPECT_EQ(get("sys/fs/cgroup/cgroup.subtree_control"), "+cpuset +pids +io");
  EXPECT_EQ(get("sys/fs/cgroup/aion.jobs/cgroup.subtree_control"), "+cpuset +memory +pids");
  const std::string job = "sys/fs/cgroup/aion.jobs/j7/";
  EXPECT_EQ(get(job + "cpuset.cpus"), "1");
  EXPECT_EQ(get(job + "cpuset.mems"), "\n");  // adopted: reset to "as the parent"
  EXPECT_EQ(get(job + "memory.max"), "1073741824");
  EXPECT_EQ(get(job + "memory.swap.max"), "0");
  EXPECT_EQ(get(job + "pids.max"), "64");
  ASSERT_TRUE(cg->attach(777));
  EXPECT_EQ(get(job + "cgroup.procs"), "777");
}

TEST_F(FakeV2Test, StatsComeFromCpuStatMemoryPeakAndMemoryEvents) {
  const std::string job = "sys/fs/cgroup/aion.jobs/j7/";
  put(job + "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  put(job + "memory.current", "4096\n");
  put(job + "memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n");
  auto cg = JobCgroup::open(host(), caps_, "aion.jobs", "j7");
  ASSERT_TRUE(cg) << cg.error().message();
  CgroupStats s = cg->stats();
  EXPECT_EQ(s.cpu_time, std::chrono::microseconds(1500));
  EXPECT_EQ(s.memory_current_bytes, 4096u);
  EXPECT_EQ(s.memory_peak_bytes, 4096u);  // no memory.peak before 5.19: current is the floor
  EXPECT_EQ(s.oom_kills, 2u);
  put(job + "memory.peak", "8192\n");
  EXPECT_EQ(cg->stats().memory_peak_bytes, 8192u);
  EXPECT_EQ(cg->stats().io_read_bytes, 0u);  // no io.stat: no I/O controller
  put(job + "io.stat",
      "8:0 rbytes=4096 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n"
      "253:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n");
  EXPECT_EQ(cg->stats().io_read_bytes, 4106u);
  EXPECT_EQ(cg->stats().io_write_bytes, 1044u);
}

TEST_F(FakeV2Test, KillAllWritesCgroupKillForSigkill) {
  auto cg = JobCgroup::open(host(), caps_, "aion.jobs", "j7");
  ASSERT_TRUE(cg) << cg.error().message();
  ASSERT_TRUE(cg->kill_all(SIGKILL));
  EXPECT_EQ(get("sys/fs/cgroup/aion.jobs/j7/cgroup.kill"), "1");
}

TEST(DeviceRuleTest, StatsTheNodeForTypeMajorAndMinor) {
  auto null = device_rule_for("/dev/null");
  ASSERT_TRUE(null) << null.error().message();
  EXPECT_EQ(null->type, 'c');
  EXPECT_EQ(null->major, 1);
  EXPECT_EQ(null->minor, 3);
  EXPECT_EQ(null->access, "rwm");
  EXPECT_EQ(device_rule_for("/dev/null", "r")->access, "r");
}

TEST(DeviceRuleTest, MissingNodeAndRegularFileAreErrors) {
  auto missing = device_rule_for("/dev/aion-no-such-device");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("/dev/aion-no-such-device"), std::string::npos);
  auto regular = device_rule_for("/proc/self/status");
  ASSERT_FALSE(regular);
  EXPECT_EQ(regular.error().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------
// The real kernel (root only).

// A forked child that waits until go(), then runs body; body's return value is its exit
// status and what it writes to the fd it gets is report(). Killed and reaped if still
// running at destruction.
class Child {
 public:
  explicit Child(std::function<int(int report_fd)> body) {
    if (::pipe2(go_, O_CLOEXEC) != 0 || ::pipe2(report_, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(go_[1]);
      ::close(report_[0]);
      char c = 0;
      if (::read(go_[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body(report_[1]));
    }
    ::close(go_[0]);
    ::close(report_[1]);
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(go_[1]);
    ::close(report_[0]);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void go() { ASSERT_EQ(::write(go_[1], "g", 1), 1); }
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }
  std::string report() {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(report_[0], buf, sizeof(buf))) > 0) out.append(buf, n);
    return out;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int go_[2] = {-1, -1};
  int report_[2] = {-1, -1};
};

void burn_cpu(std::chrono::milliseconds how_long) {
  timespec t{};
  volatile std::uint64_t sink = 0;
  do {
    for (int i = 0; i < 100000; ++i) sink = sink + i;
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  } while (t.tv_sec * 1000 + t.tv_nsec / 1000000 < how_long.count());
}

std::string proc_cgroup(pid_t pid) {
  return slurp("/proc/" + std::to_string(pid) + "/cgroup");
}

bool swap_active() {
  std::string swaps = slurp("/proc/swaps");
  return std::count(swaps.begin(), swaps.end(), '\n') > 1;
}

class KernelCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    auto caps = detect_cgroups(HostFs("/"));
    if (!caps) GTEST_SKIP() << "cannot detect cgroups: " << caps.error().message();
    caps_ = *caps;
    parent_ = "aion.test." + std::to_string(::getpid());
  }
  void TearDown() override {
    for (const std::string* root :
         {&caps_.cpuset_root, &caps_.memory_root, &caps_.devices_root, &caps_.cpuacct_root,
          &caps_.pids_root, &caps_.blkio_root, &caps_.unified_root}) {
      if (!root->empty()) ::rmdir((*root + "/" + parent_).c_str());
    }
  }
  // The detected machine, which must be v1 with cpuset and memory.
  bool need_v1(std::string* why) const {
    if (caps_.version != CgroupVersion::kV1)
      *why = "machine does not run cgroup v1";
    else if (!caps_.cpuset || !caps_.memory)
      *why = "no v1 cpuset or memory controller";
    return why->empty();
  }
  // Caps that put jobs in the unified hierarchy only (hybrid: /sys/fs/cgroup/unified), with
  // the BPF device filter; empty when the machine cannot do that.
  std::optional<CgroupCaps> v2_caps(std::string* why) const {
    if (caps_.unified_root.empty()) {
      *why = "no cgroup2 mount";
      return std::nullopt;
    }
    if (auto st = probe_device_filter(); !st) {
      *why = "bpf(2) refused a cgroup device program: " + st.error().message();
      return std::nullopt;
    }
    CgroupCaps v2 = caps_;
    if (caps_.version == CgroupVersion::kV1) {  // hybrid: no controllers on the unified side
      v2 = CgroupCaps{};
      v2.version = CgroupVersion::kV2;
      v2.unified_root = caps_.unified_root;
      v2.cpu_accounting = true;
      v2.cpuacct_root = caps_.unified_root;
    }
    v2.device_isolation = kBpfCgroupDevice;
    return v2;
  }
  std::string path(const std::string& root, const std::string& name, const std::string& file) {
    return root + "/" + parent_ + "/" + name + "/" + file;
  }

  CgroupCaps caps_;
  std::string parent_;
};

TEST_F(KernelCgroupTest, V1ChildIsMovedInAndLimitsReadBack) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  CgroupLimits limits;
  limits.cpus = "0";
  limits.memory_bytes = 64 * kMiB;
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  Child child([](int) {
    burn_cpu(std::chrono::milliseconds(200));
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  auto attached = cg->attach(child.pid());
  ASSERT_TRUE(attached) << attached.error().message();

  std::string where = proc_cgroup(child.pid());
  EXPECT_NE(where.find(":memory:/" + parent_ + "/job\n"), std::string::npos) << where;
  EXPECT_NE(where.find(":cpuset:/" + parent_ + "/job\n"), std::string::npos) << where;
  auto pids = cg->pids();
  ASSERT_TRUE(pids) << pids.error().message();
  EXPECT_EQ(*pids, std::vector<pid_t>{child.pid()});
  EXPECT_EQ(trimmed(slurp(path(caps_.cpuset_root, "job", "cpuset.cpus"))), "0");
  EXPECT_EQ(trimmed(slurp(path(caps_.memory_root, "job", "memory.limit_in_bytes"))), "67108864");

  child.go();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  CgroupStats s = cg->stats();
  if (caps_.cpu_accounting) {
    EXPECT_GE(s.cpu_time, std::chrono::milliseconds(100));
  }
  EXPECT_GT(s.memory_peak_bytes, 0u);
}

TEST_F(KernelCgroupTest, V1MemoryLimitGrowsAndShrinksOnAnAdoptedCgroup) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  const std::string memsw = path(caps_.memory_root, "job", "memory.memsw.limit_in_bytes");
  const bool has_memsw = fs::exists(memsw);
  if (!has_memsw) std::printf("note: no memory.memsw.* (swap accounting off); memsw not checked\n");
  for (std::uint64_t mib : {256, 32, 128}) {
    limits.memory_bytes = mib * kMiB;
    auto again = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
    ASSERT_TRUE(again) << mib << " MiB: " << again.error().message();
    std::string want = std::to_string(mib * kMiB);
    EXPECT_EQ(trimmed(slurp(path(caps_.memory_root, "job", "memory.limit_in_bytes"))), want);
    if (has_memsw) {
      EXPECT_EQ(trimmed(slurp(memsw)), want);
    }
  }
}

TEST_F(KernelCgroupTest, V1ChildOverMemoryLimitIsOomKilledAndCounted) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  limits.swap = false;
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  if (swap_active() && !fs::exists(path(caps_.memory_root, "job", "memory.memsw.limit_in_bytes"))) {
    GTEST_SKIP() << "swap is on but swap accounting is off: the child would swap, not die";
  }
  Child child([](int) {
    constexpr std::size_t kSize = 200 * kMiB;
    // volatile: an optimising build would otherwise drop the unobserved malloc/free pair.
    volatile char* p = static_cast<volatile char*>(std::malloc(kSize));
    if (p == nullptr) return 3;
    for (std::size_t i = 0; i < kSize; i += 4096) p[i] = 1;
    std::free(const_cast<char*>(p));
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cg->attach(child.pid()));
  child.go();
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "child was not killed, status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  CgroupStats s = cg->stats();
  EXPECT_GE(s.oom_kills, 1u);
  EXPECT_LE(s.memory_peak_bytes, 64 * kMiB);
  EXPECT_GT(s.memory_peak_bytes, 32 * kMiB);
}

TEST_F(KernelCgroupTest, V1KillAllKillsEveryProcessThenRemoveSucceeds) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", CgroupLimits{});
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove(
      [&] { ignore(cg->remove(), "the test checks remove() itself; this only tidies up"); });
  Child a([](int) { return 0; });
  Child b([](int) { return 0; });
  ASSERT_TRUE(cg->attach(a.pid()));
  ASSERT_TRUE(cg->attach(b.pid()));
  EXPECT_EQ(cg->pids()->size(), 2u);

  auto busy = cg->remove();  // tasks inside: EBUSY for about a second, then an error
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().message().find(parent_ + "/job: Device or resource busy"),
            std::string::npos)
      << busy.error().message();

  ASSERT_TRUE(cg->kill_all(SIGKILL));
  int sa = a.wait(), sb = b.wait();
  EXPECT_TRUE(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL) << sa;
  EXPECT_TRUE(WIFSIGNALED(sb) && WTERMSIG(sb) == SIGKILL) << sb;
  EXPECT_TRUE(cg->pids()->empty());
  auto removed = cg->remove();
  ASSERT_TRUE(removed) << removed.error().message();
  auto gone = JobCgroup::open(HostFs("/"), caps_, parent_, "job");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
}

// Two character nodes in a local/experimental major that no driver owns: opening an allowed
// one fails with ENXIO (no driver), a denied one with EPERM (the cgroup).
class DeviceNodes {
 public:
  DeviceNodes() {
    for (int minor : {0, 1}) {
      if (::mknod(node(minor).c_str(), S_IFCHR | 0666, makedev(240, minor)) != 0) {
        why_ = "mknod " + node(minor) + ": " + std::strerror(errno);
        return;
      }
      int fd = ::open(node(minor).c_str(), O_RDONLY);
      int err = fd < 0 ? errno : 0;
      if (fd >= 0) ::close(fd);
      if (err == EPERM || err == EACCES) {
        why_ = "this process may not open " + node(minor) + " already (" + std::strerror(err) +
               "): nodev mount or a device cgroup around the test";
        return;
      }
    }
  }
  const std::string& why_unusable() const { return why_; }
  std::string node(int minor) const { return (dir_ / ("node" + std::to_string(minor))).string(); }

 private:
  ::aion::testing::TempDir dir_{"cgroup-dev"};
  std::string why_;
};

// In a child attached to `cg`: errno of opening each path (0 = opened).
std::vector<int> open_errnos_in(const JobCgroup& cg, const std::vector<std::string>& paths) {
  Child child([&](int report) {
    std::string out;
    for (const std::string& p : paths) {
      int fd = ::open(p.c_str(), O_RDONLY);
      out += std::to_string(fd < 0 ? errno : 0) + " ";
      if (fd >= 0) ::close(fd);
    }
    return ::write(report, out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 1;
  });
  std::vector<int> errs;
  if (child.pid() <= 0) return errs;
  if (auto st = cg.attach(child.pid()); !st) {
    ADD_FAILURE() << st.error().message();
    return errs;
  }
  child.go();
  int status = child.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::istringstream in(child.report());
  for (int e; in >> e;) errs.push_back(e);
  return errs;
}

std::string err_name(int e) {
  return e == 0 ? "success" : std::strerror(e);
}

void expect_only_node0_allowed(const JobCgroup& cg, const DeviceNodes& nodes) {
  auto errs = open_errnos_in(cg, {nodes.node(1), nodes.node(0), "/dev/null"});
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0], EPERM) << "denied 240:1: " << err_name(errs[0]);
  EXPECT_NE(errs[1], EPERM) << "allowed 240:0: " << err_name(errs[1]);
  EXPECT_NE(errs[1], EACCES) << "allowed 240:0: " << err_name(errs[1]);
  EXPECT_EQ(errs[2], 0) << "/dev/null (safe set): " << err_name(errs[2]);
}

TEST_F(KernelCgroupTest, V1DevicesControllerDeniesAllButTheAllowList) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  if (caps_.devices_root.empty()) GTEST_SKIP() << "no v1 devices controller";
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupLimits limits;
  limits.devices = std::vector<DeviceRule>{{'c', 240, 0, "rwm"}};
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  std::string list = slurp(path(caps_.devices_root, "job", "devices.list"));
  EXPECT_NE(list.find("c 240:0 rwm"), std::string::npos) << list;
  EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
  expect_only_node0_allowed(*cg, nodes);
}

TEST_F(KernelCgroupTest, V2BpfProgramDeniesAllButTheAllowList) {
  std::string why;
  auto v2 = v2_caps(&why);
  if (!v2) GTEST_SKIP() << why;
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupLimits limits;
  limits.devices = std::vector<DeviceRule>{{'c', 240, 0, "rwm"}};
  auto cg = JobCgroup::create(HostFs("/"), *v2, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  expect_only_node0_allowed(*cg, nodes);

  // Re-applying to the adopted cgroup replaces the allow-list: now only 240:1.
  limits.devices = std::vector<DeviceRule>{{'c', 240, 1, "r"}};
  auto again = JobCgroup::create(HostFs("/"), *v2, parent_, "job", limits);
  ASSERT_TRUE(again) << again.error().message();
  auto errs = open_errnos_in(*cg, {nodes.node(0), nodes.node(1)});
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], EPERM) << "240:0 after re-apply: " << err_name(errs[0]);
  EXPECT_NE(errs[1], EPERM) << "240:1 after re-apply: " << err_name(errs[1]);

  // And without a list the restriction goes away.
  auto open = JobCgroup::create(HostFs("/"), *v2, parent_, "job", CgroupLimits{});
  ASSERT_TRUE(open) << open.error().message();
  errs = open_errnos_in(*cg, {nodes.node(0), nodes.node(1)});
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_NE(errs[0], EPERM);
  EXPECT_NE(errs[1], EPERM);
}

TEST_F(KernelCgroupTest, V1DenyListRefusesOnlyTheListedNode) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  if (caps_.devices_root.empty()) GTEST_SKIP() << "no v1 devices controller";
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupLimits limits;
  limits.deny_devices = {{'c', 240, 1, "rwm"}};
  auto cg = JobCgroup::create(HostFs("/"), caps_, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  expect_only_node0_allowed(*cg, nodes);
}

TEST_F(KernelCgroupTest, V2BpfDenyListRefusesOnlyTheListedNode) {
  std::string why;
  auto v2 = v2_caps(&why);
  if (!v2) GTEST_SKIP() << why;
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupLimits limits;
  limits.deny_devices = {{'c', 240, 1, "rwm"}};
  auto cg = JobCgroup::create(HostFs("/"), *v2, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  expect_only_node0_allowed(*cg, nodes);
}

TEST_F(KernelCgroupTest, V2BpfReadOnlyRuleDeniesWrites) {
  std::string why;
  auto v2 = v2_caps(&why);
  if (!v2) GTEST_SKIP() << why;
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupLimits limits;
  limits.devices = std::vector<DeviceRule>{{'c', 240, -1, "r"}};
  auto cg = JobCgroup::create(HostFs("/"), *v2, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  Child child([&](int report) {
    int ro = ::open(nodes.node(1).c_str(), O_RDONLY);
    int ro_err = ro < 0 ? errno : 0;
    int rw = ::open(nodes.node(1).c_str(), O_RDWR);
    int rw_err = rw < 0 ? errno : 0;
    std::string out = std::to_string(ro_err) + " " + std::to_string(rw_err);
    return ::write(report, out.data(), out.size()) > 0 ? 0 : 1;
  });
  ASSERT_TRUE(cg->attach(child.pid()));
  child.go();
  child.wait();
  int ro_err = -1, rw_err = -1;
  std::istringstream(child.report()) >> ro_err >> rw_err;
  EXPECT_NE(ro_err, EPERM) << err_name(ro_err);
  EXPECT_EQ(rw_err, EPERM) << err_name(rw_err);
}

TEST_F(KernelCgroupTest, HybridWithoutDevicesControllerFiltersOnTheUnifiedHierarchy) {
  std::string why;
  if (!need_v1(&why)) GTEST_SKIP() << why;
  if (caps_.unified_root.empty()) GTEST_SKIP() << "no cgroup2 mount next to v1";
  if (auto st = probe_device_filter(); !st) {
    GTEST_SKIP() << "bpf(2) refused a cgroup device program: " << st.error().message();
  }
  DeviceNodes nodes;
  if (!nodes.why_unusable().empty()) GTEST_SKIP() << nodes.why_unusable();
  CgroupCaps hybrid = caps_;  // as detect_cgroups() reports a v1 machine without devices
  hybrid.devices_root.clear();
  hybrid.device_isolation = kBpfCgroupDevice;
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  limits.devices = std::vector<DeviceRule>{{'c', 240, 0, "rwm"}};
  auto cg = JobCgroup::create(HostFs("/"), hybrid, parent_, "job", limits);
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  EXPECT_TRUE(fs::is_directory(caps_.unified_root + "/" + parent_ + "/job"));
  expect_only_node0_allowed(*cg, nodes);
}

TEST_F(KernelCgroupTest, V2KillAllAndCpuTimeOnTheUnifiedHierarchy) {
  std::string why;
  auto v2 = v2_caps(&why);
  if (!v2) GTEST_SKIP() << why;
  auto cg = JobCgroup::create(HostFs("/"), *v2, parent_, "job", CgroupLimits{});
  ASSERT_TRUE(cg) << cg.error().message();
  Cleanup remove([&] {
    if (auto st = cg->remove(); !st) ADD_FAILURE() << st.error().message();
  });
  Child burner([](int) {
    burn_cpu(std::chrono::milliseconds(200));
    return 0;
  });
  ASSERT_TRUE(cg->attach(burner.pid()));
  std::string where = proc_cgroup(burner.pid());
  EXPECT_NE(where.find("0::/" + parent_ + "/job\n"), std::string::npos) << where;
  burner.go();
  ASSERT_EQ(burner.wait(), 0);
  EXPECT_GE(cg->stats().cpu_time, std::chrono::milliseconds(100));

  Child sleeper([](int) { return 0; });  // never told to go
  ASSERT_TRUE(cg->attach(sleeper.pid()));
  ASSERT_TRUE(cg->kill_all(SIGKILL));
  int status = sleeper.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

}  // namespace
}  // namespace aion::sched
