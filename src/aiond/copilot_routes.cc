#include "copilot_routes.h"

#include <memory>
#include <mutex>

#include "aion/api/client.h"
#include "aion/api/json_reply.h"
#include "aion/copilot/daemon_tools.h"
#include "aion/copilot/http_post.h"
#include "aion/copilot/llm.h"
#include "aion/copilot/node_tools.h"
#include "aion/core/paths.h"
#include "aion/hw/inventory_json.h"
#include "aion/privacy/gate.h"

namespace aiond {

using namespace aion;  // the program speaks both modules' vocabulary
using namespace aion::api;
namespace {

// A question longer than this is not one.
constexpr std::size_t kMaxQuestionBytes = 4096;

// What every question shares, loaded once at start: the router, the catalogs and tables, the
// model endpoint and the redactor. Immutable after construction; thread-safe to read.
struct Shared {
  std::optional<copilot::Router> router;
  std::string router_error;
  copilot::NodeKnowledge knowledge;
  copilot::ModelEndpoint endpoint;
  std::optional<privacy::Redactor> redactor;
  CopilotRouteOptions options;
};

std::shared_ptr<const Shared> load_shared(CopilotRouteOptions options) {
  auto s = std::make_shared<Shared>();
  if (auto r = copilot::Router::load(data_dir() / "copilot" / "intents.toml"))
    s->router = std::move(*r);
  else
    s->router_error = r.error().message();
  s->knowledge = copilot::load_node_knowledge(options.config, options.state_dir, options.host);
  if (auto ep = copilot::model_endpoint(options.config); ep && !ep->base_url.empty()) {
    auto policy = privacy::policy_from(options.config);
    if (policy) {
      if (auto red = privacy::Redactor::load(*policy, options.host)) {
        s->endpoint = std::move(*ep);
        s->redactor = std::move(*red);
      }
    }
  }
  s->options = std::move(options);
  return s;
}

// The machine's facts for one question: the daemon's newest hardware snapshot with the
// knowledge loaded at start (shared, not copied).
std::shared_ptr<copilot::NodeFacts> facts_for(const Shared& s, HwWatch* hw) {
  hw::Inventory inventory;
  if (hw) {
    if (auto text = hw->latest_json()) {
      const Json j = Json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("inventory")) {
        if (auto inv = hw::inventory_from_json(j["inventory"].dump())) inventory = std::move(*inv);
      }
    }
  }
  return copilot::node_facts(std::move(inventory), s.options.host, s.knowledge);
}

// The daemon's own GET routes, dispatched as `caller`.
copilot::DaemonGet dispatch_as(const Router& router, Identity caller) {
  return [&router, caller](const std::string& path,
                           const std::map<std::string, std::string>& query) -> Result<Json> {
    Request r;
    r.method = "GET";
    r.path = path;
    for (const auto& [k, v] : query) r.query.emplace(k, v);
    r.caller = caller;
    Response res = router.dispatch(r);
    if (res.status < 200 || res.status >= 300)
      return std::unexpected(HttpResponse{res.status, res.content_type, res.body}.error());
    Json j = Json::parse(res.body, nullptr, false);
    if (j.is_discarded()) return fail(ErrorCode::kInternal, path + " answered invalid JSON");
    return j;
  };
}

// The answer as server-sent events: one "tool" event per call, then "answer", then "done".
class AnswerStream final : public SseSource {
 public:
  explicit AnswerStream(const copilot::Answer& a) {
    for (const auto& c : a.calls) {
      frames_ += "event: tool\ndata: " +
                 Json{{"tool", c.tool}, {"source", c.source}, {"error", c.error}}.dump() + "\n\n";
    }
    frames_ += "event: answer\ndata: " +
               copilot::answer_json(a).dump(-1, ' ', false, Json::error_handler_t::replace) +
               "\n\nevent: done\ndata: {}\n\n";
  }
  bool poll(std::string& out) override {
    out += std::move(frames_);
    frames_.clear();
    return false;
  }

 private:
  std::string frames_;
};

Response ask(const Router& router, HwWatch* hw, const Shared& s, Request& req) {
  if (!s.router)
    return Response::error(503, "unavailable", "the copilot's intents: " + s.router_error);
  const Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("question") || !body["question"].is_string())
    return Response::error(400, "invalid_argument", "expected {\"question\": \"...\"}");
  const std::string question = body["question"];
  if (question.empty() || question.size() > kMaxQuestionBytes)
    return Response::error(400, "invalid_argument", "the question must be 1 to 4096 bytes");
  copilot::Toolbox tools;
  copilot::add_node_tools(tools, facts_for(s, hw));
  copilot::add_daemon_tools(tools, dispatch_as(router, req.caller));
  const std::string caller = "copilot api (" + req.caller.name + ")";
  const std::filesystem::path log = privacy::audit_log_path(s.options.state_dir);
  copilot::Answer a;
  if (s.redactor && !body.value("no_model", false)) {
    copilot::AskOptions opt{&*s.redactor, log, false, {}};
    a = copilot::ask_model(question, s.endpoint, copilot::http_transport({s.endpoint.ca_file}),
                           tools, *s.router, opt)
            .answer;
  } else {
    a = body.value("docs_only", false) ? s.router->answer_as("howto", question, tools)
                                       : s.router->answer(question, tools);
  }
  if (auto st = copilot::audit_question(log, caller, question, a); !st)
    return Response::from_error(st.error());
  const auto accept = req.headers.find("accept");
  const bool stream = req.query_or("stream", "") == "1" ||
                      (accept != req.headers.end() && accept->second == "text/event-stream");
  if (!stream) return json_reply(200, copilot::answer_json(a));
  Response r;
  r.content_type = "text/event-stream";
  r.sse = std::make_shared<AnswerStream>(a);
  return r;
}

}  // namespace

void add_copilot_routes(Router& router, HwWatch* hw, CopilotRouteOptions options) {
  std::shared_ptr<const Shared> shared = load_shared(std::move(options));
  router.add({"POST", "/v1/ask", Role::kViewer,
              "Answer a question about this node from its facts, with sources (?stream=1: SSE)",
              [&router, hw, shared](Request& req) { return ask(router, hw, *shared, req); }});
}

}  // namespace aiond
