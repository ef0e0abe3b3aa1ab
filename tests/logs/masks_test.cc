#include "aion/logs/masks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace aion::logs {
namespace {

TEST(MaskSetTest, ShippedRulesLoadAndHideTypicalValues) {
  auto set = MaskSet::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  ASSERT_TRUE(set) << set.error().message();
  auto m = set->apply("Connection from 10.1.2.3:22 block blk_-42 at 0xdeadBEEF took 15 ms");
  EXPECT_EQ(m.text, "Connection from \x1a block blk_\x1a at \x1a took \x1a");
  EXPECT_EQ(m.values, (std::vector<std::string>{"10.1.2.3:22", "-42", "0xdeadBEEF", "15 ms"}));
}

TEST(MaskSetTest, GroupOneIsReplacedAndContextKept) {
  auto set = MaskSet::from_rules({{"id", "id=(\\d+)", "<ID>"}}, "test");
  ASSERT_TRUE(set);
  auto m = set->apply("a id=7 b id=12");
  EXPECT_EQ(m.text, "a id=\x1a b id=\x1a");
  EXPECT_EQ(m.values, (std::vector<std::string>{"7", "12"}));
  EXPECT_EQ(m.rules, (std::vector<int>{0, 0}));
}

TEST(MaskSetTest, LaterRuleSwallowingAPlaceholderKeepsItsOriginalText) {
  auto set = MaskSet::from_rules({{"num", "\\d+", "<NUM>"}, {"kv", "port \\S+", "<KV>"}}, "test");
  ASSERT_TRUE(set);
  auto m = set->apply("x 1 port 80 y 2");
  EXPECT_EQ(m.text, "x \x1a \x1a y \x1a");
  EXPECT_EQ(m.values, (std::vector<std::string>{"1", "port 80", "2"}));
}

TEST(MaskSetTest, MalformedFileIsRejectedNamingFileAndKey) {
  auto bad_regex = MaskSet::parse(
      "schema_version = 1\n[[mask]]\nname = \"broken\"\nregex = '(unclosed'\ntoken = \"<X>\"\n",
      "masks-bad.toml");
  ASSERT_FALSE(bad_regex);
  EXPECT_EQ(bad_regex.error().code(), ErrorCode::kConfig);
  EXPECT_NE(bad_regex.error().message().find("masks-bad.toml"), std::string::npos);
  EXPECT_NE(bad_regex.error().message().find("regex"), std::string::npos);
  EXPECT_NE(bad_regex.error().message().find("broken"), std::string::npos);

  auto unknown =
      MaskSet::parse("schema_version = 1\n[[mask]]\nname = \"a\"\nregx = 'x'\n", "masks-typo.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("masks-typo.toml"), std::string::npos);
  EXPECT_NE(unknown.error().message().find("regx"), std::string::npos);

  auto empty_token = MaskSet::parse("schema_version = 1\n[[mask]]\nname = \"a\"\nregex = 'x+'\n",
                                    "masks-token.toml");
  ASSERT_FALSE(empty_token);
  EXPECT_NE(empty_token.error().message().find("token"), std::string::npos);

  auto no_version =
      MaskSet::parse("[[mask]]\nname = \"a\"\nregex = 'x'\ntoken = \"<X>\"\n", "v.toml");
  ASSERT_FALSE(no_version);
  EXPECT_NE(no_version.error().message().find("schema_version"), std::string::npos);

  auto matches_empty = MaskSet::from_rules({{"star", "a*", "<A>"}}, "e.toml");
  ASSERT_FALSE(matches_empty);
  EXPECT_NE(matches_empty.error().message().find("empty string"), std::string::npos);
}

TEST(MaskSetTest, MissingFileIsAConfigError) {
  auto set = MaskSet::load("/nonexistent/masks.toml");
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message().find("/nonexistent/masks.toml"), std::string::npos);
}

}  // namespace
}  // namespace aion::logs
