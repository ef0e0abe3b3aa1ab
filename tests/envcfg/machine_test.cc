#include "aion/envcfg/machine.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aion::envcfg {
namespace {

using testing::kb;
using testing::machine;

TEST(EnvMachineTest, DescriptionGivesGpusDriverAndSoftware) {
  Machine m = machine("dgx-a100");
  EXPECT_EQ(to_string(m.accelerator_kind()), "cuda");
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_EQ(m.gpus[0].count, 8);
  EXPECT_EQ(m.gpus[0].cc, "8.0");
  EXPECT_TRUE(m.gpus[0].datacenter);
  EXPECT_EQ(m.nvidia_driver.text(), "535.104.05");
  EXPECT_EQ(m.os_id, "ubuntu");
  EXPECT_EQ(m.python, "3.10");
}

TEST(EnvMachineTest, MissingComputeCapabilityComesFromTheModelTable) {
  // The workstation description was made without NVML: sysfs knows only the PCI name.
  Machine m = machine("rtx4090-workstation");
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_EQ(m.gpus[0].cc, "8.9");
  EXPECT_TRUE(m.gpus[0].cc_from_model);
  EXPECT_FALSE(m.gpus[0].datacenter);
}

TEST(EnvMachineTest, AmdAndAscendMachinesAreRecognized) {
  Machine amd = machine("mi250x-rocm62");
  EXPECT_EQ(to_string(amd.accelerator_kind()), "rocm");
  EXPECT_EQ(amd.gpus[0].gfx, "gfx90a");
  EXPECT_EQ(amd.rocm.major_minor(), "6.2");
  EXPECT_EQ(to_string(machine("ascend910").accelerator_kind()), "npu");
  EXPECT_EQ(to_string(machine("cpu-vm").accelerator_kind()), "cpu");
}

TEST(EnvMachineTest, MalformedDescriptionsAreClearErrors) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"{\"accelerators\": [", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {"{\"accelerators\": 5}", "\"accelerators\" must be an array"},
      {"{\"accelerators\": [{\"vendor\": \"nvidia\", \"driver_version\": 535}]}", "malformed"},
      {"{\"software\": \"ubuntu\"}", "\"software\" must be an object"},
      {"{\"software\": {\"python\": \"snake\"}}", "not a Python version"},
  };
  for (const auto& c : cases) {
    auto m = machine_from_json(c.text, "bad.json", kb());
    ASSERT_FALSE(m) << c.text;
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument) << c.text;
    EXPECT_NE(m.error().message().find(c.expect), std::string::npos) << m.error().message();
    EXPECT_NE(m.error().message().find("bad.json"), std::string::npos) << m.error().message();
  }
}

TEST(EnvMachineTest, PythonSeriesIsMajorMinor) {
  EXPECT_EQ(python_series("Python 3.11.4"), "3.11");
  EXPECT_EQ(python_series("3.8"), "3.8");
  EXPECT_EQ(python_series("three"), "");
}

TEST(EnvMachineTest, BackendWordsRoundTripAndNothingElseParses) {
  for (Backend b :
       {Backend::kCuda, Backend::kRocm, Backend::kNpu, Backend::kOpenVino, Backend::kCpu}) {
    EXPECT_EQ(parse_backend(to_string(b)), b);
    EXPECT_NE(backend_words().find(to_string(b)), std::string_view::npos);
  }
  EXPECT_FALSE(parse_backend("CUDA"));
  EXPECT_FALSE(parse_backend("cu121"));
  EXPECT_FALSE(parse_backend(""));
}

}  // namespace
}  // namespace aion::envcfg
