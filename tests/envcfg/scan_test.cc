#include "aion/envcfg/scan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"
#include "test_util.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;
using testing::kb;
using testing::machine;

// A fake venv: lib/pythonX.Y/site-packages with dist-info directories and framework files.
class EnvScanTest : public ::testing::Test {
 protected:
  fs::path site(const std::string& python = "3.11") {
    return root_ / "lib" / ("python" + python) / "site-packages";
  }
  void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void dist(const std::string& name, const std::string& version,
            const std::vector<std::string>& requires_dist = {}, const std::string& py = "3.11") {
    std::string meta = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n";
    for (const auto& r : requires_dist) meta += "Requires-Dist: " + r + "\n";
    meta += "\nThe long description follows the headers.\nName: not-a-header\n";
    std::string dir = name;
    std::replace(dir.begin(), dir.end(), '-', '_');
    write(site(py) / (dir + "-" + version + ".dist-info") / "METADATA", meta);
  }
  void torch(const std::string& version, const std::string& cuda, const std::string& py = "3.11") {
    dist("torch", version,
         {"nvidia-cudnn-cu12==9.1.0.70; platform_system == \"Linux\" and platform_machine == "
          "\"x86_64\"",
          "opt-einsum>=3.3; extra == \"opt-einsum\""},
         py);
    write(site(py) / "torch" / "version.py",
          "from typing import Optional\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', "
          "'hip']\n__version__ = '" +
              version + "'\ndebug = False\ncuda: Optional[str] = " +
              (cuda.empty() ? "None" : "'" + cuda + "'") +
              "\ngit_version = 'abc'\nhip: "
              "Optional[str] = None\n");
  }
  ScanReport scan(const std::string& machine_name) {
    auto r = scan_environment(root_, kb(), machine(machine_name));
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : ScanReport{};
  }
  static bool has(const ScanReport& r, const std::string& severity, const std::string& text) {
    for (const auto& f : r.findings)
      if (f.severity == severity && f.text.find(text) != std::string::npos) return true;
    return false;
  }
  static std::string dump(const ScanReport& r) { return scan_to_json(r); }

  ::aion::testing::TempDir tmp_{"envcfg-scan"};
  fs::path root_ = tmp_.path();
};

TEST_F(EnvScanTest, TorchCu121RunsOnTheDgx) {
  torch("2.4.1+cu121", "12.1");
  dist("nvidia-cudnn-cu12", "9.1.0.70");
  ScanReport r = scan("dgx-a100");
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.python, "3.11");
  ASSERT_EQ(r.builds.size(), 1u);
  EXPECT_EQ(r.builds[0].cuda, "12.1");
  EXPECT_EQ(r.builds[0].version, "2.4.1+cu121");
  EXPECT_TRUE(has(r, "info", "full compatibility")) << dump(r);
}

TEST_F(EnvScanTest, TorchCu121OnTheK80FailsOnArchitectureAndDriver) {
  torch("2.4.1+cu121", "12.1");
  dist("nvidia-cudnn-cu12", "9.1.0.70");
  ScanReport r = scan("k80-driver470");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "error", "no kernel image")) << dump(r);
  EXPECT_TRUE(has(r, "error", "older than 525.60.13")) << dump(r);
  // R470 is a forward-compatible branch, but not for a GPU CUDA 12 has no code for.
  EXPECT_FALSE(has(r, "warning", "forward compatibility")) << dump(r);
}

TEST_F(EnvScanTest, PinnedDependencyMismatchIsAnError) {
  torch("2.4.1+cu121", "12.1");
  dist("nvidia-cudnn-cu12", "8.9.2.26");
  ScanReport r = scan("dgx-a100");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "error", "requires nvidia-cudnn-cu12==9.1.0.70 but 8.9.2.26 is installed"))
      << dump(r);
}

TEST_F(EnvScanTest, MixedCudaWheelFamiliesAndDuplicatesAreErrors) {
  torch("2.4.1+cu121", "12.1");
  dist("nvidia-cudnn-cu12", "9.1.0.70");
  dist("nvidia-cuda-runtime-cu11", "11.8.89");
  dist("torch", "2.3.0");
  ScanReport r = scan("dgx-a100");
  EXPECT_TRUE(has(r, "error", "different major releases")) << dump(r);
  EXPECT_TRUE(has(r, "error", "installed more than once")) << dump(r);
}

TEST_F(EnvScanTest, CpuBuildOnGpuMachineIsAWarning) {
  torch("2.5.1+cpu", "");
  ScanReport r = scan("dgx-a100");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(has(r, "warning", "CPU-only build")) << dump(r);
}

TEST_F(EnvScanTest, PythonOutsideTheReleaseRangeIsAnError) {
  torch("2.4.1+cu121", "12.1", "3.13");
  ScanReport r = scan("dgx-a100");
  EXPECT_TRUE(has(r, "error", "supports Python 3.8-3.12")) << dump(r);
}

TEST_F(EnvScanTest, CudaBuildOnRocmMachineIsAnError) {
  torch("2.4.1+cu121", "12.1");
  ScanReport r = scan("mi250x-rocm62");
  EXPECT_TRUE(has(r, "error", "has no NVIDIA GPU")) << dump(r);
}

TEST_F(EnvScanTest, SitePackagesDirectoryCanBeGivenDirectly) {
  torch("2.4.1+cu121", "12.1");
  auto r = scan_environment(site(), kb(), machine("dgx-a100"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->python, "3.11");
  EXPECT_EQ(r->builds.size(), 1u);
}

TEST_F(EnvScanTest, PathWithoutSitePackagesIsNotFound) {
  fs::create_directories(root_ / "empty");
  auto r = scan_environment(root_ / "empty", kb(), machine("dgx-a100"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(scan_environment(root_ / "missing", kb(), machine("dgx-a100")));
}

}  // namespace
}  // namespace aion::envcfg
