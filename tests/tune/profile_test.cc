#include "aion/tune/profile.h"

#include <gtest/gtest.h>

#include "tune_fixture.h"

namespace aion::tune {
namespace {

using testing::TuneFixture;
namespace fs = std::filesystem;

constexpr const char* kSetting = R"(
[[setting]]
key = "sysctl.vm.swappiness"
value = 10
reason = "r"
source = "s"
)";

Profile must_parse(const std::string& text, const std::string& file) {
  auto p = parse_profile(text, file);
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? *p : Profile{};
}

TEST(ProfileTest, ShippedProfilesLoadAndEverySettingHasReasonAndSource) {
  auto catalog = testing::shipped_catalog(HostFs("/nonexistent-root"));
  for (const char* name : {"balanced", "throughput", "ai-training", "ai-inference"}) {
    auto r = catalog.resolve(name);
    ASSERT_TRUE(r) << name << ": " << r.error().message();
    EXPECT_FALSE(r->settings.empty()) << name;
    for (const auto& s : r->settings) {
      EXPECT_FALSE(s.reason.empty()) << name << " " << s.key;
      EXPECT_FALSE(s.source.empty()) << name << " " << s.key;
    }
  }
}

TEST(ProfileTest, ChildOverridesParentInPlaceAndAddsNewKeysAfter) {
  auto parent = must_parse(R"(schema_version = 1
name = "p"
[[setting]]
key = "sysctl.vm.swappiness"
value = 60
reason = "parent"
source = "s"
[[setting]]
key = "thp.enabled"
value = "madvise"
reason = "parent"
source = "s"
)",
                           "p.toml");
  auto child = must_parse(R"(schema_version = 1
name = "c"
inherits = "p"
[[setting]]
key = "block.read_ahead_kb"
value = 4096
reason = "child"
source = "s"
[[setting]]
key = "sysctl.vm.swappiness"
value = 10
reason = "child"
source = "s"
)",
                          "c.toml");
  auto cat = ProfileCatalog::from({parent, child});
  auto r = cat->resolve("c");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->settings.size(), 3u);
  EXPECT_EQ(r->settings[0].key, "sysctl.vm.swappiness");
  EXPECT_EQ(r->settings[0].value, "10");
  EXPECT_EQ(r->settings[0].reason, "child");
  EXPECT_EQ(r->settings[1].key, "thp.enabled");
  EXPECT_EQ(r->settings[2].key, "block.read_ahead_kb");
  EXPECT_EQ(r->chain, (std::vector<std::string>{"c", "p"}));
}

TEST(ProfileTest, InheritanceCycleIsRejectedNamingTheFiles) {
  auto a = must_parse("schema_version = 1\nname = \"a\"\ninherits = \"b\"\n", "/x/a.toml");
  auto b = must_parse("schema_version = 1\nname = \"b\"\ninherits = [\"c\"]\n", "/x/b.toml");
  auto c = must_parse("schema_version = 1\nname = \"c\"\ninherits = \"a\"\n", "/x/c.toml");
  auto cat = ProfileCatalog::from({a, b, c});
  auto r = cat->resolve("a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("/x/"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("inherits"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("a -> b -> c -> a"), std::string::npos) << r.error().message();
}

TEST(ProfileTest, UnknownParentIsRejected) {
  auto a = must_parse("schema_version = 1\nname = \"a\"\ninherits = \"nope\"\n", "a.toml");
  auto r = ProfileCatalog::from({a})->resolve("a");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("a.toml: inherits: no profile named 'nope'"),
            std::string::npos)
      << r.error().message();
}

struct Malformed {
  std::string text;
  std::string expect;  // in the message
};

TEST(ProfileTest, MalformedProfilesAreRejectedNamingFileLineAndKey) {
  std::vector<Malformed> cases = {
      {"schema_version = 1\nname = \"x\"\n[[setting]\n", "bad.toml:3"},
      {"name = \"x\"\n", "bad.toml: schema_version"},
      {"schema_version = 2\nname = \"x\"\n", "version 2 is not supported"},
      {"schema_version = 1\nname = \"x\"\ncolour = 1\n", "bad.toml:3: colour: unknown field"},
      {std::string("schema_version = 1\nname = \"x\"\n") + kSetting + kSetting,
       "bad.toml:11: sysctl.vm.swappiness: set twice"},
      {"schema_version = 1\nname = \"x\"\n[[setting]]\nkey = \"vm.swappiness\"\nvalue = 1\n"
       "reason = \"r\"\nsource = \"s\"\n",
       "bad.toml:4: vm.swappiness: unknown setting key"},
      {"schema_version = 1\nname = \"x\"\n[[setting]]\nkey = \"thp.enabled\"\nvalue = \"never\"\n"
       "source = \"s\"\n",
       "bad.toml:4: thp.enabled: missing 'reason'"},
      {"schema_version = 1\nname = \"x\"\n[[setting]]\nkey = \"thp.enabled\"\nvalue = 1.5\n"
       "reason = \"r\"\nsource = \"s\"\n",
       "thp.enabled: 'value' must be a string or an integer"},
  };
  for (const auto& c : cases) {
    auto p = parse_profile(c.text, "bad.toml");
    ASSERT_FALSE(p) << c.text;
    EXPECT_NE(p.error().message().find(c.expect), std::string::npos)
        << "want '" << c.expect << "' in: " << p.error().message();
  }
}

class UserProfileTest : public TuneFixture {};

TEST_F(UserProfileTest, UserProfilesComeFromEtcAndReplaceShippedOnes) {
  fs::create_directories(root_ / "etc/aion/profiles");
  std::ofstream(root_ / "etc/aion/profiles/balanced.toml")
      << "schema_version = 1\nname = \"balanced\"\nsummary = \"mine\"\n"
      << kSetting;
  std::ofstream(root_ / "etc/aion/profiles/serve.toml")
      << "schema_version = 1\nname = \"serve\"\ninherits = \"ai-inference\"\n";
  auto cat = ProfileCatalog::load(fs::path(AION_SOURCE_DIR) / "data/profiles", host());
  ASSERT_TRUE(cat) << cat.error().message();
  ASSERT_NE(cat->find("balanced"), nullptr);
  EXPECT_EQ(cat->find("balanced")->origin, "user");
  EXPECT_EQ(cat->find("balanced")->summary, "mine");
  auto serve = cat->resolve("serve");
  ASSERT_TRUE(serve) << serve.error().message();
  EXPECT_EQ(serve->chain, (std::vector<std::string>{"serve", "ai-inference", "balanced"}));
}

TEST_F(UserProfileTest, MalformedUserProfileFailsTheLoadNamingIt) {
  fs::create_directories(root_ / "etc/aion/profiles");
  std::ofstream(root_ / "etc/aion/profiles/bad.toml") << "schema_version = 1\nname = [\n";
  auto cat = ProfileCatalog::load(fs::path(AION_SOURCE_DIR) / "data/profiles", host());
  ASSERT_FALSE(cat);
  EXPECT_NE(cat.error().message().find("etc/aion/profiles/bad.toml:"), std::string::npos)
      << cat.error().message();
}

}  // namespace
}  // namespace aion::tune
