// Pipeline files: parsing (errors name stage and field) and validation of the stage graph.
#include "aion/pipeline/pipeline_spec.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace aion::pipeline {
namespace {

constexpr NodeCapacity kCap{.gpus = 8, .cpus = 64, .memory_bytes = 256ull << 30};

std::string parse_error(const std::string& text) {
  auto r = parse_pipeline(text, "/srv/p");
  if (r) return "(parsed)";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  return r.error().message();
}

std::string validate_error(const std::string& text, const std::filesystem::path& dir = "/srv/p") {
  auto r = parse_pipeline(text, dir);
  if (!r) return "parse: " + r.error().message();
  auto v = validate(*r, kCap);
  if (v) return "(valid)";
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);
  return v.error().message();
}

TEST(PipelineSpec, ParsesEveryField) {
  auto r = parse_pipeline(R"(
name = "digits"
[[stage]]
name = "prepare"
command = ["python3", "prep.py"]
env = { SEED = "1" }
inputs = ["data/raw", "dataset:mnist@3", "dataset:cifar"]
outputs = ["work/prepared.csv"]
gpus = 1
cpus = 4
memory = "16G"
retries = 2
backoff_s = 5
timeout_s = 3600
checkpoint_dir = "work/ckpt"
[[stage]]
name = "serve"
cwd = "svc"
command = ["./serve"]
depends_on = ["prepare"]
kind = "service"
gpu_share = 0.5
[stage.service]
port = 8080
health_path = "/ready"
health_timeout_s = 30
restart = false
)",
                          "/srv/p");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->stages.size(), 2u);
  const StageSpec& p = r->stages[0];
  EXPECT_EQ(p.cwd, "/srv/p");
  EXPECT_EQ(p.env.at("SEED"), "1");
  ASSERT_EQ(p.inputs.size(), 3u);
  EXPECT_EQ(p.inputs[0].path, "/srv/p/data/raw");
  EXPECT_EQ(p.inputs[1].dataset, "mnist");
  EXPECT_EQ(p.inputs[1].dataset_version, "3");
  EXPECT_EQ(p.inputs[2].dataset_version, "");
  EXPECT_EQ(p.outputs, std::vector<std::string>{"/srv/p/work/prepared.csv"});
  EXPECT_EQ(p.memory_bytes, 16ull << 30);
  EXPECT_EQ(p.checkpoint_dir, "/srv/p/work/ckpt");
  EXPECT_EQ(p.retries, 2);
  const StageSpec& s = r->stages[1];
  EXPECT_TRUE(s.service);
  EXPECT_EQ(s.cwd, "/srv/p/svc");
  EXPECT_EQ(s.svc.port, 8080);
  EXPECT_EQ(s.svc.health_path, "/ready");
  EXPECT_FALSE(s.svc.restart);
  EXPECT_DOUBLE_EQ(s.gpu_share, 0.5);

  auto back = spec_from_json(spec_to_json(*r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(spec_to_json(*back), spec_to_json(*r));
}

TEST(PipelineSpec, ParseErrorsNameStageAndField) {
  const std::string head = "name = \"p\"\n[[stage]]\nname = \"train\"\ncommand = [\"x\"]\n";
  EXPECT_EQ(parse_error(head + "retries = 500\n"),
            "stage 'train': field 'retries': must be 0..100");
  EXPECT_NE(parse_error(head + "gpu = 1\n").find("stage 'train': field 'gpu': unknown key"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "memory = \"lots\"\n").find("stage 'train': field 'memory'"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "kind = \"daemon\"\n").find("stage 'train': field 'kind'"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "inputs = \"a\"\n").find("stage 'train': field 'inputs'"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "gpu_share = 2.0\n").find("stage 'train': field 'gpu_share'"),
            std::string::npos);
  EXPECT_NE(parse_error("name = \"p\"\n[[stage]]\nname = \"t\"\ncommand = []\n")
                .find("stage 't': field 'command'"),
            std::string::npos);
  EXPECT_NE(parse_error(head + "kind = \"service\"\n[stage.service]\nport = 70000\n")
                .find("stage 'train': field 'service.port': must be 1..65535"),
            std::string::npos);
  EXPECT_NE(parse_error("name = \"p\"\n").find("field 'stage'"), std::string::npos);
  EXPECT_NE(parse_error("name = [\n").find("line"), std::string::npos);
}

TEST(PipelineSpec, ValidateRejectsACycle) {
  EXPECT_EQ(validate_error(R"(name = "p"
[[stage]]
name = "a"
command = ["x"]
depends_on = ["b"]
[[stage]]
name = "b"
command = ["x"]
depends_on = ["a"]
)"),
            "stage 'a': field 'depends_on': cycle a -> b -> a");
}

TEST(PipelineSpec, ValidateRejectsUnknownStageAndDuplicates) {
  EXPECT_EQ(validate_error("name = \"p\"\n[[stage]]\nname = \"a\"\ncommand = [\"x\"]\n"
                           "depends_on = [\"nope\"]\n"),
            "stage 'a': field 'depends_on': unknown stage 'nope'");
  EXPECT_EQ(validate_error("name = \"p\"\n[[stage]]\nname = \"a\"\ncommand = [\"x\"]\n"
                           "[[stage]]\nname = \"a\"\ncommand = [\"y\"]\n"),
            "stage 'a': field 'name': duplicate stage name");
  EXPECT_EQ(validate_error("name = \"p\"\n[[stage]]\nname = \"a\"\ncommand = [\"x\"]\n"
                           "outputs = [\"out\"]\n[[stage]]\nname = \"b\"\ncommand = [\"y\"]\n"
                           "outputs = [\"./out\"]\n"),
            "stage 'b': field 'outputs': '/srv/p/out' is also written by stage 'a'");
}

TEST(PipelineSpec, ValidateRejectsAMissingInput) {
  aion::testing::TempDir dir("pipeline-spec");
  dir.write("raw.txt", "x");
  const std::string text = R"(name = "p"
[[stage]]
name = "a"
command = ["x"]
inputs = ["raw.txt"]
outputs = ["work"]
[[stage]]
name = "b"
command = ["x"]
inputs = ["work/part.csv"]
)";
  std::string err = validate_error(text, dir.path());
  EXPECT_NE(err.find("stage 'b': field 'inputs': '" + (dir / "work/part.csv").string() +
                     "' does not exist and no stage it depends on writes it"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("stage 'a' writes it: add it to depends_on"), std::string::npos) << err;
  EXPECT_EQ(validate_error(text + "depends_on = [\"a\"]\n", dir.path()), "(valid)");
  EXPECT_NE(validate_error("name = \"p\"\n[[stage]]\nname = \"a\"\ncommand = [\"x\"]\n"
                           "inputs = [\"missing.txt\"]\n",
                           dir.path())
                .find("stage 'a': field 'inputs'"),
            std::string::npos);
}

TEST(PipelineSpec, ValidateRejectsWhatTheNodeCannotGive) {
  const std::string head = "name = \"p\"\n[[stage]]\nname = \"train\"\ncommand = [\"x\"]\n";
  EXPECT_EQ(validate_error(head + "gpus = 9\n"),
            "stage 'train': field 'gpus': asks for 9 GPUs, the node has 8");
  EXPECT_EQ(validate_error(head + "cpus = 65\n"),
            "stage 'train': field 'cpus': asks for 65 CPUs, the node has 64");
  EXPECT_NE(validate_error(head + "memory = \"1T\"\n").find("stage 'train': field 'memory'"),
            std::string::npos);
  EXPECT_EQ(validate_error(head + "kind = \"service\"\n"),
            "stage 'train': field 'service.port': a service stage needs a port");
}

TEST(PipelineSpec, ValidateOrdersStagesTopologically) {
  auto r = parse_pipeline(R"(name = "p"
[[stage]]
name = "eval"
command = ["x"]
depends_on = ["train", "prep"]
[[stage]]
name = "train"
command = ["x"]
depends_on = ["prep"]
[[stage]]
name = "prep"
command = ["x"]
[[stage]]
name = "lint"
command = ["x"]
)",
                          "/srv/p");
  ASSERT_TRUE(r);
  ASSERT_TRUE(validate(*r, kCap));
  std::vector<std::string> names;
  for (const auto& s : r->stages) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"prep", "train", "eval", "lint"}));
}

TEST(PipelineSpec, BackoffDoublesUpToTheCap) {
  EXPECT_EQ(backoff_seconds(10, 1), 10);
  EXPECT_EQ(backoff_seconds(10, 2), 20);
  EXPECT_EQ(backoff_seconds(10, 3), 40);
  EXPECT_EQ(backoff_seconds(10, 30), 300);
  EXPECT_EQ(backoff_seconds(0, 5), 0);
}

}  // namespace
}  // namespace aion::pipeline
