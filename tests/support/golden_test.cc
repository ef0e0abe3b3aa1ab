// The golden-file helper: a changed output fails and says where, AION_UPDATE_GOLDEN=1 rewrites
// the file, and what varies between runs is normalised the documented way.
#include "support/golden.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace aion::testing {
namespace {

// Sets AION_UPDATE_GOLDEN for one scope and restores what was there.
class UpdateGolden {
 public:
  explicit UpdateGolden(const char* value) {
    if (const char* v = ::getenv("AION_UPDATE_GOLDEN")) old_ = v;
    if (value) {
      ::setenv("AION_UPDATE_GOLDEN", value, 1);
    } else {
      ::unsetenv("AION_UPDATE_GOLDEN");
    }
  }
  ~UpdateGolden() {
    if (old_) {
      ::setenv("AION_UPDATE_GOLDEN", old_->c_str(), 1);
    } else {
      ::unsetenv("AION_UPDATE_GOLDEN");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(GoldenTest, OneChangedCharacterFailsAndNamesTheLine) {
  const UpdateGolden off(nullptr);
  const TempDir t("golden");
  const auto file = t.write("out.txt", "GPU0 X NV12\nGPU1 NV12 X\n");
  EXPECT_TRUE(matches_golden_file(file, "GPU0 X NV12\nGPU1 NV12 X\n"));
  const auto r = matches_golden_file(file, "GPU0 X NV12\nGPU1 NV11 X\n");
  ASSERT_FALSE(r);
  const std::string why = r.message();
  EXPECT_NE(why.find(file.string()), std::string::npos) << why;
  EXPECT_NE(why.find("line 2"), std::string::npos) << why;
  EXPECT_NE(why.find("- GPU1 NV12 X"), std::string::npos) << why;
  EXPECT_NE(why.find("+ GPU1 NV11 X"), std::string::npos) << why;
  EXPECT_NE(why.find("AION_UPDATE_GOLDEN=1"), std::string::npos) << why;
  EXPECT_FALSE(matches_golden_file(file, "GPU0 X NV12\nGPU1 NV12 X"));  // final newline
  EXPECT_FALSE(matches_golden_file(file, "GPU0 X NV12\nGPU1 NV12 X\nGPU2\n"));
  EXPECT_EQ(t.read("out.txt"), "GPU0 X NV12\nGPU1 NV12 X\n") << "compared, never written";
}

TEST(GoldenTest, AMissingFileFailsUnlessUpdating) {
  const TempDir t("golden");
  {
    const UpdateGolden off("0");
    const auto r = matches_golden_file(t / "new.txt", "text\n");
    ASSERT_FALSE(r);
    EXPECT_NE(std::string(r.message()).find("no golden file"), std::string::npos);
  }
  const UpdateGolden on("1");
  EXPECT_TRUE(matches_golden_file(t / "sub/new.txt", "text\n"));
  EXPECT_EQ(t.read("sub/new.txt"), "text\n");
  EXPECT_TRUE(matches_golden_file(t / "sub/new.txt", "changed\n"));
  EXPECT_EQ(t.read("sub/new.txt"), "changed\n");
}

TEST(GoldenTest, BuildSourceTempPathsAndRunTimesAreNormalised) {
  const TempDir t("golden");
  const std::string text = bin_path("aion").string() + " read " +
                           fixture_path("hw/dgx-a100").string() + " into " +
                           (t / "state").string() + " (pid=4242)\n";
  EXPECT_EQ(normalize_output(text),
            "@BUILD@/bin/aion read @SRC@/tests/fixtures/hw/dgx-a100 into @TMP@/state "
            "(pid=4242)\n");
  EXPECT_EQ(normalize_output(R"({"stats":{"seconds":0.00370285,"lines":24}})"),
            R"({"stats":{"seconds":"@DURATION@","lines":24}})");
  EXPECT_EQ(normalize_output("{\n  \"seconds\": 1e-05\n}\n"),
            "{\n  \"seconds\": \"@DURATION@\"\n}\n");
  EXPECT_EQ(normalize_output("plain text\n"), "plain text\n");
}

TEST(GoldenTest, JsonIsComparedInOneLayoutAndAChangedValueFails) {
  const UpdateGolden off(nullptr);
  const std::string name = "cli/hw-topo/cpu-vm.json";
  ASSERT_TRUE(std::filesystem::exists(golden_dir() / name));
  std::ifstream in(golden_dir() / name);
  auto compact = nlohmann::ordered_json::parse(in);
  EXPECT_TRUE(matches_golden_json(name, compact.dump()));
  EXPECT_TRUE(matches_golden_json(name, compact.dump(4)));
  compact["devices"][0]["numa_node"] = 0;
  EXPECT_FALSE(matches_golden_json(name, compact.dump()));
  EXPECT_FALSE(matches_golden_json(name, "not json"));
}

TEST(GoldenTest, ALongLineDiffShowsTheColumn) {
  const UpdateGolden off(nullptr);
  const TempDir t("golden");
  const std::string line(300, 'x');
  const auto file = t.write("long.txt", line + "\n");
  std::string changed = line;
  changed[200] = 'y';
  const auto r = matches_golden_file(file, changed + "\n");
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("column 201"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace aion::testing
