// A pipeline makes root (aiond) read the paths its file names: its inputs when it is checked
// and fingerprinted, its outputs when they are recorded. A user's pipeline must not learn
// through them what only root may read: a root-only file as an input is refused as missing,
// as an output it is never hashed into an artifact.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "support/daemon_harness.h"
#include "support/test_users.h"

namespace aion::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PipelinePathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a user and a root-only file";
    user_ = ensure_user("aion-sec-pipe");
    if (!user_) GTEST_SKIP() << "useradd could not make the test user";
    // A root-only directory with a secret in it.
    vault_ = h_.dir() / "vault";
    fs::create_directories(vault_);
    ::chmod(vault_.c_str(), 0700);
    std::ofstream(vault_ / "secret") << "root only\n";
    ::chmod((vault_ / "secret").c_str(), 0600);
    // The user's pipeline directory.
    work_ = h_.dir() / "work";
    fs::create_directories(work_);
    ASSERT_EQ(::chown(work_.c_str(), user_->uid, user_->gid), 0);
    h_.write_config("[sched]\ncgroups = false\ncgroup_parent = \"aion-pipesec\"\n");
    auto st = h_.start();
    ASSERT_TRUE(st) << st.error().message() << h_.log();
  }

  Exit run_as_user(const std::string& toml) {
    std::ofstream(work_ / "pipeline.toml") << toml;
    return run_program(
        {DaemonHarness::aion_path(), "--socket", h_.socket().string(), "--json", "pipeline", "run",
         (work_ / "pipeline.toml").string(), "--user", user_->name, "--watch"},
        std::nullopt, 120s);
  }

  DaemonHarness h_;
  std::optional<TestUser> user_;
  fs::path vault_, work_;
};

TEST_F(PipelinePathsTest, ARootOnlyInputIsMissingToTheOwner) {
  Exit r =
      run_as_user("name = \"peek\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ninputs = [\"" +
                  (vault_ / "secret").string() + "\"]\n");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("stage 'a'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inputs"), std::string::npos) << r.out;
}

TEST_F(PipelinePathsTest, ARootOnlyOutputIsNeverHashed) {
  Exit r =
      run_as_user("name = \"claim\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\noutputs = [\"" +
                  (vault_ / "secret").string() + "\"]\n");
  EXPECT_NE(r.code, 0) << "the stage must fail: its output is not the owner's to read\n" << r.out;
  Exit arts = run_program(
      {DaemonHarness::aion_path(), "--socket", h_.socket().string(), "--json", "artifact", "ls"});
  EXPECT_EQ(arts.out.find("secret"), std::string::npos) << arts.out;
}

// Group rights are the owner's groups, not root's: a file root's group may read (root:root
// 0640, in a directory anyone may list) is seen, as the owner could `ls` it, but not read:
// the stage fails with "Permission denied" and nothing is hashed. A file of a group the owner
// belongs to is read, as the owner's own jobs could.
TEST_F(PipelinePathsTest, GroupRightsAreTheOwnersGroupsNotRoots) {
  auto team = ensure_group("aion-sec-pipe-team");
  ASSERT_TRUE(team);
  ASSERT_TRUE(ensure_user(user_->name, {"aion-sec-pipe-team"}));
  fs::path open_dir = h_.dir() / "shelf";
  fs::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 0755);
  std::ofstream(open_dir / "rootgroup") << "root's group\n";
  ASSERT_EQ(::chown((open_dir / "rootgroup").c_str(), 0, 0), 0);
  ::chmod((open_dir / "rootgroup").c_str(), 0640);
  std::ofstream(open_dir / "team") << "the team's\n";
  ASSERT_EQ(::chown((open_dir / "team").c_str(), 0, *team), 0);
  ::chmod((open_dir / "team").c_str(), 0640);

  Exit peek = run_as_user(
      "name = \"peek-group\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ninputs = [\"" +
      (open_dir / "rootgroup").string() + "\"]\n");
  EXPECT_NE(peek.code, 0) << "a root-group file was read with the owner's identity\n" << peek.out;
  EXPECT_NE(peek.out.find("Permission denied"), std::string::npos) << peek.out;
  EXPECT_EQ(peek.out.find("xxh3"), std::string::npos) << peek.out;

  Exit shared =
      run_as_user("name = \"shared\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\ninputs = [\"" +
                  (open_dir / "team").string() + "\"]\n");
  EXPECT_EQ(shared.code, 0) << "a file of the owner's group was refused\n" << shared.out;
}

}  // namespace
}  // namespace aion::testing
