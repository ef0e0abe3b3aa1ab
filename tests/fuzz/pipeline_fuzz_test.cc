// The dashboard's and the pipelines' parsers of another user's bytes, fuzzed: a pipeline file
// (POST /v1/pipelines carries any user's TOML into aiond) must parse or fail with an error
// naming a stage or field, never crash, and what validates must survive its JSON round trip
// (a restarted aiond re-reads the stored spec); a Cookie header and the CSRF rule must never
// let a request through that does not carry the session's token.
#include <gtest/gtest.h>

#include <string>

#include "aion/api/http.h"
#include "aion/api/sessions.h"
#include "aion/pipeline/pipeline_spec.h"
#include "mutator.h"

namespace aion::pipeline {
namespace {

using fuzz::Verdict;

TEST(PipelineFuzz, PipelineFilesParseOrFailCleanlyAndValidSpecsRoundTrip) {
  const std::vector<std::string> seeds = {
      "name = \"p\"\n[[stage]]\nname = \"a\"\ncommand = [\"true\"]\noutputs = [\"out/a\"]\n"
      "[[stage]]\nname = \"b\"\ncommand = [\"sh\", \"-c\", \"cat out/a\"]\ninputs = [\"out/a\"]\n"
      "depends_on = [\"a\"]\nretries = 2\nbackoff_s = 1\ntimeout_s = 60\n"
      "checkpoint_dir = \"ck\"\ngpus = 0\ncpus = 1\nmemory = \"1G\"\nenv = { X = \"1\" }\n",
      "name = \"s\"\n[[stage]]\nname = \"serve\"\nkind = \"service\"\ncommand = [\"srv\"]\n"
      "inputs = [\"dataset:mnist@2\"]\n[stage.service]\nport = 8480\nhealth_path = \"/h\"\n"
      "health_timeout_s = 5\nrestart = true\n"};
  const NodeCapacity cap{8, 64, 1ull << 40};
  auto target = [&](std::string_view in) -> Verdict {
    auto spec = parse_pipeline(in, "/work");
    if (!spec) return {false, ""};
    if (!validate(*spec, cap)) return {true, ""};
    auto back = spec_from_json(spec_to_json(*spec));
    if (!back) return {true, "a validated spec does not read back from its JSON"};
    if (spec_to_json(*back) != spec_to_json(*spec)) return {true, "the JSON round trip changed it"};
    return {true, ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds,
                  {"[[stage]]", "depends_on", "\"", "=", "[", "]", "{", "}", "\n",
                   "dataset:", "kind = \"service\"", "retries = 999", "gpus = -1", "..", "/"},
                  true);
  m.max_size = 4096;
  EXPECT_TRUE(fuzz::run_fuzz("pipeline_file", m, fuzz::fuzz_options(20000), target));
}

TEST(PipelineFuzz, NoCookieOrHeaderPassesTheCsrfRuleWithoutTheToken) {
  const std::string csrf(64, 'a');
  const std::vector<std::string> seeds = {"aion_session=" + std::string(64, 'b') + "; x=1",
                                          "a=1;aion_session = c ;;=;"};
  auto target = [&](std::string_view in) -> Verdict {
    auto v = api::cookie_value(in, api::kSessionCookie);
    if (v && v->size() > in.size()) return {true, "a cookie value longer than the header"};
    api::Request r;
    r.method = "POST";
    r.headers["host"] = "127.0.0.1:7070";
    r.headers["x-csrf-token"] = std::string(in.substr(0, 64));
    r.headers["origin"] = std::string(in);
    const bool passes = api::csrf_refusal(r, csrf).empty();
    if (passes && r.headers["x-csrf-token"] != csrf) return {true, "passed without the token"};
    return {v.has_value(), ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds, {";", "=", " ", "aion_session", "http://"},
                  true);
  m.max_size = 1024;
  EXPECT_TRUE(fuzz::run_fuzz("session_cookie", m, fuzz::fuzz_options(50000), target));
}

}  // namespace
}  // namespace aion::pipeline
