#include "aion/envcfg/emit.h"

#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "test_util.h"

namespace aion::envcfg {
namespace {

using testing::kb;
using testing::machine;

Plan emit_plan(const std::string& m, const std::string& req, const std::string& variant = "") {
  auto p = make_plan(kb(), machine(m), {req, "", variant});
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? *p : Plan{};
}

std::string only(const Plan& p, EmitFormat f) {
  auto files = emit(p, f, kb());
  EXPECT_TRUE(files) << (files ? "" : files.error().message());
  if (!files || files->empty()) return "";
  return files->front().content;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(EnvEmitTest, DockerfileStartsFromThePlannedImageAndPinsTheWheelIndex) {
  Plan p = emit_plan("dgx-a100", "pytorch");
  std::string d = only(p, EmitFormat::kDockerfile);
  EXPECT_TRUE(has_line(d, "FROM " + p.image)) << d;
  EXPECT_TRUE(has_line(d,
                       "RUN pip install torch==2.8.0 torchvision==0.23.0 torchaudio==2.8.0 "
                       "--index-url https://download.pytorch.org/whl/cu128"))
      << d;
  EXPECT_NE(d.find("docker run --rm -it --gpus all"), std::string::npos);
  EXPECT_NE(d.find("python3 -m venv /opt/venv"), std::string::npos);
  EXPECT_EQ(d.find("cuda-compat"), std::string::npos);
}

TEST(EnvEmitTest, ForwardCompatPlanInstallsTheCompatPackage) {
  Plan p = emit_plan("h100-driver515", "torch==2.5.1", "cu121");
  std::string d = only(p, EmitFormat::kDockerfile);
  EXPECT_NE(d.find("apt-get install -y --no-install-recommends cuda-compat-12-1"),
            std::string::npos)
      << d;
  EXPECT_TRUE(has_line(d, "ENV LD_LIBRARY_PATH=/usr/local/cuda/compat:${LD_LIBRARY_PATH}"));
}

TEST(EnvEmitTest, OldDriverPlanSwitchesOffTheImageDriverCheckAndUsesUv) {
  Plan p = emit_plan("pascal-driver460", "pytorch");
  std::string d = only(p, EmitFormat::kDockerfile);
  EXPECT_TRUE(has_line(d, "ENV NVIDIA_DISABLE_REQUIRE=1")) << d;
  EXPECT_NE(d.find("COPY --from=" + kb().uv_image + " /uv /usr/local/bin/uv"), std::string::npos);
  EXPECT_TRUE(has_line(d, "RUN uv venv --seed --python 3.12 /opt/venv")) << d;
}

TEST(EnvEmitTest, RocmDockerfileDocumentsTheDeviceMounts) {
  Plan p = emit_plan("mi250x-rocm62", "pytorch");
  std::string d = only(p, EmitFormat::kDockerfile);
  EXPECT_TRUE(has_line(d, "FROM rocm/dev-ubuntu-22.04:6.2.4")) << d;
  EXPECT_NE(d.find("--device=/dev/kfd --device=/dev/dri"), std::string::npos);
  EXPECT_NE(d.find("--index-url https://download.pytorch.org/whl/rocm6.2.4"), std::string::npos);
}

TEST(EnvEmitTest, RequirementsAndCondaCarryIndexAndPins) {
  Plan p = emit_plan("dgx-a100", "pytorch");
  std::string r = only(p, EmitFormat::kRequirements);
  EXPECT_TRUE(has_line(r, "--index-url https://download.pytorch.org/whl/cu128")) << r;
  EXPECT_TRUE(has_line(r, "torch==2.8.0"));
  EXPECT_TRUE(has_line(r, "torchvision==0.23.0"));
  std::string c = only(p, EmitFormat::kConda);
  EXPECT_TRUE(has_line(c, "  - python=3.10")) << c;
  EXPECT_TRUE(has_line(c, "      - --index-url https://download.pytorch.org/whl/cu128")) << c;
  EXPECT_TRUE(has_line(c, "      - torch==2.8.0"));
}

TEST(EnvEmitTest, DevcontainerReferencesDockerfileAndGpus) {
  Plan p = emit_plan("dgx-a100", "pytorch");
  auto files = emit(p, EmitFormat::kDevcontainer, kb());
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[1].name, "Dockerfile");
  Json j = Json::parse((*files)[0].content);
  EXPECT_EQ(j["build"]["dockerfile"], "Dockerfile");
  EXPECT_EQ(j["runArgs"], Json({"--gpus", "all"}));
}

TEST(EnvEmitTest, TwoIndexesBecomeExtraIndexesInRequirements) {
  // torch_npu: torch from the CPU index, torch-npu from PyPI.
  Plan p = emit_plan("ascend910", "torch_npu");
  PipSpec s = pip_spec(p);
  EXPECT_TRUE(s.index_url.empty());
  ASSERT_EQ(s.extra_index_urls.size(), 1u);
  EXPECT_EQ(s.extra_index_urls[0], "https://download.pytorch.org/whl/cpu");
  EXPECT_EQ(s.requirements, (std::vector<std::string>{"torch==2.5.1", "torch-npu==2.5.1"}));
}

TEST(EnvEmitTest, NothingToWriteForAFailedPlanOrUnknownFormat) {
  Plan p = emit_plan("h100-driver515", "tensorflow");
  ASSERT_FALSE(p.ok);
  auto files = emit(p, EmitFormat::kDockerfile, kb());
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_emit_format("helm"));
}

}  // namespace
}  // namespace aion::envcfg
