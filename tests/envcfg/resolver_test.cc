// The resolver against the fixture machine descriptions. Each expectation names the rule and the
// table row it follows from (data/envcfg/*.toml), so a changed table or rule fails here with a
// reason.
#include "aion/envcfg/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace aion::envcfg {
namespace {

using testing::kb;
using testing::machine;

Plan plan_for(const std::string& machine_name, const std::string& request,
              const std::string& python = "", const std::string& variant = "") {
  auto p = make_plan(kb(), machine(machine_name), {request, python, variant});
  if (!p) {
    ADD_FAILURE() << p.error().message();
    return Plan{};
  }
  return *p;
}

bool has_way_out(const Plan& p, const std::string& kind, const std::string& text) {
  for (const auto& w : p.ways_out)
    if (w.kind == kind && w.text.find(text) != std::string::npos) return true;
  return false;
}

std::string ways(const Plan& p) {
  std::string out;
  for (const auto& w : p.ways_out) out += "[" + w.kind + "] " + w.text + "\n";
  for (const auto& f : p.failures) out += "fails: " + f + "\n";
  return out;
}

TEST(EnvPlanTest, DgxA100OnDriver535GetsNewestTorchUnderMinorVersionCompat) {
  // torch 2.8.0's builds are all CUDA 12.6+; 12.8 needs 570.26 at full compatibility
  // (cuda.toml), but driver 535.104.05 >= 525.60.13 runs any CUDA 12.x under minor-version
  // compatibility, and cu128 carries sm_80 SASS for the A100 (no PTX JIT). cu128 is 2.8's
  // default build. The image is the newest CUDA 12.x one the R535 driver starts natively
  // (12.2); the wheel brings its own runtime.
  Plan p = plan_for("dgx-a100", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.8.0");
  EXPECT_EQ(p.variant, "cu128");
  EXPECT_EQ(p.compatibility, "minor");
  EXPECT_EQ(p.python, "3.10");  // the machine's python3, inside 2.8's 3.9-3.13
  EXPECT_EQ(p.image, "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04");
  EXPECT_EQ(p.index, "https://download.pytorch.org/whl/cu128");
  ASSERT_EQ(p.install.size(), 1u);
  EXPECT_EQ(p.install[0],
            "pip install torch==2.8.0 torchvision==0.23.0 torchaudio==2.8.0 --index-url "
            "https://download.pytorch.org/whl/cu128");
}

TEST(EnvPlanTest, Rtx4090OnDriver550RunsSm86CodeOnAda) {
  // cc 8.9 comes from gpus.toml (no NVML in the description); cu128 has no sm_89 but sm_86
  // SASS runs on 8.9 (same major, lower minor). 550.54.14 < 570.26 -> minor compatibility.
  Plan p = plan_for("rtx4090-workstation", "torch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.8.0");
  EXPECT_EQ(p.variant, "cu128");
  EXPECT_EQ(p.compatibility, "minor");
  EXPECT_EQ(p.python, "3.12");
  EXPECT_EQ(p.image, "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04");
  bool sm86 = false;
  for (const auto& r : p.reasons) sm86 = sm86 || r.text.find("sm_86 SASS") != std::string::npos;
  EXPECT_TRUE(sm86);
}

TEST(EnvPlanTest, Mi250xOnRocm62GetsTheNewestRocm62Build) {
  // torch 2.8.0 ships rocm6.3/rocm6.4 builds only: the host's ROCm 6.2.1 is older. 2.7.1 has
  // rocm6.2.4, and ROCm 6.2 supports gfx90a (rocm.toml).
  Plan p = plan_for("mi250x-rocm62", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.7.1");
  EXPECT_EQ(p.variant, "rocm6.2.4");
  EXPECT_EQ(to_string(p.kind), "rocm");
  EXPECT_EQ(p.image, "rocm/dev-ubuntu-22.04:6.2.4");
  EXPECT_EQ(p.run_args.front(), "--device=/dev/kfd");
}

TEST(EnvPlanTest, CpuVmGetsCpuBuildOnOfficialPythonImage) {
  Plan p = plan_for("cpu-vm", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.8.0");
  EXPECT_EQ(p.variant, "cpu");
  EXPECT_EQ(p.python, "3.11");  // Debian 12's python3
  EXPECT_EQ(p.image, "python:3.11-slim-bookworm");
  EXPECT_EQ(p.image_python, "image");
}

TEST(EnvPlanTest, K80OnDriver470FallsBackToLastBuildWithSm37) {
  // Kepler: CUDA 12 dropped sm_37 and torch cu118 builds after 2.1 no longer carry it.
  // 2.1.2+cu118 has sm_37; CUDA 11.8 needs 520.61.05, but R470 >= 450.80.02 runs it under
  // CUDA 11 minor-version compatibility. The image is CUDA 11.4, what R470 runs natively.
  Plan p = plan_for("k80-driver470", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.1.2");
  EXPECT_EQ(p.variant, "cu118");
  EXPECT_EQ(p.compatibility, "minor");
  EXPECT_EQ(p.python, "3.8");
  EXPECT_EQ(p.image, "nvidia/cuda:11.4.3-cudnn8-runtime-ubuntu20.04");
  EXPECT_TRUE(p.alternative_image.empty()) << "no NGC image supports Kepler";
}

TEST(EnvPlanTest, K80CannotRunVllmAndNoDriverUpgradeHelps) {
  // vLLM needs compute capability >= 7.0 (frameworks.toml min_cc).
  Plan p = plan_for("k80-driver470", "vllm");
  EXPECT_FALSE(p.ok);
  bool min_cc = false;
  for (const auto& f : p.failures) min_cc = min_cc || f.find(">= 7.0") != std::string::npos;
  EXPECT_TRUE(min_cc) << ways(p);
  EXPECT_FALSE(has_way_out(p, "driver", "")) << ways(p);
}

TEST(EnvPlanTest, PascalOnOldDriverUsesCu118WithSm60Code) {
  // R460 is below CUDA 12's 525.60.13 minimum, so only cu118 builds run (minor-version
  // compatibility from 450.80.02). sm_60 SASS runs on the 6.1 GTX 1080 Ti.
  Plan p = plan_for("pascal-driver460", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.7.1");
  EXPECT_EQ(p.variant, "cu118");
  // python3 3.8 is outside 2.7.1's 3.9-3.13: the plan takes 3.12 and installs it with uv.
  EXPECT_EQ(p.python, "3.12");
  EXPECT_EQ(p.image_python, "uv");
  // The machine's driver is older than any CUDA 11.8 image expects: the container's own check
  // is switched off, as the wheel runs under minor-version compatibility.
  EXPECT_TRUE(p.image_disable_require);
  // With the machine's Python 3.8, the newest release is 2.4.1 (3.8-3.12).
  Plan py38 = plan_for("pascal-driver460", "pytorch", "3.8");
  ASSERT_TRUE(py38.ok) << ways(py38);
  EXPECT_EQ(py38.version, "2.4.1");
  EXPECT_EQ(py38.variant, "cu118");
}

TEST(EnvPlanTest, H100OnR515RunsCu118NativelyAndCu121WithForwardCompat) {
  // 515.65.01 < 520.61.05 (11.8 full) but >= 450.80.02: cu118 under minor compatibility,
  // with sm_90 SASS in torch 2.7.1+cu118. Every 2.8.0 build is CUDA 12.6+: below 525.60.13,
  // and R515 is not a forward-compatible branch for CUDA 12.2+.
  Plan p = plan_for("h100-driver515", "pytorch");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.7.1");
  EXPECT_EQ(p.variant, "cu118");
  EXPECT_EQ(p.compatibility, "minor");
  EXPECT_EQ(p.image, "nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu22.04");
  // Asking for a CUDA 12.1 build: data-center GPU on R515 >= 515.65, which the CUDA 12.0-12.1
  // forward-compatibility row lists (NGC 23.05 release notes): cuda-compat-12-1.
  Plan fwd = plan_for("h100-driver515", "torch==2.5.1", "", "cu121");
  ASSERT_TRUE(fwd.ok) << ways(fwd);
  EXPECT_EQ(fwd.compatibility, "forward");
  EXPECT_EQ(fwd.forward_package, "cuda-compat-12-1");
  EXPECT_EQ(fwd.image, "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04");
}

TEST(EnvPlanTest, H100OnR515HasNoTensorflowAndSaysWhichDriverFixesIt) {
  // TF 2.15+ are CUDA 12.x (below 525.60.13, R515 not forward-compatible for 12.2+); TF 2.14
  // is CUDA 11.8 but carries only compute_80 PTX for sm_90, and PTX JIT needs full
  // compatibility: driver >= 520.61.05.
  Plan p = plan_for("h100-driver515", "tensorflow");
  ASSERT_FALSE(p.ok);
  EXPECT_TRUE(has_way_out(p, "driver", ">= 520.61.05")) << ways(p);
  // Why forward compatibility does not help is a failure, not a way out.
  EXPECT_FALSE(has_way_out(p, "forward_compat", "")) << ways(p);
  EXPECT_TRUE(std::any_of(p.failures.begin(), p.failures.end(), [](const std::string& f) {
    return f.find("R515 is not among") != std::string::npos;
  })) << ways(p);
  EXPECT_TRUE(has_way_out(p, "cpu", "tensorflow 2.19.0+cpu")) << ways(p);
  bool jit = false;
  for (const auto& f : p.failures) jit = jit || f.find("PTX") != std::string::npos;
  EXPECT_TRUE(jit) << ways(p);
}

TEST(EnvPlanTest, ForwardCompatIsNotOfferedOnGeForce) {
  // cu121 on a GTX 1080 Ti with R460: no minor compatibility (< 525.60.13), and forward
  // compatibility is for data-center GPUs only.
  Plan p = plan_for("pascal-driver460", "torch==2.5.1", "", "cu121");
  ASSERT_FALSE(p.ok);
  EXPECT_TRUE(std::any_of(p.failures.begin(), p.failures.end(), [](const std::string& f) {
    return f.find("data-center GPUs only") != std::string::npos;
  })) << ways(p);
  EXPECT_TRUE(has_way_out(p, "driver", ">= 525.60.13")) << ways(p);
  EXPECT_TRUE(has_way_out(p, "variant", "torch 2.5.1+cu118")) << ways(p);
}

TEST(EnvPlanTest, PythonOutsideEveryReleaseSaysWhichPythonToPick) {
  Plan p = plan_for("dgx-a100", "torch==2.8", "3.8");
  ASSERT_FALSE(p.ok);
  EXPECT_TRUE(has_way_out(p, "python", "pick Python 3.12")) << ways(p);
  EXPECT_TRUE(has_way_out(p, "version", "")) << ways(p);
}

TEST(EnvPlanTest, OtherFrameworksOnTheDgx) {
  Plan tf = plan_for("dgx-a100", "tensorflow");
  ASSERT_TRUE(tf.ok) << ways(tf);
  EXPECT_EQ(tf.version, "2.19.0");  // CUDA 12.5, sm_80 SASS -> minor compatibility on R535
  EXPECT_EQ(tf.install[0], "pip install \"tensorflow[and-cuda]==2.19.0\"");
  Plan vllm = plan_for("dgx-a100", "vllm");
  ASSERT_TRUE(vllm.ok) << ways(vllm);
  EXPECT_EQ(vllm.version, "0.9.2");
  EXPECT_EQ(vllm.requires_torch, "2.7.0");
  EXPECT_EQ(vllm.variant, "cu128");  // the default build; cu118 would be full compatibility
  Plan jax = plan_for("dgx-a100", "jax");
  ASSERT_TRUE(jax.ok) << ways(jax);
  EXPECT_EQ(jax.variant, "cuda12");
  Plan ort = plan_for("dgx-a100", "onnxruntime");
  ASSERT_TRUE(ort.ok) << ways(ort);
  EXPECT_EQ(ort.version, "1.22.0");
  Plan paddle = plan_for("dgx-a100", "paddle");
  ASSERT_TRUE(paddle.ok) << ways(paddle);
  // Paddle 3.0.0's default build cu126 runs under minor compatibility on R535; the default
  // comes before its cu118 build, which would run at full compatibility.
  EXPECT_EQ(paddle.variant, "cu126");
  EXPECT_EQ(paddle.compatibility, "minor");
  Plan ov = plan_for("cpu-vm", "openvino");
  ASSERT_TRUE(ov.ok) << ways(ov);
  EXPECT_EQ(ov.version, "2025.2.0");
  EXPECT_EQ(ov.image, "openvino/ubuntu24_runtime:2025.2.0");
}

TEST(EnvPlanTest, AscendGetsTorchNpuForItsCann) {
  // torch_npu 2.6.0 needs CANN 8.2; the host has 8.1.RC1 -> 2.5.1 (CANN 8.1).
  Plan p = plan_for("ascend910", "torch_npu");
  ASSERT_TRUE(p.ok) << ways(p);
  EXPECT_EQ(p.version, "2.5.1");
  EXPECT_EQ(p.requires_torch, "2.5.1");
  ASSERT_EQ(p.install.size(), 2u);
  EXPECT_EQ(p.install[0],
            "pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu");
  Plan torch = plan_for("ascend910", "pytorch");
  EXPECT_FALSE(torch.ok);
  EXPECT_TRUE(has_way_out(torch, "framework", "torch_npu")) << ways(torch);
}

TEST(EnvPlanTest, VersionConstraintPicksTheNewestMatchingRelease) {
  Plan p = plan_for("dgx-a100", "torch==2.4");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.version, "2.4.1");
  // cu121 is 2.4.1's default build and needs 530.30.02: R535 runs it at full compatibility
  // (cu124 would need 550.54.14, or minor compatibility).
  EXPECT_EQ(p.variant, "cu121");
  EXPECT_EQ(p.compatibility, "full");
  // NGC 24.05 holds torch 2.4.0a0 on CUDA 12.4: the 2.4 series, and R535 >= 525.60.13.
  EXPECT_NE(p.alternative_image.find("nvcr.io/nvidia/pytorch:24.05-py3"), std::string::npos)
      << p.alternative_image;
}

TEST(EnvPlanTest, BadRequestsAreErrorsNotPlans) {
  Machine m = machine("dgx-a100");
  auto unknown = make_plan(kb(), m, {"pytorchh", "", ""});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message().find("pytorch"), std::string::npos);
  auto impossible = make_plan(kb(), m, {"torch>=2.5,<2.3", "", ""});
  ASSERT_FALSE(impossible);
  EXPECT_EQ(impossible.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(impossible.error().message().find("impossible"), std::string::npos);
  auto future = make_plan(kb(), m, {"torch==9.9", "", ""});
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(future.error().message().find("2.8.0"), std::string::npos);
  auto variant = make_plan(kb(), m, {"torch", "", "cu999"});
  ASSERT_FALSE(variant);
  EXPECT_NE(variant.error().message().find("cu128"), std::string::npos);
  auto python = make_plan(kb(), m, {"torch", "three", ""});
  ASSERT_FALSE(python);
  EXPECT_EQ(python.error().code(), ErrorCode::kInvalidArgument);
}

TEST(EnvPlanTest, CudaBuildWithoutAnNvidiaGpuOffersNoDriverUpgrade) {
  // A CUDA build forced on a machine with no NVIDIA GPU used to end in "upgrade the NVIDIA
  // driver to >= 525.60.13": no driver helps there; the CPU build does.
  Plan p = plan_for("cpu-vm", "pytorch", "", "cu128");
  ASSERT_FALSE(p.ok);
  EXPECT_FALSE(has_way_out(p, "driver", "")) << ways(p);
  EXPECT_TRUE(has_way_out(p, "variant", "torch 2.8.0+cpu")) << ways(p);
  CudaCompat none = check_cuda(kb(), machine("mi250x-rocm62"), Version::parse("12.1"), {"sm_80"});
  EXPECT_FALSE(none.arch_ok);
  EXPECT_TRUE(none.need_driver.is_empty());
  EXPECT_NE(none.arch_detail.find("no NVIDIA GPU"), std::string::npos) << none.arch_detail;
}

TEST(EnvPlanTest, PtxJitFailureNamesTheGpuThatNeedsIt) {
  // V100 + A100 on R470: tf_214 has sm_70 SASS for the V100 and only compute_80 PTX for the
  // A100; the failure says which GPU needs the JIT that minor compatibility cannot do.
  Machine m = machine("mixed-v100-a100-driver470");
  CudaCompat c = check_cuda(kb(), m, Version::parse("11.8"), {"sm_70", "compute_80"});
  EXPECT_TRUE(c.needs_jit);
  EXPECT_EQ(c.mode, "");
  EXPECT_NE(c.detail.find("A100 PCIe 40GB (8.0) needs PTX JIT"), std::string::npos) << c.detail;
  EXPECT_EQ(c.detail.find("V100"), std::string::npos) << c.detail;
}

TEST(EnvPlanTest, CheckCudaAppliesSassPtxAndDriverRules) {
  Machine m = machine("h100-driver515");
  // PTX only for Hopper under minor compatibility: refused, full compatibility needed.
  CudaCompat ptx = check_cuda(kb(), m, Version::parse("11.8"), {"sm_80", "compute_80"});
  EXPECT_TRUE(ptx.arch_ok);
  EXPECT_TRUE(ptx.needs_jit);
  EXPECT_EQ(ptx.mode, "");
  EXPECT_EQ(ptx.need_driver.text(), "520.61.05");
  // SASS from another major architecture does not run.
  CudaCompat none = check_cuda(kb(), m, Version::parse("11.8"), {"sm_80", "sm_86"});
  EXPECT_FALSE(none.arch_ok);
}

}  // namespace
}  // namespace aion::envcfg

namespace aion::envcfg {
namespace {

// On the current tables: a vendor whose stack has no published table is named as such.
TEST(EnvPlanCurrentTest, UnpublishedVendorStackIsSaidInThePlan) {
  const Knowledge& k = testing::current_kb();
  Machine m = testing::machine("cpu-vm", k);
  GpuGroup dcu;
  dcu.vendor = "hygon";
  dcu.model = "Hygon DCU K100_AI";
  dcu.count = 8;
  m.gpus.push_back(dcu);
  auto p = make_plan(k, m, {"pytorch", "", ""}, "2026-12-07");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(std::any_of(p->warnings.begin(), p->warnings.end(), [](const std::string& w) {
    return w.find("(unpublished): Hygon publishes no") != std::string::npos;
  }));
}

// The GPU's own floor comes first, and forward compatibility is not offered below it.
TEST(EnvPlanCurrentTest, DriverBelowTheGpuFloorIsTheFirstFailure) {
  const Knowledge& k = testing::current_kb();
  auto p = make_plan(k, testing::machine("l4-driver470", k), {"torch==2.4", "", ""}, "2026-12-07");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_FALSE(p->ok);
  ASSERT_FALSE(p->failures.empty());
  EXPECT_EQ(p->failures.front().rfind("driver 470.256.02 cannot drive NVIDIA L4", 0), 0u)
      << p->failures.front();
  for (const auto& w : p->ways_out) {
    EXPECT_NE(w.kind, "forward_compat");
    if (w.kind == "driver") {
      EXPECT_GE(w.driver, Version::parse("525.105.17")) << w.text;
    }
  }
}

// Tables older than six months are said in every plan; fresh ones are not.
TEST(EnvPlanCurrentTest, OldTablesAreSaidInThePlan) {
  const Knowledge& k = testing::current_kb();
  const Machine m = testing::machine("dgx-a100", k);
  auto fresh = make_plan(k, m, {"pytorch", "", ""}, k.as_of());
  auto old = make_plan(k, m, {"pytorch", "", ""}, "2099-01-01");
  ASSERT_TRUE(fresh && old);
  auto stale = [](const Plan& p) {
    return std::any_of(p.warnings.begin(), p.warnings.end(), [](const std::string& w) {
      return w.find("months before today") != std::string::npos;
    });
  };
  EXPECT_FALSE(stale(*fresh));
  EXPECT_TRUE(stale(*old));
}

}  // namespace
}  // namespace aion::envcfg
