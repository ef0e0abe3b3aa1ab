// Sandbox profiles: the shipped ones load and mean what their names say; a broken site file is
// an error naming its file and line; a site profile of a shipped name replaces it.
#include <gtest/gtest.h>

#include <fstream>

#include "aion/guard/profile.h"
#include "support/temp_dir.h"

namespace aion::guard {
namespace {

TEST(GuardProfiles, ShippedProfilesLoad) {
  auto c = load_profiles("/nonexistent");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  auto agent = c->find("agent");
  ASSERT_TRUE(agent.has_value());
  EXPECT_EQ(agent->network, NetworkMode::kAllow);
  EXPECT_EQ(agent->on_unenforceable, Unenforceable::kRefuse);
  EXPECT_NE(std::find(agent->deny_syscalls.begin(), agent->deny_syscalls.end(), "ptrace"),
            agent->deny_syscalls.end());
  EXPECT_NE(std::find(agent->read_write.begin(), agent->read_write.end(), "{workdir}"),
            agent->read_write.end());
  auto strict = c->find("strict");
  ASSERT_TRUE(strict.has_value());
  EXPECT_EQ(strict->network, NetworkMode::kNone);
  auto missing = c->find("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("agent"), std::string::npos);
}

TEST(GuardProfiles, ErrorsNameFileAndLine) {
  const char* cases[][2] = {
      {"schema_version = 1\n[[profile]]\nname = \"x\"\nsummary = \"s\"\nnetwork = \"wifi\"\n",
       "t.toml:5"},
      {"schema_version = 1\n[[profile]]\nname = \"x\"\nsummary = \"s\"\nread_only = [\"etc\"]\n",
       "t.toml:5"},
      {"schema_version = 1\n[[profile]]\nname = \"x\"\nsummary = \"s\"\nallow = [\"1.2.3.4\"]\n",
       "t.toml:5"},
      {"schema_version = 1\n[[profile]]\nname = \"x\"\nsummary = \"s\"\nsandbox = true\n",
       "t.toml:5: unknown key 'sandbox'"},
      {"schema_version = 2\n", "t.toml"},
  };
  for (const auto& c : cases) {
    auto r = ProfileCatalog::parse(c[0], "t.toml");
    ASSERT_FALSE(r.has_value()) << c[0];
    EXPECT_NE(r.error().message().find(c[1]), std::string::npos) << r.error().message();
  }
}

TEST(GuardProfiles, ASiteProfileReplacesAShippedOne) {
  testing::TempDir dir("guard-profiles");
  std::ofstream(dir.path() / "site.toml")
      << "schema_version = 1\n[[profile]]\nname = \"agent\"\nsummary = \"site agent\"\n"
         "network = \"none\"\n[[profile]]\nname = \"lab\"\nsummary = \"lab\"\n";
  auto c = load_profiles(dir.path());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->find("agent")->summary, "site agent");
  EXPECT_EQ(c->find("agent")->network, NetworkMode::kNone);
  EXPECT_TRUE(c->find("lab").has_value());
  EXPECT_TRUE(c->find("strict").has_value());
}

}  // namespace
}  // namespace aion::guard
