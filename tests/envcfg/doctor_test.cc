#include "aion/envcfg/doctor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "test_util.h"

namespace aion::envcfg {
namespace {

namespace fs = std::filesystem;
using testing::machine;
using testing::read_fixture;

const fs::path kLogs = ::aion::testing::fixture_path("envlogs");

// Every log in tests/fixtures/envlogs is named for the signature that must diagnose it.
TEST(EnvDoctorTest, EveryLogInTheCorpusGetsItsDiagnosis) {
  Machine m = machine("dgx-a100");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(kLogs)) {
    if (e.path().extension() != ".log" || e.path().stem() == "clean_training") continue;
    DoctorReport r =
        diagnose(read_fixture("envlogs/" + e.path().filename().string()), testing::current_kb(), m);
    ASSERT_FALSE(r.findings.empty()) << e.path();
    EXPECT_EQ(r.findings.front().id, e.path().stem().string()) << e.path();
    EXPECT_TRUE(r.findings.front().diagnosis);
    EXPECT_GT(r.findings.front().line, 0);
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(EnvDoctorTest, EverySignatureHasALogInTheCorpus) {
  for (const auto& s : testing::current_kb().signatures)
    EXPECT_TRUE(fs::exists(kLogs / (s.id + ".log"))) << "no log for signature " << s.id;
}

TEST(EnvDoctorTest, CleanLogIsNotDiagnosed) {
  DoctorReport r = diagnose(read_fixture("envlogs/clean_training.log"), testing::current_kb(),
                            machine("dgx-a100"));
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.lines, 5u);
}

TEST(EnvDoctorTest, CauseAndFixUseThisMachine) {
  // torch's "found version 11040" is driver API 11.4; on the K80 machine R470 runs CUDA 11.4.
  DoctorReport r = diagnose(read_fixture("envlogs/driver_too_old.log"), testing::current_kb(),
                            machine("k80-driver470"));
  ASSERT_FALSE(r.findings.empty());
  EXPECT_NE(r.findings[0].cause.find("470.256.02"), std::string::npos) << r.findings[0].cause;
  EXPECT_NE(r.findings[0].cause.find("CUDA up to 11.4"), std::string::npos) << r.findings[0].cause;
  // The container asks for CUDA 12.8; the 4090's R550 runs 12.4; 12.8 needs 570.26.
  DoctorReport c = diagnose(read_fixture("envlogs/container_require_cuda.log"),
                            testing::current_kb(), machine("rtx4090-workstation"));
  ASSERT_FALSE(c.findings.empty());
  EXPECT_NE(c.findings[0].cause.find("provides CUDA 12.4"), std::string::npos)
      << c.findings[0].cause;
  EXPECT_NE(c.findings[0].fix.find(">= 570.26"), std::string::npos) << c.findings[0].fix;
  // no kernel image: names the GPU's architecture.
  DoctorReport k = diagnose(read_fixture("envlogs/no_kernel_image.log"), testing::current_kb(),
                            machine("k80-driver470"));
  ASSERT_FALSE(k.findings.empty());
  EXPECT_NE(k.findings[0].cause.find("sm_37"), std::string::npos) << k.findings[0].cause;
}

TEST(EnvDoctorTest, HostileNumbersInALogDoNotBreakTheDoctor) {
  std::string log =
      "RuntimeError: The NVIDIA driver on your system is too old (found version "
      "99999999999999999999999)\n" +
      std::string(100000, 'x') + "\n";
  DoctorReport r = diagnose(log, testing::current_kb(), machine("dgx-a100"));
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].id, "driver_too_old");
  EXPECT_EQ(r.lines, 2u);
}

TEST(EnvDoctorTest, RootCauseComesBeforeSymptoms) {
  std::string log =
      "torch.cuda.is_available(): False\n"
      "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found "
      "version 12020)\n";
  DoctorReport r = diagnose(log, testing::current_kb(), machine("dgx-a100"));
  ASSERT_GE(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].id, "driver_too_old");
  EXPECT_TRUE(r.findings[0].diagnosis);
  EXPECT_EQ(r.findings[1].id, "cuda_unavailable");
  EXPECT_FALSE(r.findings[1].diagnosis);
  EXPECT_EQ(r.findings[1].line, 1);
}

}  // namespace
}  // namespace aion::envcfg
