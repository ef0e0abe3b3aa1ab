// ThreadFsIdentity: a thread that takes a user's file-system identity opens files with that
// user's rights only, while the other threads of the process keep root's.
#include "aion/core/fs_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion {
namespace {

bool can_open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(FsIdentityTest, OnlyTheThreadThatTookItLosesRootsReach) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the identity is only taken by root)";
  ::aion::testing::TempDir tmp("fsid");
  const std::string secret = (tmp / "secret").string();
  std::ofstream(secret) << "root only\n";
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);

  bool inside = true, after = false;
  std::promise<void> taken, checked;
  std::thread user([&] {
    {
      ThreadFsIdentity as_nobody(65534, 65534);
      EXPECT_TRUE(as_nobody.active());
      inside = can_open(secret);
      taken.set_value();
      checked.get_future().wait();
    }
    after = can_open(secret);
  });
  // The main thread still reads as root while the other one acts as nobody.
  taken.get_future().wait();
  const bool other_thread = can_open(secret);
  checked.set_value();
  user.join();
  EXPECT_FALSE(inside) << "a root-only file opened with nobody's identity";
  EXPECT_TRUE(other_thread);
  EXPECT_TRUE(after) << "the thread got root's reach back";
  EXPECT_TRUE(can_open(secret));
}

TEST(FsIdentityTest, RootsOwnIdentityChangesNothing) {
  ThreadFsIdentity as_root(0, 0);
  EXPECT_FALSE(as_root.active());
}

}  // namespace
}  // namespace aion
