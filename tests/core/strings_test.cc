#include "aion/core/strings.h"

#include <gtest/gtest.h>

#include "aion/core/cpu_list.h"

namespace aion {
namespace {

TEST(StringsTest, TrimDropsAsciiWhitespaceAtBothEndsOnly) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim_view("   "), "");
}

TEST(StringsTest, LowerFoldsOnlyAsciiLetters) {
  EXPECT_EQ(lower("NVIDIA A100-SXM4 é"), "nvidia a100-sxm4 é");
}

TEST(StringsTest, SplitKeepsEmptyPiecesUnlessAsked) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), std::vector<std::string>{});
  EXPECT_EQ(split(" a , ,b,", ',', {.trim_pieces = true, .skip_empty = true}),
            (std::vector<std::string>{"a", "b"}));
}

TEST(StringsTest, SplitWordsBreaksAtAnyRunOfWhitespace) {
  EXPECT_EQ(split_words("4096\t131072  6291456\n"),
            (std::vector<std::string>{"4096", "131072", "6291456"}));
  EXPECT_EQ(split_words(" always [madvise] never"),
            (std::vector<std::string>{"always", "[madvise]", "never"}));
  EXPECT_EQ(split_words(""), std::vector<std::string>{});
  EXPECT_EQ(split_words(" \t\n"), std::vector<std::string>{});
}

TEST(StringsTest, FillPlaceholdersReplacesKnownNamesOnce) {
  EXPECT_EQ(fill_placeholders("nvidia-smi -r -i {gpu} # {gpu} {other}", {{"gpu", "3"}}),
            "nvidia-smi -r -i 3 # 3 {other}");
  // An inserted value is not scanned again.
  EXPECT_EQ(fill_placeholders("{a}", {{"a", "{a}{a}"}}), "{a}{a}");
  EXPECT_EQ(fill_placeholders("", {{"a", "x"}}), "");
}

TEST(StringsTest, JoinWritesSeparatorsBetweenStringsOrNumbers) {
  EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join(std::vector<int>{1, 2}, ","), "1,2");
  EXPECT_EQ(join(std::vector<std::string>{}, ","), "");
}

TEST(StringsTest, ParseIntAcceptsOnlyAWholeNumberThatFits) {
  EXPECT_EQ(parse_int("42"), 42);
  EXPECT_EQ(parse_int("-7"), -7);
  EXPECT_FALSE(parse_int(""));
  EXPECT_FALSE(parse_int("4x"));
  EXPECT_FALSE(parse_int(" 4"));
  EXPECT_FALSE(parse_int<int>("99999999999"));
}

TEST(StringsTest, EditDistanceAndNearestFindTheCloseName) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(nearest("pytorh", {"tensorflow", "pytorch", "jax"}, 3), "pytorch");
  EXPECT_EQ(nearest("zzzzzz", {"pytorch"}, 3), "");
}

TEST(CpuListTest, ParsesRangesSortedAndFormatsTheShortestForm) {
  EXPECT_EQ(format_cpu_list(*parse_cpu_list("3,0-2,8")), "0-3,8");
  EXPECT_EQ(format_cpu_list({5, 0, 1, 2, 3, 8, 9}), "0-3,5,8-9");
  EXPECT_EQ(format_cpu_list({}), "");
  EXPECT_EQ(*parse_cpu_list(" 0-1\n"), (std::vector<int>{0, 1}));
  EXPECT_EQ(*parse_int_ranges("3,1-2"), (std::vector<int>{3, 1, 2}));
}

TEST(CpuListTest, MalformedListsAreParseErrorsNamingTheText) {
  for (const char* bad : {"2-1", "a", "1,,2", "-1", "0-99999999", "70000"}) {
    auto r = parse_cpu_list(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kParse);
    EXPECT_NE(r.error().message().find("is not a list of numbers and ranges"), std::string::npos);
  }
}

}  // namespace
}  // namespace aion
