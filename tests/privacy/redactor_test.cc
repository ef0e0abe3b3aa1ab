// Replacement and restore: stable placeholders per request, exact restore, the policy, and
// accounts read from a fixture root's /etc/passwd.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "aion/core/config.h"
#include "aion/privacy/redactor.h"
#include "support/temp_dir.h"

namespace aion::privacy {
namespace {

DetectorSet shipped_set() {
  auto set = DetectorSet::load_dir(std::filesystem::path(AION_SOURCE_DIR) / "data/privacy");
  EXPECT_TRUE(set.has_value()) << set.error().message();
  return std::move(*set);
}

Redactor make(Policy p = {}) {
  auto r = Redactor::create(shipped_set(), std::move(p));
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return std::move(*r);
}

TEST(Redact, SameValueGetsSamePlaceholderAcrossTexts) {
  Redactor r = make();
  PlaceholderMap map;
  auto a = r.redact("to bob@example.net and carol@example.net", map);
  auto b = r.redact("again bob@example.net", map);
  EXPECT_EQ(a.text, "to <EMAIL_1> and <EMAIL_2>");
  EXPECT_EQ(b.text, "again <EMAIL_1>");
  EXPECT_EQ(map.restore("reply to <EMAIL_2> please"), "reply to carol@example.net please");
}

TEST(Redact, NumbersArePerCategory) {
  Redactor r = make();
  PlaceholderMap map;
  auto a = r.redact("bob@example.net at 10.1.2.3", map);
  EXPECT_EQ(a.text, "<EMAIL_1> at <IP_1>");
}

TEST(Redact, KeepsLineCountForMultiLineSecrets) {
  Redactor r = make();
  PlaceholderMap map;
  const std::string in =
      "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbCd\nEfGh==\n-----END RSA PRIVATE "
      "KEY-----\ndone\n";
  auto out = r.redact(in, map);
  EXPECT_EQ(std::count(out.text.begin(), out.text.end(), '\n'),
            std::count(in.begin(), in.end(), '\n'));
  EXPECT_EQ(out.text.find("MIIEow"), std::string::npos);
  EXPECT_EQ(map.restore(out.text), in);
}

TEST(Redact, FoundValuesAreReplacedWhereverElseTheyStand) {
  Redactor r = make();
  PlaceholderMap map;
  const std::string in =
      "user=dchen token=Zq8rT2mW9xY4vB7nK3pL\necho Zq8rT2mW9xY4vB7nK3pL\ndchen ran; dchenx did not";
  auto out = r.redact(in, map);
  EXPECT_EQ(out.text.find("Zq8rT2mW9xY4vB7nK3pL"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("<USER_1> ran"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("dchenx did not"), std::string::npos) << out.text;  // a word only
  EXPECT_EQ(map.restore(out.text), in);
}

TEST(Redact, ManyValuesSharingTheirFirstBytesStillFoundEverywhere) {
  // Hostile input: values whose first eight bytes are the same as most of the text's make
  // the quick comparison give up; the automaton then finds every occurrence all the same.
  Redactor r = make();
  std::string in, echoes;
  const auto value = [](int i) {
    return "Zq8rT2mW" + std::to_string(100000 + i * 7919) + "pL3vB9";
  };
  for (int i = 0; i < 200; ++i) {
    in += "token=" + value(i) + "\n";
    echoes += value(i) + " ";
  }
  for (int i = 0; i < 20000; ++i) in += "Zq8rT2mW";
  in += "\n" + echoes + "\n";
  PlaceholderMap map;
  auto out = r.redact(in, map);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(out.text.find(value(i)), std::string::npos) << value(i);
  EXPECT_EQ(map.restore(out.text), in);
}

TEST(Redact, PlaceholderAlreadyInTheInputIsSkipped) {
  Redactor r = make();
  PlaceholderMap map;
  const std::string in = "literal <EMAIL_1> and bob@example.net";
  auto out = r.redact(in, map);
  EXPECT_EQ(out.text, "literal <EMAIL_1> and <EMAIL_2>");
  EXPECT_EQ(map.restore(out.text), in);
}

TEST(Policy, KeptCategoriesAndAllowedDomainsLeaveAsTheyAre) {
  ConfigSchema schema = privacy_config_schema();
  auto cfg = Config::parse(
      "[privacy]\nkeep = [\"ip\"]\nallow_domains = [\"example.com\"]\nallow_values = "
      "[\"carol\"]\n",
      "policy.toml", schema);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message();
  auto p = policy_from(*cfg);
  ASSERT_TRUE(p.has_value());
  Redactor r = make(*p);
  PlaceholderMap map;
  auto out =
      r.redact("10.1.2.3 sales@example.com ops@corp.example.com x@other.org user=carol", map);
  EXPECT_EQ(out.text, "10.1.2.3 sales@example.com ops@corp.example.com <EMAIL_1> user=carol");
}

TEST(Policy, SecretsCannotBeKept) {
  auto cfg = Config::parse("[privacy]\nkeep = [\"secret\"]\n", "p.toml", privacy_config_schema());
  ASSERT_TRUE(cfg.has_value());
  auto p = policy_from(*cfg);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message().find("secrets are always replaced"), std::string::npos);
}

TEST(Accounts, NonSystemAccountsComeFromTheHostRootPasswd) {
  const ::aion::testing::TempDir tmp("privacy-passwd");
  const auto root = tmp.path();
  std::filesystem::create_directories(root / "etc");
  std::ofstream(root / "etc/passwd")
      << "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
         "dchen:x:1001:1001:D Chen,,,:/home/dchen:/bin/bash\nslurm:x:64030:64030::/:/bin/false\n";
  Policy p;
  p.detectors_dir = std::filesystem::path(AION_SOURCE_DIR) / "data/privacy";
  auto r = Redactor::load(p, HostFs(root));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  PlaceholderMap map;
  EXPECT_EQ(r->redact("job of dchen ran as root", map).text, "job of <USER_1> ran as root");
}

}  // namespace
}  // namespace aion::privacy
