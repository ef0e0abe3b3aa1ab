// Fuzzes job submissions (the JSON body of POST /v1/jobs, from any user of the socket) into
// sched::spec_from_json. Seeds: the specs the CLI and the tests submit. A spec that is
// accepted must hold its fields in their documented ranges and survive to_json and back.
#include <gtest/gtest.h>

#include "aion/core/json.h"
#include "aion/sched/job.h"
#include "aion/sched/job_json.h"
#include "mutator.h"

namespace aion::sched {
namespace {

using fuzz::Verdict;

const std::vector<std::string> kSeeds = {
    R"({"command":["python3","train.py","--epochs","3"],"cwd":"/home/mira/llama","env":{"NCCL_DEBUG":"INFO","PATH":"/usr/bin"},"resources":{"gpus":2,"cpus":16,"memory_bytes":"64G"},"priority":10,"queue":"default","requeue":true,"name":"llama-ft"})",
    R"({"command":["x"],"resources":{"memory_bytes":"2G","gpu_fraction":0.25,"gpu_memory_bytes":"10G","gpu_model":"A100"}})",
    R"({"command":["sleep","600"],"priority":-1000,"uid":1000,"gid":1000,"user":"tom"})",
    R"({"command":["/bin/true"],"resources":{"gpus":0,"cpus":1,"memory_bytes":1073741824}})",
    R"({"name":"eval-sweep","command":["bash","-c","echo hi"],"queue":"batch"})",
    R"({"command":["nvidia-smi"],"resources":{"gpu_fraction":0.5,"gpu_memory_bytes":"1.5T"}})"};

const std::vector<std::string> kTokens = {"{",
                                          "}",
                                          "[",
                                          "]",
                                          ",",
                                          ":",
                                          "\"",
                                          "null",
                                          "true",
                                          "false",
                                          "-0",
                                          "1e400",
                                          "0.9999999999999999",
                                          "4096",
                                          "4097",
                                          "-1001",
                                          "4294967295",
                                          "4294967294",
                                          "\\u0000",
                                          "\\ud800",
                                          "\"command\"",
                                          "\"env\"",
                                          "\"resources\"",
                                          "\"gpus\"",
                                          "\"cpus\"",
                                          "\"priority\"",
                                          "\"uid\"",
                                          "\"gid\"",
                                          "\"cwd\"",
                                          "\"memory_bytes\"",
                                          "\"gpu_fraction\"",
                                          "\"gpu_memory_bytes\"",
                                          "\"16E\"",
                                          "\"1.5T\"",
                                          "\"0\"",
                                          "\"-1G\"",
                                          "\"99999999999999999999K\"",
                                          "\"1e3G\"",
                                          "=",
                                          "/",
                                          "\xff",
                                          "18446744073709551615",
                                          "18446744073709551616"};

std::string check(const JobSpec& s) {
  if (s.command.empty() || s.command[0].empty()) return "accepted an empty command";
  if (s.priority < -1000 || s.priority > 1000) return "priority out of range";
  if (s.resources.gpus < 0 || s.resources.gpus > 4096) return "gpus out of range";
  if (s.resources.cpus < 1) return "cpus below 1";
  if (!(s.resources.gpu_fraction >= 0 && s.resources.gpu_fraction < 1))
    return "gpu_fraction out of [0, 1)";
  if (!s.cwd.empty() && s.cwd.front() != '/') return "relative cwd accepted";
  if (s.name.size() > 128) return "name over 128 characters";
  if (s.queue.empty()) return "empty queue";
  for (const auto& [k, v] : s.env)
    if (k.empty() || k.find('=') != std::string::npos) return "env name '" + k + "' accepted";
  // to_json and back gives the same spec.
  auto again = spec_from_json(to_json(s));
  if (!again) return "to_json of an accepted spec is refused: " + again.error().message();
  if (again->command != s.command || again->env != s.env || again->cwd != s.cwd ||
      again->priority != s.priority || again->resources.gpus != s.resources.gpus ||
      again->resources.memory_bytes != s.resources.memory_bytes ||
      again->resources.gpu_memory_bytes != s.resources.gpu_memory_bytes || again->uid != s.uid ||
      again->gid != s.gid || again->name != s.name)
    return "a spec changes through to_json and back";
  return {};
}

TEST(JobSpecFuzz, SubmittedSpecs) {
  auto target = [](std::string_view in) -> Verdict {
    Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return {};
    auto s = spec_from_json(j);
    if (!s) {
      if (s.error().code() != ErrorCode::kInvalidArgument)
        return {false, "error code " + std::string(to_string(s.error().code())) + ": " +
                           s.error().message()};
      return {};
    }
    return {true, check(*s)};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, kSeeds, kTokens, true);
  m.max_size = 4 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("job_spec", m, fuzz::fuzz_options(150000), target));
}

}  // namespace
}  // namespace aion::sched
