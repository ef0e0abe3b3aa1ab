#include <gtest/gtest.h>

#include <map>

#include "aion/diagnose/catalog.h"
#include "aion/diagnose/remediation.h"
#include "aion/diagnose/service.h"
#include "test_util.h"

namespace aion::diagnose {
namespace {

using testing::shipped;
using testing::TempDir;

TEST(SignatureCatalogTest, ShippedCatalogHasEveryRequiredXidWithMeaningActionAndSource) {
  const Catalog& c = shipped().catalog;
  for (std::uint64_t xid :
       {13, 31, 32, 43, 45, 48, 61, 62, 63, 64, 68, 69, 74, 79, 92, 94, 95, 119, 120}) {
    const Signature* s = c.find_xid(xid);
    ASSERT_NE(s, nullptr) << "Xid " << xid;
    ASSERT_TRUE(s->xid) << "Xid " << xid << " falls back to " << s->id;
    EXPECT_EQ(*s->xid, xid);
    EXPECT_EQ(s->component, "gpu");
    EXPECT_FALSE(s->meaning.empty());
    EXPECT_FALSE(s->action.empty());
    EXPECT_FALSE(s->evidence.empty());
    EXPECT_EQ(s->source.rfind("https://docs.nvidia.com/", 0), 0u) << s->id << ": " << s->source;
    ASSERT_FALSE(s->patterns.empty()) << s->id;
  }
  // An Xid the catalog does not describe still matches, through the fallback entry.
  const Signature* other = c.find_xid(154);
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->fallback);
}

TEST(SignatureCatalogTest, ShippedCatalogCoversTheKernelAndJobFaultFamilies) {
  const Catalog& c = shipped().catalog;
  for (const char* id : {"mce-hardware-error",
                         "edac-corrected",
                         "edac-uncorrected",
                         "pcie-aer-corrected",
                         "pcie-aer-uncorrected",
                         "pcie-link-down",
                         "pcie-link-degraded",
                         "oom-killer",
                         "hung-task",
                         "soft-lockup",
                         "hard-lockup",
                         "rcu-stall",
                         "nvme-timeout",
                         "nvme-reset",
                         "ext4-error",
                         "xfs-error",
                         "nfs-not-responding",
                         "nic-link-down",
                         "infiniband-port-error",
                         "nccl-timeout",
                         "nccl-network-error",
                         "nccl-error",
                         "cuda-error",
                         "cuda-out-of-memory",
                         "cuda-ecc-error",
                         "gpu-ecc-double-bit",
                         "job-failed",
                         "telemetry-anomaly",
                         "hw-device-lost"}) {
    const Signature* s = c.find(id);
    ASSERT_NE(s, nullptr) << id;
    EXPECT_FALSE(s->source.empty()) << id;
  }
}

TEST(SignatureCatalogTest, EveryPlaybookASignatureNamesExists) {
  DiagnoseOptions o;
  o.signatures_dir = testing::data_dir() / "signatures";
  o.playbooks_dir = testing::data_dir() / "playbooks";
  auto k = load_knowledge(o);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_GE((*k)->playbooks.size(), 4u);
  o.automatic_playbooks = {"no-such-playbook"};
  auto bad = load_knowledge(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("no-such-playbook"), std::string::npos);
}

// A catalog file with one entry: the valid keys below, changed by `set` (an empty value
// drops the key).
std::string entry(const std::map<std::string, std::string>& set) {
  std::map<std::string, std::string> keys = {
      {"id", "\"x\""},          {"title", "\"t\""},
      {"component", "\"gpu\""}, {"severity", "\"warning\""},
      {"weight", "0.5"},        {"meaning", "\"m\""},
      {"evidence", "[\"e\"]"},  {"action", "\"a\""},
      {"pattern", "'ok'"},      {"source", "\"https://example.invalid/doc\""}};
  for (const auto& [k, v] : set) keys[k] = v;
  std::string out = "schema_version = 1\n[[signature]]\n";
  for (const auto& [k, v] : keys)
    if (!v.empty()) out += k + " = " + v + "\n";
  return out;
}

TEST(SignatureCatalogTest, MalformedEntriesAreRejectedNamingFileAndEntry) {
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"pattern", "'Xid (unclosed'"}}, "bad pattern"},
      {{{"pattern", "'(?P<gpuindex>\\d+)'"}}, "capture group 'gpuindex'"},
      {{{"action", ""}}, "missing key 'action'"},
      {{{"weight", ""}}, "missing key 'weight'"},
      {{{"weight", "7"}}, "weight must be a number in 0..1"},
      {{{"severity", "\"loud\""}}, "severity must be info, warning or critical"},
      {{{"severity2", "1"}}, "unknown key 'severity2'"},
      {{{"pattern", ""}}, "needs something to match"},
      {{{"evidence", "[]"}}, "'evidence' must list what to collect"},
  };
  for (const auto& [set, expect] : cases) {
    std::string text = entry(set);
    auto r = Catalog::parse(text, "bad.toml");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.error().message().find("bad.toml: signature 1"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
  }
  ASSERT_TRUE(Catalog::parse(entry({}), "good.toml"));
  auto version = Catalog::parse("schema_version = 2\n", "v.toml");
  ASSERT_FALSE(version);
  EXPECT_NE(version.error().message().find("v.toml:1: schema_version 2"), std::string::npos);
}

TEST(SignatureCatalogTest, DirectoryLoadNamesTheFileOfABadEntryAndDuplicates) {
  TempDir d;
  d.write("a.toml", entry({}));
  d.write("b.toml", entry({{"pattern", "'ok ('"}}));
  auto r = Catalog::load_dir(d.path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find((d.path() / "b.toml").string() + ": signature 1 (x)"),
            std::string::npos)
      << r.error().message();
  d.write("b.toml", entry({{"pattern", "'other'"}}));
  auto dup = Catalog::load_dir(d.path());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("already defined in"), std::string::npos);
  std::filesystem::remove(d.path() / "b.toml");
  auto ok = Catalog::load_dir(d.path());
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->signatures().size(), 1u);
}

TEST(RemediationPlaybookTest, ShippedPlaybooksLoadAndBadOnesAreRejected) {
  auto p = load_playbooks(testing::data_dir() / "playbooks");
  ASSERT_TRUE(p) << p.error().message();
  auto bad = parse_playbook(
      "schema_version = 1\nid = \"p\"\ntitle = \"t\"\n[[step]]\naction = \"format_disk\"\n",
      "p.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("p.toml: step 1: action 'format_disk'"), std::string::npos);
  auto nocmd = parse_playbook(
      "schema_version = 1\nid = \"p\"\ntitle = \"t\"\n[[step]]\naction = \"reset_gpu\"\n",
      "p.toml");
  ASSERT_FALSE(nocmd);
  EXPECT_NE(nocmd.error().message().find("needs a 'command'"), std::string::npos);
}

}  // namespace
}  // namespace aion::diagnose
