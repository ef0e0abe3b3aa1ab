#include "aion/envcfg/version.h"

#include <gtest/gtest.h>

namespace aion::envcfg {
namespace {

TEST(EnvVersionTest, DriverVersionsCompareNumerically) {
  EXPECT_LT(Version::parse("525.60.13"), Version::parse("535.104.05"));
  EXPECT_LT(Version::parse("470.256.02"), Version::parse("525.60.13"));
  EXPECT_EQ(Version::parse("12.8"), Version::parse("12.8.0"));
  EXPECT_GT(Version::parse("570.124.06"), Version::parse("570.26"));
}

TEST(EnvVersionTest, LocalLabelIsIgnoredAndPostSortsAfterRelease) {
  Version v = Version::parse("2.4.1+cu121");
  EXPECT_EQ(v, Version::parse("2.4.1"));
  EXPECT_EQ(v.local(), "cu121");
  EXPECT_GT(Version::parse("2.1.0.post12"), Version::parse("2.1.0"));
  EXPECT_GT(Version::parse("2.1.0.post12"), Version::parse("2.1.0.post4"));
  EXPECT_LT(Version::parse("8.1.RC1"), Version::parse("8.1"));
  EXPECT_TRUE(Version::parse("cuda").is_empty());
}

TEST(EnvVersionTest, AbsurdlyLongNumbersSaturate) {
  Version v = Version::parse("99999999999999999999.1");
  EXPECT_FALSE(v.is_empty());
  EXPECT_GT(v, Version::parse("999.1"));
}

TEST(EnvVersionTest, ShortPinMatchesTheWholeSeries) {
  auto spec = VersionSpec::parse("==2.4");
  ASSERT_TRUE(spec);
  EXPECT_TRUE(spec->matches(Version::parse("2.4.1")));
  EXPECT_FALSE(spec->matches(Version::parse("2.5.1")));
  auto range = VersionSpec::parse(">=2.2,<2.5");
  ASSERT_TRUE(range);
  EXPECT_TRUE(range->matches(Version::parse("2.4.1")));
  EXPECT_FALSE(range->matches(Version::parse("2.5.1")));
  EXPECT_FALSE(range->matches(Version::parse("2.1.2")));
  auto compat = VersionSpec::parse("~=2.4");
  ASSERT_TRUE(compat);
  EXPECT_TRUE(compat->matches(Version::parse("2.8.0")));
  EXPECT_FALSE(compat->matches(Version::parse("3.0")));
}

TEST(EnvVersionTest, ContradictoryConstraintsAreNamed) {
  auto a = VersionSpec::parse(">=2.5,<2.3");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->contradiction());
  EXPECT_NE(a->contradiction()->find("no version between"), std::string::npos);
  auto b = VersionSpec::parse("==2.4,>=2.5");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->contradiction());
  auto c = VersionSpec::parse("==2.4,==2.5");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contradiction());
  auto ok = VersionSpec::parse("==2.4,>=2.4.1");
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->contradiction());
}

TEST(EnvVersionTest, UnreadableConstraintIsAnError) {
  auto bad = VersionSpec::parse(">=banana");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(VersionSpec::parse("==2.4,,<3"));
}

TEST(EnvVersionTest, RequirementSplitsNameAndSpec) {
  auto r = split_requirement("torch==2.4");
  EXPECT_EQ(r.name, "torch");
  EXPECT_EQ(r.spec, "==2.4");
  EXPECT_EQ(split_requirement("pytorch").spec, "");
  EXPECT_EQ(split_requirement("tensorflow >= 2.16").spec, ">= 2.16");
}

}  // namespace
}  // namespace aion::envcfg
