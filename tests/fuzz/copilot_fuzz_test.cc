// Fuzzes what a language model endpoint sends back to the copilot: a chat completion as one
// JSON body, or streamed as server-sent events, handed over in pieces as the transport does.
// The endpoint is someone else's server (possibly a rented one): whatever it answers, the
// copilot must not crash, must ask at most max_tool_rounds + 1 times, and must either show the
// model's answer or fall back to the router saying why. Seeds: real completion shapes (an
// answer, a tool call, a streamed answer and a streamed tool call).
#include <gtest/gtest.h>

#include "aion/copilot/llm.h"
#include "aion/core/json.h"
#include "mutator.h"

namespace aion::copilot {
namespace {

using fuzz::Verdict;

const std::vector<std::string> kSeeds = {
    R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"<HOST_1> has 8 GPUs."},"finish_reason":"stop"}]})",
    R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"hardware","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"<HO\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ST_1> ok\"}}]}\n\ndata: [DONE]\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
    "\"function\":{\"name\":\"hardware\",\"arguments\":\"{\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"}\"}}]}}]}\n\ndata: [DONE]\n\n"};

const std::vector<std::string> kTokens = {"{",
                                          "}",
                                          "[",
                                          "]",
                                          "\"",
                                          ":",
                                          ",",
                                          "null",
                                          "\n\n",
                                          "data: ",
                                          "[DONE]",
                                          "\"choices\"",
                                          "\"message\"",
                                          "\"delta\"",
                                          "\"content\"",
                                          "\"tool_calls\"",
                                          "\"function\"",
                                          "\"arguments\"",
                                          "\"index\"",
                                          "\"name\"",
                                          "<HOST_1>",
                                          "<"};

TEST(CopilotFuzz, ModelRepliesNeverCrashAndAlwaysAnswer) {
  privacy::Policy policy;
  policy.users_from_passwd = false;
  auto redactor = privacy::Redactor::load(policy, HostFs("/"));
  ASSERT_TRUE(redactor) << redactor.error().message();
  auto router = Router::load(std::filesystem::path(AION_SOURCE_DIR) / "data/copilot/intents.toml");
  ASSERT_TRUE(router) << router.error().message();
  Toolbox tools;
  tools.add(
      {"hardware", "The machine's hardware.", {{"type", "object"}, {"properties", Json::object()}}},
      [](const Json&) -> Result<ToolOutput> {
        return ToolOutput{{{"hostname", "gpu07.corp.example.com"}, {"accelerators", Json::array()}},
                          "aion hw (fuzz)"};
      });
  ModelEndpoint ep;
  ep.base_url = "http://model.invalid/v1";
  ep.model = "m";
  ep.retries = 0;
  ep.max_tool_rounds = 2;
  std::string reply;
  int requests = 0;
  const HttpPost post = [&](const std::string&, const std::string&, const std::string&,
                            std::chrono::seconds, const BodyFn& on_body) -> Result<HttpReply> {
    ++requests;
    // Handed over in three pieces, as a socket delivers it.
    if (on_body) {
      const std::size_t a = reply.size() / 3, b = 2 * reply.size() / 3;
      on_body(std::string_view(reply).substr(0, a));
      on_body(std::string_view(reply).substr(a, b - a));
      on_body(std::string_view(reply).substr(b));
    }
    return HttpReply{200, reply};
  };
  std::string shown;
  AskOptions opt{&*redactor, {}, false, [&](std::string_view t) { shown += t; }};
  auto target = [&](std::string_view input) -> Verdict {
    reply = std::string(input);
    requests = 0;
    shown.clear();
    const ModelRun run =
        ask_model("how many GPUs does this node have?", ep, post, tools, *router, opt);
    if (requests > ep.max_tool_rounds + 1) return {true, "asked the model more often than allowed"};
    if (run.used_model && run.answer.text.empty()) return {true, "a model answer with no text"};
    if (!run.used_model && run.fallback.empty()) return {true, "fell back without saying why"};
    if (run.answer.text.empty()) return {true, "no answer at all"};
    return {run.used_model, ""};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, kSeeds, kTokens, true);
  m.max_size = 4 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("copilot_model_reply", m, fuzz::fuzz_options(20000), target));
}

}  // namespace
}  // namespace aion::copilot
