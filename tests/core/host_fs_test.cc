#include "aion/core/host_fs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion {
namespace {
namespace fs = std::filesystem;

class HostFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "sys/devices/pci0000:00/0000:00:01.0");
    fs::create_directories(root_ / "sys/class/net");
    put("sys/devices/pci0000:00/0000:00:01.0/vendor", "0x10de\n");
    put("sys/devices/pci0000:00/0000:00:01.0/numa_node", "-1\n");
    put("sys/devices/pci0000:00/0000:00:01.0/bad", "12abc\n");
    fs::create_directory_symlink("../../devices/pci0000:00/0000:00:01.0",
                                 root_ / "sys/class/net/eth0");
  }
  void put(const std::string& rel, const std::string& content) {
    std::ofstream(root_ / rel) << content;
  }
  ::aion::testing::TempDir tmp_{"hostfs"};
  fs::path root_ = tmp_.path();
};

TEST_F(HostFsTest, ResolvesHostPathsBelowTheRoot) {
  HostFs h(root_);
  EXPECT_EQ(h.resolve("/sys/class"), root_ / "sys/class");
  EXPECT_EQ(HostFs("/").resolve("/sys/class"), fs::path("/sys/class"));
  EXPECT_TRUE(HostFs("/").is_live());
  EXPECT_FALSE(h.is_live());
}

TEST_F(HostFsTest, ReadsAttributesAndIntegers) {
  HostFs h(root_);
  EXPECT_EQ(*h.read_attr("/sys/devices/pci0000:00/0000:00:01.0/vendor"), "0x10de");
  EXPECT_EQ(*h.read_int("/sys/devices/pci0000:00/0000:00:01.0/vendor"), 0x10de);
  EXPECT_EQ(*h.read_int("/sys/devices/pci0000:00/0000:00:01.0/numa_node"), -1);
}

TEST_F(HostFsTest, MalformedIntegerNamesFileAndContent) {
  HostFs h(root_);
  auto r = h.read_int("/sys/devices/pci0000:00/0000:00:01.0/bad");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kParse);
  EXPECT_NE(r.error().message().find("bad"), std::string::npos);
  EXPECT_NE(r.error().message().find("12abc"), std::string::npos);
}

TEST_F(HostFsTest, MissingFileIsNotFound) {
  HostFs h(root_);
  auto r = h.read("/proc/nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(HostFsTest, RealPathFollowsRelativeLinksAndStripsRoot) {
  HostFs h(root_);
  EXPECT_EQ(*h.read_link("/sys/class/net/eth0"), "../../devices/pci0000:00/0000:00:01.0");
  EXPECT_EQ(*h.real_path("/sys/class/net/eth0"), "/sys/devices/pci0000:00/0000:00:01.0");
  auto names = h.list("/sys/devices/pci0000:00/0000:00:01.0");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"bad", "numa_node", "vendor"}));
}

TEST_F(HostFsTest, AtomicWriteCreatesParentsAndReplaces) {
  HostFs h(root_);
  ASSERT_TRUE(h.write_atomic("/etc/sysctl.d/90-aion.conf", "a = 1\n"));
  ASSERT_TRUE(h.write_atomic("/etc/sysctl.d/90-aion.conf", "a = 2\n"));
  EXPECT_EQ(*h.read("/etc/sysctl.d/90-aion.conf"), "a = 2\n");
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "etc/sysctl.d/90-aion.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "etc/sysctl.d"), fs::directory_iterator()),
            1);
  ASSERT_TRUE(h.remove("/etc/sysctl.d/90-aion.conf"));
  EXPECT_FALSE(h.exists("/etc/sysctl.d/90-aion.conf"));
}

TEST_F(HostFsTest, InPlaceWriteOfMissingKnobFails) {
  HostFs h(root_);
  auto st = h.write("/proc/sys/vm/nope", "1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
}

TEST_F(HostFsTest, RemoveDirRemovesOnlyEmptyDirectories) {
  HostFs h(root_);
  ASSERT_TRUE(h.write_atomic("/etc/tmpfiles.d/aion.conf", "w /x - - - - 1\n"));
  auto busy = h.remove_dir("/etc/tmpfiles.d");
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().message().find("tmpfiles.d"), std::string::npos);
  ASSERT_TRUE(h.remove("/etc/tmpfiles.d/aion.conf"));
  ASSERT_TRUE(h.remove_dir("/etc/tmpfiles.d"));
  EXPECT_FALSE(h.exists("/etc/tmpfiles.d"));
}

TEST_F(HostFsTest, KernelAttributesAreToldFromPlainFiles) {
  EXPECT_FALSE(HostFs(root_).is_kernel_attr("/proc/sys/vm/nope"));
  EXPECT_FALSE(HostFs(root_).is_kernel_attr("/sys/class/net/eth0"));
  HostFs live("/");
  if (live.exists("/proc/sys/vm/swappiness")) {
    EXPECT_TRUE(live.is_kernel_attr("/proc/sys/vm/swappiness"));
  }
  if (live.exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    EXPECT_TRUE(live.is_kernel_attr("/sys/kernel/mm/transparent_hugepage/enabled"));
  }
  EXPECT_FALSE(live.is_kernel_attr("/etc"));
}

}  // namespace
}  // namespace aion
