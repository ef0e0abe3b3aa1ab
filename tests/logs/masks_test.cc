#include "aion/logs/masks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

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

// The hand-written scanners must give exactly what RE2 gives for the shipped expressions:
// compared on random text built from fragments that match, nearly match and break each rule.
TEST(MaskSetTest, ScannersGiveRe2sResultOnRandomText) {
  auto shipped = MaskSet::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  ASSERT_TRUE(shipped) << shipped.error().message();
  const std::vector<std::string> fragments = {"0",
                                              "7",
                                              "42",
                                              "255",
                                              "1234",
                                              "123456",
                                              ".",
                                              ",",
                                              ":",
                                              "-",
                                              "+",
                                              "_",
                                              " ",
                                              "  ",
                                              "\t",
                                              "/",
                                              "//",
                                              "=",
                                              "(",
                                              "[",
                                              "\"",
                                              "'",
                                              "%",
                                              "@",
                                              "~",
                                              "x",
                                              "X",
                                              "0x",
                                              "0X1f",
                                              "0xg",
                                              "blk_",
                                              "blk_-",
                                              "ab",
                                              "Ff",
                                              "e9",
                                              "a1",
                                              "B",
                                              "KB",
                                              "KiB",
                                              "Mi",
                                              "GB",
                                              "bytes",
                                              "Bytes",
                                              "ms",
                                              "us",
                                              "ns",
                                              "s",
                                              "sec",
                                              "min",
                                              "mins",
                                              "Mon ",
                                              "Tue ",
                                              "Jan ",
                                              "Dec ",
                                              "10:00:00",
                                              "1.2",
                                              "1.2.",
                                              "3:4",
                                              "\x1a",
                                              "\xe9",
                                              "deadbeef",
                                              "dead-beef",
                                              "12345678-1234-1234-1234-",
                                              "123456789abc",
                                              "00:1b:21:3a:4f:5e",
                                              "0000:3b:00.0",
                                              "10.0.0.1",
                                              "/usr/lib/x.so"};
  std::mt19937 rng(7);
  auto random_line = [&]() {
    std::string line;
    int n = static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) {
      if (rng() % 5 == 0) {
        line += static_cast<char>(32 + rng() % 95);
      } else {
        line += fragments[rng() % fragments.size()];
      }
    }
    return line;
  };
  std::vector<MaskSet> sets;
  for (const auto& rule : shipped->rules()) {
    auto one = MaskSet::from_rules({rule}, "test");
    ASSERT_TRUE(one);
    sets.push_back(std::move(*one));
  }
  sets.push_back(shipped->combined(MaskSet()));
  for (const auto& set : sets) {
    const MaskSet reference = set.reference();
    const std::string name = set.rules().size() == 1 ? set.rules()[0].name : "all";
    for (int i = 0; i < 20000; ++i) {
      std::string line = random_line();
      MaskedText fast = set.apply(line);
      MaskedText slow = reference.apply(line);
      ASSERT_EQ(fast.text, slow.text) << name << " on '" << line << "'";
      ASSERT_EQ(fast.values, slow.values) << name << " on '" << line << "'";
      ASSERT_EQ(fast.rules, slow.rules) << name << " on '" << line << "'";
    }
  }
}

TEST(MaskSetTest, ARuleWithoutAScannerRunsThroughRe2) {
  // The num rule without its trailing context and without a scanner: RE2 runs it, and
  // "12ab" now loses its digits.
  auto set = MaskSet::from_rules({{"num", "(?:^|[^A-Za-z0-9])([-+]?\\d+(?:[.,:]\\d+)*)", "<NUM>"}},
                                 "test");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->apply("x 12ab").text,
            "x \x1a"
            "ab");
  EXPECT_EQ(set->reference().apply("x 12ab").text,
            "x \x1a"
            "ab");
}

TEST(MaskSetTest, AnEditedRegexUnderAStaleScannerNameIsRefused) {
  // The same edit keeping `scanner = "number"`: the scanner would still demand the trailing
  // context, so the set would silently mask differently from its regex. Loading refuses it.
  auto set = MaskSet::from_rules(
      {{"num", "(?:^|[^A-Za-z0-9])([-+]?\\d+(?:[.,:]\\d+)*)", "<NUM>", "number"}}, "masks.toml");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(set.error().message().find("masks.toml: mask[0] (num): scanner 'number' does not mask"),
            std::string::npos)
      << set.error().message();
  EXPECT_NE(set.error().message().find("remove `scanner`"), std::string::npos);
}

TEST(MaskSetTest, AnUnknownScannerNameIsRefusedListingTheBuiltIns) {
  auto set = MaskSet::from_rules({{"ip", "\\d+\\.\\d+", "<IP>", "ipv6"}}, "masks.toml");
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message().find("unknown scanner 'ipv6' (built in: uuid, date, mac, ip,"),
            std::string::npos)
      << set.error().message();
}

TEST(MaskSetTest, EveryShippedRuleNamesAScanner) {
  auto set = MaskSet::load(std::filesystem::path(AION_SOURCE_DIR) / "data/logs/masks.toml");
  ASSERT_TRUE(set) << set.error().message();
  for (const auto& r : set->rules()) EXPECT_FALSE(r.scanner.empty()) << r.name;
}

TEST(MaskSetTest, MalformedFileIsRejectedNamingFileAndKey) {
  auto bad_regex = MaskSet::parse(
      "schema_version = 1\n[[mask]]\nname = \"broken\"\nregex = '(unclosed'\ntoken = \"<X>\"\n",
      "masks-bad.toml");
  ASSERT_FALSE(bad_regex);
  EXPECT_EQ(bad_regex.error().code(), ErrorCode::kCorrupt);
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
