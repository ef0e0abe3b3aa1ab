// `aion data ...` as a user runs it: the real binary, a catalog in a temporary directory named
// by --config, exit codes, tables and JSON.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/core/process.h"
#include "support/temp_dir.h"

namespace aion::pipeline {
namespace {

using aion::testing::TempDir;

class DataCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.write("aion.toml", "[datasets]\ncatalog = \"" + (tmp_ / "state/datasets.db").string() +
                                "\"\nstage_dir = \"" + (tmp_ / "cache").string() +
                                "\"\nstage_cache_max_bytes = 1000000\n");
  }

  ProcessResult aion(std::vector<std::string> args) {
    ProcessOptions o;
    o.argv = {std::string(AION_BIN_DIR) + "/aion", "--config", (tmp_ / "aion.toml").string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env_set = {{"AION_DATA_DIR", std::string(AION_SOURCE_DIR) + "/data"}};
    o.timeout = std::chrono::milliseconds(60000);
    auto r = run_process(o);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : ProcessResult{};
  }

  TempDir tmp_{"pipeline-cli"};
};

TEST_F(DataCliTest, AddVersionVerifyStageRemove) {
  tmp_.write("tree/a.csv", "x,y\n1,2\n");
  tmp_.write("tree/b.txt", "hello\n");
  auto add = aion({"data", "add", "demo", (tmp_ / "tree").string()});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_NE(add.out.find("demo@1: 2 files"), std::string::npos) << add.out;
  auto same = aion({"data", "add", "demo", (tmp_ / "tree").string()});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("unchanged since demo@1"), std::string::npos) << same.out;

  tmp_.write("tree/b.txt", "hello, world\n");
  auto v2 = aion({"--json", "data", "add", "demo", (tmp_ / "tree").string()});
  ASSERT_EQ(v2.exit_code, 0) << v2.err;
  Json j = Json::parse(v2.out);
  EXPECT_TRUE(j["created"].get<bool>());
  EXPECT_EQ(j["version"]["version"], 2);
  EXPECT_EQ(j["diff"]["changed"]["paths"], Json::array({"b.txt"}));
  EXPECT_EQ(j["version"]["modalities"]["tabular"]["files"], 1);

  auto show = aion({"--json", "data", "show", "demo@1", "--files"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  Json s = Json::parse(show.out);
  EXPECT_EQ(s["version"]["version"], 1);
  EXPECT_EQ(s["versions"].size(), 2u);
  EXPECT_EQ(s["files"].size(), 2u);
  EXPECT_EQ(s["files"][0]["path"], "a.csv");
  EXPECT_EQ(s["files"][0]["format"], "csv");

  auto ok = aion({"data", "verify", "demo"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto old = aion({"data", "verify", "demo@1"});
  EXPECT_EQ(old.exit_code, 1) << old.out;
  EXPECT_NE(old.out.find("b.txt"), std::string::npos) << old.out;
  EXPECT_NE(old.out.find("changed"), std::string::npos) << old.out;

  auto stage = aion({"--json", "data", "stage", "demo"});
  ASSERT_EQ(stage.exit_code, 0) << stage.err;
  Json st = Json::parse(stage.out);
  EXPECT_EQ(st["dir"], (tmp_ / "cache/demo@2").string());
  EXPECT_EQ(tmp_.read("cache/demo@2/b.txt"), "hello, world\n");
  auto reuse = aion({"data", "stage", "demo"});
  EXPECT_NE(reuse.out.find("from the stage cache"), std::string::npos) << reuse.out;

  auto rm = aion({"data", "rm", "demo"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_NE(rm.out.find("removed demo@1"), std::string::npos) << rm.out;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "cache/demo@2"));
  auto gone = aion({"data", "show", "demo"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no dataset named 'demo'"), std::string::npos) << gone.err;
}

TEST_F(DataCliTest, CorruptFileFailsVerifyAndIsNamed) {
  tmp_.write("tree/weights.bin", std::string(4096, 'w'));
  ASSERT_EQ(aion({"data", "add", "w", (tmp_ / "tree").string()}).exit_code, 0);
  const auto file = tmp_ / "tree/weights.bin";
  const auto mtime = std::filesystem::last_write_time(file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('X');
  }
  std::filesystem::last_write_time(file, mtime);
  auto r = aion({"--json", "data", "verify", "w"});
  EXPECT_EQ(r.exit_code, 1);
  Json j = Json::parse(r.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  ASSERT_EQ(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["path"], "weights.bin");
  EXPECT_EQ(j["findings"][0]["state"], "corrupt");
}

TEST_F(DataCliTest, OddNamesAreEscapedInJsonAndDuplicatesListed) {
  tmp_.write(std::string("a/caf\xe9\nname"), "same bytes");
  tmp_.write("b/plain", "same bytes");
  ASSERT_EQ(aion({"data", "add", "a", (tmp_ / "a").string()}).exit_code, 0);
  ASSERT_EQ(aion({"data", "add", "b", (tmp_ / "b").string()}).exit_code, 0);
  auto r = aion({"--json", "data", "ls", "--duplicates"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);  // throws on invalid UTF-8 or broken escapes
  EXPECT_EQ(j["duplicates"]["groups"], 1);
  EXPECT_EQ(j["duplicates"]["listed"][0]["listed"][0]["path"], "caf\\xe9\\nname");
  auto table = aion({"data", "ls", "--duplicates"});
  EXPECT_NE(table.out.find("a@1:caf\\xe9\\nname"), std::string::npos) << table.out;
}

TEST_F(DataCliTest, ADamagedCatalogIsAClearError) {
  tmp_.write("state/datasets.db", std::string(8192, 'x'));
  auto r = aion({"data", "ls"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("datasets.db"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dataset catalog"), std::string::npos) << r.err;
}

TEST_F(DataCliTest, BadNamesAreUsageErrors) {
  auto r = aion({"data", "add", "../up", tmp_.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("dataset name"), std::string::npos) << r.err;
  auto missing = aion({"data", "add", "x", (tmp_ / "nope").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace aion::pipeline
