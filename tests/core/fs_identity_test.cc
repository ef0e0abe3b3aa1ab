// ThreadFsIdentity: a thread that takes a user's file-system identity opens files with that
// user's rights only, while the other threads of the process keep root's.
#include "aion/core/fs_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "support/test_users.h"

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

// The calling thread's own groups, as the kernel has them.
std::vector<gid_t> thread_groups() {
  std::vector<gid_t> g(static_cast<std::size_t>(::syscall(SYS_getgroups, 0, nullptr)));
  g.resize(static_cast<std::size_t>(::syscall(SYS_getgroups, g.size(), g.data())));
  return g;
}

TEST(FsIdentityTest, TheUsersGroupsComeWithItAndRootsGroupsGo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the identity is only taken by root)";
  auto user = ::aion::testing::ensure_user("aion-fsid", {"aion-fsid-team"});
  if (!user) GTEST_SKIP() << "useradd could not make the test user";
  auto team = ::aion::testing::ensure_group("aion-fsid-team");
  ASSERT_TRUE(team);
  ::aion::testing::TempDir tmp("fsid-groups");
  tmp.make_reachable();
  // Readable through the team only (the user is a supplementary member), and through root's
  // group only.
  const std::string shared = tmp.write("shared", "team data\n").string();
  ASSERT_EQ(::chown(shared.c_str(), 0, *team), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0640), 0);
  const std::string rootgroup = tmp.write("rootgroup", "root's group\n").string();
  ASSERT_EQ(::chown(rootgroup.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(rootgroup.c_str(), 0640), 0);

  const std::vector<gid_t> before = thread_groups();
  bool team_file = false, root_file = true, active = false;
  std::vector<gid_t> inside, after;
  std::thread t([&] {
    {
      ThreadFsIdentity as_user(user->uid, user->gid);
      active = as_user.active();
      team_file = can_open(shared);
      root_file = can_open(rootgroup);
      inside = thread_groups();
    }
    after = thread_groups();
  });
  t.join();
  EXPECT_TRUE(active);
  EXPECT_TRUE(team_file) << "a file the user reads through a supplementary group was refused";
  EXPECT_FALSE(root_file) << "root's group reached a file through the user's identity";
  EXPECT_NE(std::find(inside.begin(), inside.end(), *team), inside.end());
  EXPECT_EQ(after, before) << "the thread did not get its groups back";
  EXPECT_EQ(thread_groups(), before) << "another thread's groups changed";
  EXPECT_EQ(user_groups(user->uid, user->gid).front(), user->gid);
}

TEST(FsIdentityTest, AnUnknownUserHasOnlyItsGroup) {
  EXPECT_EQ(user_groups(3999999999u, 3999999998u), std::vector<gid_t>{3999999998u});
}

TEST(FsIdentityTest, RootsOwnIdentityChangesNothing) {
  ThreadFsIdentity as_root(0, 0);
  EXPECT_FALSE(as_root.active());
}

}  // namespace
}  // namespace aion
