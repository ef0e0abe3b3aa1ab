#include "copilot_routes.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "aion/api/client.h"
#include "aion/api/json_reply.h"
#include "aion/copilot/daemon_tools.h"
#include "aion/copilot/docs.h"
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
  // No model rather than one the privacy gate cannot guard: said in the log, answered by the
  // router meanwhile.
  auto ep = copilot::model_endpoint(options.config);
  if (!ep) {
    spdlog::warn("event=copilot_model_unused error=\"{}\"", ep.error().message());
  } else if (!ep->base_url.empty()) {
    auto policy = privacy::policy_from(options.config);
    auto red = policy ? privacy::Redactor::load(*policy, options.host)
                      : Result<privacy::Redactor>(std::unexpected(policy.error()));
    if (!red) {
      spdlog::warn(
          "event=copilot_model_unused endpoint={} error=\"the privacy policy cannot be "
          "loaded: {}\"",
          ep->base_url, red.error().message());
    } else {
      s->endpoint = std::move(*ep);
      s->redactor = std::move(*red);
    }
  }
  s->options = std::move(options);
  return s;
}

// The document index `aion ask --reindex` keeps under the state directory, opened read-only
// on a question's first document search (a DocIndex is one thread's).
std::function<Result<copilot::DocIndex*>(bool)> read_docs(const std::filesystem::path& state_dir) {
  auto index = std::make_shared<std::unique_ptr<copilot::DocIndex>>();
  return [index, state_dir](bool) -> Result<copilot::DocIndex*> {
    if (*index) return index->get();
    auto opened = copilot::DocIndex::open_read_only(state_dir / "docs-index");
    if (!opened) {
      if (opened.error().code() != ErrorCode::kNotFound) return std::unexpected(opened.error());
      return fail(ErrorCode::kNotFound,
                  "aiond has no document index yet: `sudo aion ask --reindex \"...\"` builds it "
                  "in the daemon's state directory");
    }
    *index = std::make_unique<copilot::DocIndex>(std::move(*opened));
    return index->get();
  };
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
  auto facts = copilot::node_facts(std::move(inventory), s.options.host, s.knowledge);
  facts->docs = read_docs(s.options.state_dir);
  return facts;
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

// The answer's frames: one "tool" event per call, then "answer" (with "fallback" when the
// model was not used after all), then "done".
std::string final_frames(const copilot::Answer& a, const std::string& fallback) {
  std::string frames;
  for (const auto& c : a.calls) {
    frames += "event: tool\ndata: " +
              Json{{"tool", c.tool}, {"source", c.source}, {"error", c.error}}.dump(
                  -1, ' ', false, Json::error_handler_t::replace) +
              "\n\n";
  }
  Json j = copilot::answer_json(a);
  if (!fallback.empty()) j["fallback"] = fallback;
  frames += "event: answer\ndata: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) +
            "\n\nevent: done\ndata: {}\n\n";
  return frames;
}

// Frames written by one thread and sent by the server's I/O thread as they come.
struct Feed {
  std::mutex mu;       // guards frames, done
  std::string frames;  // guarded by mu
  bool done = false;   // guarded by mu
  void add(std::string f, bool last = false) {
    std::lock_guard lock(mu);
    frames += f;
    done = done || last;
  }
};

class FeedStream final : public SseSource {
 public:
  explicit FeedStream(std::shared_ptr<Feed> feed) : feed_(std::move(feed)) {}
  bool poll(std::string& out) override {
    std::lock_guard lock(feed_->mu);
    out += feed_->frames;
    feed_->frames.clear();
    return !feed_->done;
  }

 private:
  std::shared_ptr<Feed> feed_;
};

Response event_stream(std::shared_ptr<Feed> feed) {
  Response r;
  r.content_type = "text/event-stream";
  r.sse = std::make_shared<FeedStream>(std::move(feed));
  return r;
}

}  // namespace

// What the handler and the streaming threads share. Threads are reaped by the next streamed
// question and joined by stop().
struct CopilotService::State {
  Router& router;
  HwWatch* hw;
  std::shared_ptr<const Shared> shared;
  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards workers
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::vector<Worker> workers;  // guarded by mu

  // Joins the threads that are done; the number still running.
  int reap() {
    std::erase_if(workers, [](Worker& w) {
      if (!w.finished->load()) return false;
      w.thread.join();
      return true;
    });
    return static_cast<int>(workers.size());
  }

  Response ask(Request& req);
  Response stream_model_answer(std::string question, copilot::Toolbox tools, std::string caller);
};

namespace {

struct Asked {
  std::string question;
  bool no_model = false, docs_only = false, stream = false;
};

Result<Asked> parse_ask(const Request& req) {
  const Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("question") || !body["question"].is_string())
    return fail(ErrorCode::kInvalidArgument, "expected {\"question\": \"...\"}");
  Asked a;
  a.question = body["question"];
  if (a.question.empty() || a.question.size() > kMaxQuestionBytes)
    return fail(ErrorCode::kInvalidArgument, "the question must be 1 to 4096 bytes");
  for (auto [key, flag] : {std::pair{"no_model", &a.no_model}, {"docs_only", &a.docs_only}}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_boolean())
      return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be true or false");
    *flag = body[key].get<bool>();
  }
  const auto accept = req.headers.find("accept");
  a.stream = req.query_or("stream", "") == "1" ||
             (accept != req.headers.end() && accept->second == "text/event-stream");
  return a;
}

}  // namespace

Response CopilotService::State::ask(Request& req) {
  const Shared& s = *shared;
  if (!s.router)
    return Response::error(503, "unavailable", "the copilot's intents: " + s.router_error);
  auto asked = parse_ask(req);
  if (!asked) return Response::error(400, "invalid_argument", asked.error().message());
  copilot::Toolbox tools;
  copilot::add_node_tools(tools, facts_for(s, hw));
  copilot::add_daemon_tools(tools, dispatch_as(router, req.caller));
  std::string caller = "copilot api (" + req.caller.name + ")";
  const bool model = s.redactor && !asked->no_model && !asked->docs_only;
  if (model && asked->stream)
    return stream_model_answer(std::move(asked->question), std::move(tools), std::move(caller));
  const std::filesystem::path log = privacy::audit_log_path(s.options.state_dir);
  copilot::Answer a;
  std::string fallback;
  if (model) {
    copilot::AskOptions opt{&*s.redactor, log, false, {}};
    auto run = copilot::ask_model(asked->question, s.endpoint,
                                  copilot::http_transport({s.endpoint.ca_file, &stopping}), tools,
                                  *s.router, opt);
    a = std::move(run.answer);
    fallback = std::move(run.fallback);
  } else {
    a = asked->docs_only ? s.router->answer_as("howto", asked->question, tools)
                         : s.router->answer(asked->question, tools);
  }
  if (auto st = copilot::audit_question(log, caller, asked->question, a); !st)
    return Response::from_error(st.error());
  if (!asked->stream) {
    Json j = copilot::answer_json(a);
    if (!fallback.empty()) j["fallback"] = fallback;
    return json_reply(200, j);
  }
  auto feed = std::make_shared<Feed>();
  feed->add(final_frames(a, fallback), true);
  return event_stream(std::move(feed));
}

// The model's answer on a thread of its own: "token" events as the model writes (placeholders
// restored), then the frames every answer ends with.
Response CopilotService::State::stream_model_answer(std::string question, copilot::Toolbox tools,
                                                    std::string caller) {
  std::lock_guard lock(mu);
  if (stopping) return Response::error(503, "unavailable", "aiond is stopping");
  if (reap() >= kMaxLiveAnswers) {
    return Response::error(503, "unavailable",
                           "the copilot is streaming " + std::to_string(kMaxLiveAnswers) +
                               " answers already; retry shortly, or ask without ?stream=1");
  }
  auto feed = std::make_shared<Feed>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  workers.push_back(
      {std::thread([this, feed, finished, question = std::move(question), tools = std::move(tools),
                    caller = std::move(caller), keep = shared] {
         const std::filesystem::path log = privacy::audit_log_path(keep->options.state_dir);
         copilot::AskOptions opt{
             &*keep->redactor, log, false, [&feed](std::string_view text) {
               feed->add("event: token\ndata: " +
                         Json{{"text", text}}.dump(-1, ' ', false, Json::error_handler_t::replace) +
                         "\n\n");
             }};
         auto run = copilot::ask_model(question, keep->endpoint,
                                       copilot::http_transport({keep->endpoint.ca_file, &stopping}),
                                       tools, *keep->router, opt);
         if (auto st = copilot::audit_question(log, caller, question, run.answer); !st) {
           spdlog::warn("event=copilot_audit_failed error=\"{}\"", st.error().message());
         }
         feed->add(final_frames(run.answer, run.fallback), true);
         finished->store(true);
       }),
       finished});
  return event_stream(std::move(feed));
}

CopilotService::CopilotService(Router& router, HwWatch* hw, CopilotRouteOptions options)
    : state_(std::make_shared<State>(router, hw, load_shared(std::move(options)))) {
  router.add({"POST", "/v1/ask", Role::kViewer,
              "Answer a question about this node from its facts, with sources (?stream=1: SSE)",
              [state = state_.get()](Request& req) { return state->ask(req); }});
}

CopilotService::~CopilotService() {
  stop();
}

void CopilotService::stop() {
  state_->stopping = true;
  std::vector<State::Worker> workers;
  {
    std::lock_guard lock(state_->mu);
    workers.swap(state_->workers);
  }
  for (auto& w : workers) w.thread.join();
}

}  // namespace aiond
