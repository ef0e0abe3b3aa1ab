#include "aion/copilot/llm.h"

#include <map>
#include <thread>

#include "aion/core/json.h"
#include "aion/core/strings.h"
#include "aion/privacy/gate.h"

namespace aion::copilot {
namespace {

// A key file larger than this is not a key.
constexpr std::size_t kMaxKeyBytes = 4096;
// Tool calls one model turn may make; further ones are answered with an error, unrun.
constexpr std::size_t kMaxCallsPerTurn = 8;
// A model answer or error body longer than this is cut in messages.
constexpr std::size_t kMaxShownBody = 200;

constexpr const char* kSystemPrompt =
    "You are the operator's assistant on one Linux GPU server managed by aion. Answer questions "
    "about this node only from facts returned by the tools; call them as needed. If the tools "
    "do not give the answer, say you cannot answer; never guess numbers, versions or states. "
    "Suggest commands for actions but never claim to have run them. Words of the form <HOST_n>, "
    "<USER_n>, <EMAIL_n> or <SECRET_n> (n a number) stand for private values: repeat them as "
    "they are, never guess what they hide. Be brief and name the facts you used.";

std::string cut(std::string_view s) {
  return s.size() <= kMaxShownBody ? std::string(s)
                                   : std::string(s.substr(0, kMaxShownBody)) + "...";
}

// The request body as it leaves: its parts were redacted already; the whole body passes the
// gate once more so that nothing reaches the wire unchecked. Should that second pass break the
// JSON (a value spanning an escape), nothing is sent.
Result<std::string> gated_body(privacy::Gate& gate, const Json& body) {
  const std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string passed = gate.pass(text);
  if (passed != text && Json::parse(passed, nullptr, false).is_discarded()) {
    return fail(ErrorCode::kConflict,
                "a value in the request could not be redacted without breaking it; nothing "
                "was sent");
  }
  return passed;
}

Result<Json> completion_message(const HttpReply& reply);

// A streamed chat completion put together from its server-sent events ("data: {chunk}"
// frames, then "data: [DONE]"): the text deltas, shown as they come with placeholders
// restored, and the tool calls, whose names and argument fragments arrive by index.
class StreamAssembler {
 public:
  StreamAssembler(const privacy::Gate& gate, const std::function<void(std::string_view)>& on_text)
      : gate_(gate), on_text_(on_text) {}

  void feed(std::string_view bytes) {
    for (char c : bytes)
      if (c != '\r') pending_ += c;
    for (std::size_t end; (end = pending_.find("\n\n")) != std::string::npos;) {
      std::string data;
      for (std::string_view line : split_lines(std::string_view(pending_).substr(0, end))) {
        if (line.rfind("data:", 0) != 0) continue;
        line.remove_prefix(5);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        data += line;
      }
      pending_.erase(0, end + 2);
      if (!data.empty()) event(data);
    }
  }
  bool saw_events() const { return events_; }
  // Shows what was held back; true when any text was shown.
  bool finish() {
    show(true);
    return shown_ > 0;
  }
  Result<Json> message() const {
    if (bad_) return fail(ErrorCode::kParse, "streamed a chunk that is not JSON");
    Json calls = Json::array();
    for (const auto& [index, call] : calls_) calls.push_back(call);
    Json m = {{"role", "assistant"}, {"content", content_}};
    if (!calls.empty()) m["tool_calls"] = calls;
    return m;
  }

 private:
  static std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t nl; (nl = s.find('\n')) != std::string_view::npos; s.remove_prefix(nl + 1))
      out.push_back(s.substr(0, nl));
    out.push_back(s);
    return out;
  }
  void event(const std::string& data) {
    events_ = true;
    if (data == "[DONE]") return;
    const Json chunk = Json::parse(data, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      bad_ = true;
      return;
    }
    const Json choices = chunk.value("choices", Json::array());
    if (!choices.is_array() || choices.empty() || !choices[0].is_object()) return;
    const Json delta = choices[0].value("delta", Json::object());
    if (delta.contains("content") && delta["content"].is_string()) {
      content_ += delta["content"].get<std::string>();
      show(false);
    }
    for (const Json& tc : delta.value("tool_calls", Json::array())) {
      Json& call = calls_[tc.value("index", 0)];
      if (call.is_null())
        call = {{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}};
      if (tc.contains("id") && tc["id"].is_string()) call["id"] = tc["id"];
      const Json fn = tc.value("function", Json::object());
      if (fn.contains("name") && fn["name"].is_string()) call["function"]["name"] = fn["name"];
      if (fn.contains("arguments") && fn["arguments"].is_string())
        call["function"]["arguments"] =
            call["function"]["arguments"].get<std::string>() + fn["arguments"].get<std::string>();
    }
  }
  // Shows the text not shown yet, holding back from an unclosed '<' (a placeholder may be
  // split across chunks) unless `all`.
  void show(bool all) {
    if (!on_text_) return;
    std::size_t upto = content_.size();
    if (!all) {
      const std::size_t lt = content_.rfind('<');
      if (lt != std::string::npos && lt >= shown_ && content_.find('>', lt) == std::string::npos)
        upto = lt;
    }
    if (upto <= shown_) return;
    on_text_(gate_.restore(std::string_view(content_).substr(shown_, upto - shown_)));
    shown_ = upto;
  }

  const privacy::Gate& gate_;
  const std::function<void(std::string_view)>& on_text_;
  std::string pending_;
  std::string content_;
  std::size_t shown_ = 0;
  std::map<long long, Json> calls_;
  bool events_ = false;
  bool bad_ = false;
};

// One model turn: the request (retried when nothing came back yet and a second try may pass:
// no connection, overload, a server error), streamed or not, as the model's message.
Result<Json> model_turn(const HttpPost& post, const std::string& url, const std::string& body,
                        const ModelEndpoint& ep, const privacy::Gate& gate, const AskOptions& opt,
                        bool& streamed) {
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500 * attempt));
    StreamAssembler sa(gate, opt.on_text);
    const BodyFn on_body = ep.stream ? BodyFn([&sa](std::string_view b) { sa.feed(b); }) : BodyFn();
    auto reply = post(url, body, ep.api_key, ep.timeout, on_body);
    const bool retry = !sa.saw_events() && attempt < ep.retries &&
                       (!reply || reply->status == 429 || reply->status >= 500);
    if (retry) continue;
    if (!reply) return std::unexpected(reply.error());
    // A server that ignores "stream" answers with one JSON body: taken as it is.
    if (reply->status != 200 || !sa.saw_events()) return completion_message(*reply);
    streamed = sa.finish();
    return sa.message();
  }
}

// Runs the tool calls of one model turn; appends their results as tool messages.
void run_tool_calls(const Json& calls, const Toolbox& tools, privacy::Gate& gate, Json& messages,
                    Answer& a) {
  std::size_t n = 0;
  for (const Json& call : calls) {
    if (!call.is_object()) continue;
    const std::string id = call.value("id", std::string());
    if (++n > kMaxCallsPerTurn) {
      messages.push_back({{"role", "tool"},
                          {"tool_call_id", id},
                          {"content", "error: more than 8 tool calls in one turn; not run"}});
      continue;
    }
    const Json fn = call.value("function", Json::object());
    const std::string name = fn.value("name", std::string());
    Json args = Json::parse(gate.restore(fn.value("arguments", std::string("{}"))), nullptr, false);
    if (!args.is_object()) args = Json::object();
    ToolCall record{name, args, "", ""};
    std::string content;
    if (auto out = tools.call(name, args)) {
      record.source = out->source;
      if (std::find(a.sources.begin(), a.sources.end(), out->source) == a.sources.end())
        a.sources.push_back(out->source);
      content = gate.pass(out->data.dump(-1, ' ', false, Json::error_handler_t::replace));
    } else {
      record.error = out.error().message();
      content = gate.pass("error: " + out.error().message());
    }
    a.calls.push_back(std::move(record));
    messages.push_back({{"role", "tool"}, {"tool_call_id", id}, {"content", content}});
  }
}

ModelRun fall_back(ModelRun run, std::string why, std::string_view question, const Toolbox& tools,
                   const Router& router) {
  std::vector<ToolCall> model_calls = std::move(run.answer.calls);
  run.answer = router.answer(question, tools);
  run.answer.calls.insert(run.answer.calls.begin(), model_calls.begin(), model_calls.end());
  run.used_model = false;
  run.fallback = std::move(why);
  return run;
}

// The model's message of a chat completion, or why the body is not one.
Result<Json> completion_message(const HttpReply& reply) {
  if (reply.status != 200) {
    return fail(ErrorCode::kUnavailable,
                "answered HTTP " + std::to_string(reply.status) + ": " + cut(reply.body));
  }
  const Json j = Json::parse(reply.body, nullptr, false);
  if (j.is_discarded() || !j.contains("choices") || !j["choices"].is_array() ||
      j["choices"].empty() || !j["choices"][0].contains("message") ||
      !j["choices"][0]["message"].is_object()) {
    return fail(ErrorCode::kParse,
                "answered something that is not a chat completion: " + cut(reply.body));
  }
  return j["choices"][0]["message"];
}

ModelRun converse(std::string_view question, const ModelEndpoint& ep, const HttpPost& post,
                  const Toolbox& tools, const Router& router, const AskOptions& opt);

}  // namespace

Status audit_question(const std::filesystem::path& log, std::string_view caller,
                      std::string_view question, const Answer& a) {
  const std::string kind = a.intent.empty() ? std::string("no intent") : a.intent;
  auto st = privacy::append_audit(
      log, privacy::audit_record(
               std::string(caller),
               "question (" + kind + (a.answered ? ", answered)" : ", not answered)"), question));
  for (const auto& call : a.calls) {
    if (!st) break;
    st = privacy::append_audit(
        log, privacy::audit_record(std::string(caller),
                                   "tool " + call.tool + (call.error.empty() ? "" : " (failed)"),
                                   call.args.dump()));
  }
  return st;
}

Json answer_json(const Answer& a) {
  Json calls = Json::array();
  for (const auto& c : a.calls)
    calls.push_back({{"tool", c.tool}, {"args", c.args}, {"source", c.source}, {"error", c.error}});
  return {{"answered", a.answered}, {"intent", a.intent},     {"answer", a.text},
          {"sources", a.sources},   {"commands", a.commands}, {"calls", calls}};
}

Result<ModelEndpoint> model_endpoint(const Config& config) {
  ModelEndpoint ep;
  ep.base_url = std::string(trim(config.get_string("copilot.base_url")));
  while (!ep.base_url.empty() && ep.base_url.back() == '/') ep.base_url.pop_back();
  ep.model = config.get_string("copilot.model");
  ep.timeout = std::chrono::seconds(config.get_int("copilot.timeout_s"));
  ep.retries = static_cast<int>(config.get_int("copilot.retries"));
  ep.max_tool_rounds = static_cast<int>(config.get_int("copilot.max_tool_rounds"));
  ep.max_tokens = static_cast<int>(config.get_int("copilot.max_tokens"));
  ep.stream = config.get_bool("copilot.stream");
  ep.ca_file = config.get_string("copilot.ca_file");
  if (ep.base_url.empty()) return ep;
  if (ep.model.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "copilot.base_url is set but copilot.model is empty: name the model the endpoint "
                "serves (see its /v1/models)");
  }
  const std::string key_file = config.get_string("copilot.api_key_file");
  if (!key_file.empty()) {
    auto text = HostFs("/").read(key_file, kMaxKeyBytes);
    if (!text) {
      return fail(text.error().code(),
                  "copilot.api_key_file " + key_file + ": " + text.error().message());
    }
    ep.api_key = std::string(trim(*text));
  }
  return ep;
}

ModelRun ask_model(std::string_view question, const ModelEndpoint& ep, const HttpPost& post,
                   const Toolbox& tools, const Router& router, const AskOptions& opt) {
  // What a model sends is hostile until checked: a member of the wrong type makes the JSON
  // library throw, and that is one more way for the endpoint to fail, not a crash.
  try {
    return converse(question, ep, post, tools, router, opt);
  } catch (const Json::exception& e) {
    ModelRun run;
    return fall_back(std::move(run),
                     std::string("the model endpoint sent a malformed answer: ") + e.what(),
                     question, tools, router);
  }
}

namespace {

ModelRun converse(std::string_view question, const ModelEndpoint& ep, const HttpPost& post,
                  const Toolbox& tools, const Router& router, const AskOptions& opt) {
  ModelRun run;
  run.answer.intent = "model";
  privacy::Gate gate(*opt.redactor, "copilot");
  Json messages = Json::array({{{"role", "system"}, {"content", kSystemPrompt}},
                               {{"role", "user"}, {"content", gate.pass(question)}}});
  const std::string url = ep.base_url + "/chat/completions";
  for (int round = 0; round <= ep.max_tool_rounds; ++round) {
    Json body = {{"model", ep.model},
                 {"messages", messages},
                 {"max_tokens", ep.max_tokens},
                 {"temperature", 0},
                 {"stream", ep.stream}};
    if (round < ep.max_tool_rounds) {
      body["tools"] = tools.openai_tools();
      body["tool_choice"] = "auto";
    }
    auto sent = gated_body(gate, body);
    if (!sent) return fall_back(std::move(run), sent.error().message(), question, tools, router);
    run.outbound.push_back({url, *sent});
    if (opt.dry_run)
      return fall_back(std::move(run), "dry run: nothing was sent", question, tools, router);
    if (!opt.audit_log.empty()) {
      if (auto st = gate.record(opt.audit_log, url, *sent); !st)
        return fall_back(std::move(run), "the audit log: " + st.error().message(), question, tools,
                         router);
    }
    bool streamed = false;
    auto msg = model_turn(post, url, *sent, ep, gate, opt, streamed);
    if (!msg) {
      const std::string why = msg.error().code() == ErrorCode::kUnavailable ||
                                      msg.error().code() == ErrorCode::kUnsupported ||
                                      msg.error().code() == ErrorCode::kInvalidArgument
                                  ? ": " + msg.error().message()
                                  : " " + msg.error().message();
      return fall_back(std::move(run), "the model endpoint " + url + why, question, tools, router);
    }
    run.streamed = run.streamed || streamed;
    const Json calls = msg->value("tool_calls", Json::array());
    if (calls.is_array() && !calls.empty()) {
      messages.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});
      run_tool_calls(calls, tools, gate, messages, run.answer);
      continue;
    }
    const Json content = msg->value("content", Json());
    if (!content.is_string() || trim(content.get<std::string>()).empty())
      return fall_back(std::move(run), "the model returned an empty answer", question, tools,
                       router);
    run.answer.text = gate.restore(content.get<std::string>());
    run.answer.answered = true;
    run.answer.sources.push_back("model " + ep.model + " at " + ep.base_url +
                                 " (given the tools' facts, redacted)");
    run.used_model = true;
    return run;
  }
  return fall_back(std::move(run),
                   "the model kept calling tools for " + std::to_string(ep.max_tool_rounds) +
                       " rounds without answering",
                   question, tools, router);
}

}  // namespace

}  // namespace aion::copilot
