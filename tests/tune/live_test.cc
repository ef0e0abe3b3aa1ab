// aion tune on this machine's real /proc/sys and /sys, as root: applies a small profile of
// settings the machine supports, checks the kernel's values, rolls back and checks the
// original values are back. Teardown restores the original values even when a check failed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "aion/core/host_fs.h"
#include "aion/tune/apply.h"
#include "aion/tune/plan.h"
#include "aion/tune/profile.h"
#include "aion/tune/snapshot.h"
#include "support/temp_dir.h"

namespace aion::tune {
namespace {

namespace fs = std::filesystem;

class LiveTuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to write /proc/sys and /sys";
    if (!host_.is_kernel_attr("/proc/sys/vm/swappiness"))
      GTEST_SKIP() << "/proc/sys is not procfs here (a container?)";
    for (const char* p :
         {"/proc/sys/vm/swappiness", "/proc/sys/vm/max_map_count",
          "/proc/sys/kernel/numa_balancing", "/sys/kernel/mm/transparent_hugepage/enabled"}) {
      if (auto v = host_.read_attr(p)) original_[p] = normalize(ValueKind::kChoice, *v);
    }
    if (auto disks = host_.list("/sys/block")) {
      for (const auto& d : *disks) {
        std::string ra = "/sys/block/" + d + "/queue/read_ahead_kb";
        if (d.starts_with("loop") || d.starts_with("zram") || !host_.exists(ra)) continue;
        if (auto v = host_.read_attr(ra)) original_[ra] = *v;
      }
    }
    dropin_existed_ = host_.exists(kSysctlDropin);
  }

  void TearDown() override {
    if (::geteuid() != 0) return;
    SnapshotStore store(snapshot_dir(state_));
    if (auto snap = store.latest_active(); snap && *snap)
      ignore(
          rollback(**snap, host_, store),
          "teardown puts the machine back as far as it can; the test has already judged the run");
    for (const auto& [path, value] : original_) {
      auto now = host_.read_attr(path);
      if (now && normalize(ValueKind::kChoice, *now) != value)
        ignore(
            host_.write(path, value),
            "teardown puts the machine back as far as it can; the test has already judged the run");
    }
    if (!dropin_existed_ && host_.exists(kSysctlDropin))
      ignore(
          host_.remove(kSysctlDropin),
          "teardown puts the machine back as far as it can; the test has already judged the run");
  }

  std::string now(const std::string& path) {
    auto v = host_.read_attr(path);
    return v ? normalize(ValueKind::kChoice, *v) : "<unreadable>";
  }

  static std::string setting(const std::string& key, const std::string& value) {
    return "[[setting]]\nkey = \"" + key + "\"\nvalue = \"" + value +
           "\"\nreason = \"live test\"\nsource = \"tests/tune/live_test.cc\"\n";
  }

  HostFs host_{"/"};
  ::aion::testing::TempDir tmp_{"tune-live"};
  fs::path state_ = tmp_ / "state";
  std::map<std::string, std::string> original_;
  bool dropin_existed_ = false;
};

TEST_F(LiveTuneTest, AppliesAndRollsBackOnTheRealKernel) {
  ASSERT_TRUE(original_.count("/proc/sys/vm/swappiness"));
  std::map<std::string, std::string> want;  // path -> value the profile sets
  std::string toml = "schema_version = 1\nname = \"live-test\"\n";
  auto add = [&](const std::string& key, const std::string& path, const std::string& value) {
    toml += setting(key, value);
    want[path] = value;
  };
  add("sysctl.vm.swappiness", "/proc/sys/vm/swappiness",
      original_["/proc/sys/vm/swappiness"] == "10" ? "20" : "10");
  add("sysctl.vm.max_map_count", "/proc/sys/vm/max_map_count",
      std::to_string(std::stoll(original_["/proc/sys/vm/max_map_count"]) + 4096));
  if (original_.count("/proc/sys/kernel/numa_balancing")) {
    add("sysctl.kernel.numa_balancing", "/proc/sys/kernel/numa_balancing",
        original_["/proc/sys/kernel/numa_balancing"] == "0" ? "1" : "0");
  } else {
    std::printf("note: no kernel.numa_balancing on this kernel, not tested\n");
  }
  const std::string thp = "/sys/kernel/mm/transparent_hugepage/enabled";
  if (original_.count(thp) && ::access(thp.c_str(), W_OK) == 0) {
    add("thp.enabled", thp, original_[thp] == "always" ? "madvise" : "always");
  } else {
    std::printf("note: THP enabled is not writable here, not tested\n");
  }
  std::string ra_value;
  for (const auto& [path, value] : original_) {
    if (!path.ends_with("read_ahead_kb")) continue;
    if (ra_value.empty()) ra_value = value == "4096" ? "2048" : "4096";
    want[path] = ra_value;
  }
  if (!ra_value.empty()) {
    toml += setting("block.read_ahead_kb", ra_value);
  } else {
    std::printf("note: no disk with read_ahead_kb, not tested\n");
  }

  auto parsed = parse_profile(toml, "live-test.toml");
  ASSERT_TRUE(parsed) << parsed.error().message();
  auto resolved = ProfileCatalog::from({*parsed})->resolve("live-test");
  ASSERT_TRUE(resolved);
  auto ranges = KernelRanges::load(fs::path(AION_SOURCE_DIR) / "data/tune/kernel_ranges.toml");
  ASSERT_TRUE(ranges) << ranges.error().message();
  auto plan = make_plan(*resolved, host_, hw::Inventory{}, *ranges);
  ASSERT_TRUE(plan) << plan.error().message();
  for (const auto& ps : plan->settings)
    ASSERT_TRUE(ps.unsupported.empty()) << ps.setting.key << ": " << ps.unsupported;

  SnapshotStore store(snapshot_dir(state_));
  auto report = apply(*plan, host_, store);
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_TRUE(report->ok) << report->failure;
  for (const auto& s : report->settings)
    EXPECT_EQ(s.outcome, Outcome::kApplied) << s.setting.key << ": " << s.message;
  for (const auto& [path, value] : want) {
    EXPECT_EQ(now(path), value) << path;
    std::printf("applied  %-50s %s -> %s\n", path.c_str(), original_[path].c_str(),
                now(path).c_str());
  }
  auto dropin = host_.read(kSysctlDropin);
  ASSERT_TRUE(dropin) << "no " << kSysctlDropin;
  EXPECT_NE(dropin->find("vm.swappiness = " + want["/proc/sys/vm/swappiness"]), std::string::npos);

  auto snap = store.latest_active();
  ASSERT_TRUE(snap && *snap);
  auto rb = rollback(**snap, host_, store);
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_TRUE(rb->ok);
  for (const auto& [path, value] : want) {
    EXPECT_EQ(now(path), original_[path]) << path;
    std::printf("restored %-50s %s\n", path.c_str(), now(path).c_str());
  }
  EXPECT_EQ(host_.exists(kSysctlDropin), dropin_existed_);
}

}  // namespace
}  // namespace aion::tune
