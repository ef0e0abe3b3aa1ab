#include "aion/envcfg/knowledge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/fixtures.h"
#include "support/temp_dir.h"
#include "test_util.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;

// The tables in data/envcfg, as users get them.
using testing::current_kb;

TEST(EnvKnowledgeTest, TablesLoadWithDateAndSchema) {
  ASSERT_EQ(current_kb().tables.size(), 8u);
  for (const auto& t : current_kb().tables) {
    EXPECT_EQ(t.schema_version, kSchemaVersion) << t.file;
    // An ISO date: YYYY-MM-DD.
    ASSERT_EQ(t.as_of.size(), 10u) << t.file;
    EXPECT_TRUE(t.as_of[4] == '-' && t.as_of[7] == '-') << t.as_of;
    EXPECT_EQ(t.as_of.find_first_not_of("0123456789-"), std::string::npos) << t.as_of;
    EXPECT_GT(t.rows, 0u) << t.file;
  }
}

TEST(EnvKnowledgeTest, CoversTheCommonToolkitsArchitecturesAndReleases) {
  for (const char* cuda : {"10.2", "11.8", "12.1", "12.4", "12.6", "12.8"})
    EXPECT_NE(current_kb().toolkit(Version::parse(cuda)), nullptr) << cuda;
  for (const char* cc : {"3.7", "5.0", "6.1", "7.0", "8.0", "8.9", "9.0", "10.0", "12.0"})
    EXPECT_NE(current_kb().arch(cc), nullptr) << cc;
  auto has = [](const char* fw, const char* version) {
    for (const auto* r : current_kb().releases_of(fw))
      if (r->version.has_prefix(Version::parse(version))) return true;
    return false;
  };
  for (const char* v : {"2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"})
    EXPECT_TRUE(has("torch", v)) << v;
  for (const char* v : {"2.14", "2.15", "2.16", "2.17", "2.18"})
    EXPECT_TRUE(has("tensorflow", v)) << v;
  EXPECT_TRUE(has("jax", "0.4"));
  for (const char* fw : {"vllm", "onnxruntime", "openvino", "paddle", "torch_npu"})
    EXPECT_FALSE(current_kb().releases_of(fw).empty()) << fw;
  for (const char* rocm : {"5.7", "6.0", "6.1", "6.2", "6.3"})
    EXPECT_NE(current_kb().rocm_release(Version::parse(rocm)), nullptr) << rocm;
}

// Today's releases and the older stacks clusters still run, back to 2022.
TEST(EnvKnowledgeTest, CoversCurrentReleasesAndOlderStacks) {
  for (const char* cuda : {"11.2", "11.3", "11.6", "13.0", "13.1", "13.2"})
    EXPECT_NE(current_kb().toolkit(Version::parse(cuda)), nullptr) << cuda;
  ASSERT_NE(current_kb().minor(13), nullptr);
  auto has = [](const char* fw, const char* version) {
    for (const auto* r : current_kb().releases_of(fw))
      if (r->version.has_prefix(Version::parse(version))) return true;
    return false;
  };
  for (const char* v : {"1.12", "1.13", "2.9", "2.10", "2.11"}) EXPECT_TRUE(has("torch", v)) << v;
  for (const char* v : {"2.10", "2.11", "2.12", "2.13", "2.20"})
    EXPECT_TRUE(has("tensorflow", v)) << v;
  EXPECT_FALSE(current_kb().releases_of("sglang").empty());
  for (const char* rocm : {"5.0", "5.4", "6.4", "7.0", "7.1", "7.2"})
    EXPECT_NE(current_kb().rocm_release(Version::parse(rocm)), nullptr) << rocm;
  for (const char* cann : {"8.0", "8.5", "9.0"})
    EXPECT_NE(current_kb().cann_release(Version::parse(cann)), nullptr) << cann;
  for (const char* os : {"ubuntu", "debian", "rhel"})
    EXPECT_NE(current_kb().install_for("cuda", os), nullptr) << os;
}

// The first driver of each recent architecture, with where it is published.
TEST(EnvKnowledgeTest, ArchitecturesCarryTheirDriverFloor) {
  for (const char* cc : {"7.5", "8.0", "8.9", "9.0", "10.0", "12.0"}) {
    const ArchInfo* a = current_kb().arch(cc);
    ASSERT_NE(a, nullptr) << cc;
    EXPECT_FALSE(a->min_driver.is_empty()) << cc;
    EXPECT_FALSE(a->min_driver_source.empty()) << cc;
  }
  EXPECT_EQ(current_kb().arch("8.9")->min_driver.major(), 520);
  // gfx942 (MI300X) first appears in ROCm 6.0.
  const RocmRelease* r57 = current_kb().rocm_release(Version::parse("5.7"));
  ASSERT_NE(r57, nullptr);
  EXPECT_EQ(std::count(r57->gfx.begin(), r57->gfx.end(), "gfx942"), 0);
}

TEST(EnvKnowledgeTest, StalenessWarnsAfterSixMonths) {
  Knowledge k;
  k.tables.push_back({"a.toml", 1, "2025-07-15", 1, "", true});
  k.tables.push_back({"doctor.toml", 1, "2020-01-01", 1, "", false});  // not a release table
  EXPECT_EQ(k.as_of(), "2025-07-15");
  EXPECT_EQ(staleness_warning(k, "2025-12-31"), "");
  EXPECT_EQ(staleness_warning(k, "2026-01-15"), "");
  const std::string w = staleness_warning(k, "2026-01-16");
  EXPECT_NE(w.find("as of 2025-07-15"), std::string::npos) << w;
  EXPECT_NE(w.find("6 months"), std::string::npos) << w;
  EXPECT_NE(staleness_warning(k, "2026-12-07").find("16 months"), std::string::npos);
  EXPECT_EQ(staleness_warning(k, "not a date"), "");
}

TEST(EnvKnowledgeTest, EveryRowNamesItsSource) {
  for (const auto& t : current_kb().toolkits) EXPECT_FALSE(t.source.empty());
  for (const auto& r : current_kb().releases) EXPECT_FALSE(r.source.empty()) << r.framework;
  for (const auto& i : current_kb().images) EXPECT_FALSE(i.source.empty()) << i.ref;
  for (const auto& s : current_kb().signatures) EXPECT_FALSE(s.source.empty()) << s.id;
}

TEST(EnvKnowledgeTest, AliasesFindFrameworks) {
  ASSERT_NE(current_kb().find_framework("PyTorch"), nullptr);
  EXPECT_EQ(current_kb().find_framework("pytorch")->name, "torch");
  EXPECT_EQ(current_kb().find_framework("tf")->name, "tensorflow");
  EXPECT_EQ(current_kb().find_framework("torch-npu")->name, "torch_npu");
  EXPECT_EQ(current_kb().find_framework("caffe"), nullptr);
}

class EnvKnowledgeBrokenTableTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::copy(::aion::testing::source_path("data/envcfg"), dir_); }
  void replace(const std::string& file, const std::string& from, const std::string& to) {
    std::ifstream in(dir_ / file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    text.replace(pos, from.size(), to);
    std::ofstream(dir_ / file) << text;
  }
  ::aion::testing::TempDir tmp_{"envcfg-kb"};
  fs::path dir_ = tmp_.path();
};

TEST_F(EnvKnowledgeBrokenTableTest, WrongSchemaVersionIsRejectedWithFileAndLine) {
  replace("cuda.toml", "schema_version = 1", "schema_version = 7");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cuda.toml:"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("schema_version 7"), std::string::npos);
}

TEST_F(EnvKnowledgeBrokenTableTest, RowWithoutSourceIsRejected) {
  replace("rocm.toml", "source = \"rocm-install-on-linux docs-6.0.0", "unsourced = \"");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("rocm.toml:"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("'source'"), std::string::npos);
}

TEST_F(EnvKnowledgeBrokenTableTest, BadSignaturePatternIsRejected) {
  replace("doctor.toml", "\"ncclSystemError\"", "\"nccl(System\"");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nccl_system_error"), std::string::npos)
      << r.error().message();
}

// A repetition bound near 2^63 overflows inside libstdc++'s regex compiler (UBSan reports it);
// such a pattern is refused before it is compiled. An escaped brace is no bound.
TEST_F(EnvKnowledgeBrokenTableTest, HugeRepetitionInAPatternIsRefusedBeforeCompiling) {
  replace("doctor.toml", "\"ncclSystemError\"", "\"ncclSystemError{1,9223372036854775800}\"");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("repeats more than 1000 times"), std::string::npos)
      << r.error().message();
}

TEST_F(EnvKnowledgeBrokenTableTest, HugeBackreferenceInAPatternIsRefusedBeforeCompiling) {
  replace("doctor.toml", "\"ncclSystemError\"", "\"(nccl)SystemError\\\\9223372036854775800\"");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("backreference over 99"), std::string::npos)
      << r.error().message();
}

TEST_F(EnvKnowledgeBrokenTableTest, EscapedBracesAndSmallBoundsStillLoad) {
  replace("doctor.toml", "\"ncclSystemError\"", "\"ncclSystemError\\\\{99999\\\\}|x{2,1000}\"");
  auto r = load_knowledge(dir_);
  ASSERT_TRUE(r) << r.error().message();
}

TEST_F(EnvKnowledgeBrokenTableTest, MissingTableSaysWhereDataIsLookedFor) {
  fs::remove(dir_ / "images.toml");
  auto r = load_knowledge(dir_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("AION_DATA_DIR"), std::string::npos);
}

}  // namespace
}  // namespace aion::envcfg
