// Asking a language model: any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's
// server, Ollama, SGLang, a cloud API) set in the config's [copilot] section. The model gets the
// question and the copilot's tools in the OpenAI function format; it calls tools (the same
// read-only ones the router uses), and its answer is shown with the tools' sources.
//
// Nothing leaves unredacted: the question and every tool output pass one privacy Gate (one
// placeholder map for the whole conversation) before they are put in a request, the request
// body passes the gate again as a whole, each request is recorded in the audit log, and the
// placeholders in the model's answer and in its tool arguments are restored only locally.
// An endpoint that is down, slow, refuses, or answers what is not a chat completion makes
// ask() fall back to the router, saying why.
// The transport is the program's (http_post.h: HTTP, or HTTPS with the certificate verified);
// ask() is not thread-safe with itself.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aion/copilot/router.h"
#include "aion/copilot/tools.h"
#include "aion/core/config.h"
#include "aion/core/error.h"
#include "aion/core/json.h"
#include "aion/privacy/redactor.h"

namespace aion::copilot {

struct ModelEndpoint {
  std::string base_url;  // "http://127.0.0.1:8000/v1"; "" = no model
  std::string model;     // the model name the endpoint serves
  std::string api_key;   // read from copilot.api_key_file; "" = none sent
  std::string ca_file;   // https:// only: CAs to trust instead of the system's; "" = system's
  std::chrono::seconds timeout{60};
  int retries = 1;          // further attempts after a failed request (not after a bad answer)
  int max_tool_rounds = 4;  // model turns that may call tools before it must answer
  int max_tokens = 800;     // per model turn
  bool stream = true;       // ask for server-sent events and show the answer as it comes
};

// The endpoint a config names (its [copilot] keys, which the node's config schema declares); the
// key file is read here (kPermissionDenied or kNotFound naming it). An empty base_url is not an
// error: no model.
Result<ModelEndpoint> model_endpoint(const Config& config);

// One HTTP POST as the program makes it: `url` (base_url + "/chat/completions"), the JSON body,
// the bearer key; returns the status and the body, or kUnavailable for a transport failure
// (refused, timed out).
struct HttpReply {
  int status = 0;
  std::string body;
};
// `on_body` (may be empty) is called with each piece of the body as it arrives.
using BodyFn = std::function<void(std::string_view)>;
using HttpPost = std::function<Result<HttpReply>(
    const std::string& url, const std::string& body, const std::string& api_key,
    std::chrono::seconds timeout, const BodyFn& on_body)>;

// What was sent, exactly as it left (for --show-outbound and the tests).
struct Outbound {
  std::string url;
  std::string body;
};

struct ModelRun {
  Answer answer;
  std::vector<Outbound> outbound;
  bool used_model = false;  // false: the router answered (see fallback)
  bool streamed = false;    // the answer's text went to AskOptions::on_text as it came
  std::string fallback;     // why the model's answer is not the one shown; "" when it is
};

struct AskOptions {
  const privacy::Redactor* redactor = nullptr;  // required
  std::filesystem::path audit_log;              // "" = not recorded (tests)
  bool dry_run = false;  // build and show the first request, send nothing (--show-outbound)
  // Called with the answer's text as it streams in, placeholders already restored (a
  // placeholder split between two pieces is held back until it is whole). Empty: not shown.
  std::function<void(std::string_view)> on_text;
};

// Records a question and its tool calls in the audit log under `caller`: the question's size
// and SHA-256 and the kind it was taken for, each tool's name and its arguments' hash; never
// the texts. kIo naming the log.
Status audit_question(const std::filesystem::path& log, std::string_view caller,
                      std::string_view question, const Answer& a);

// An answer as `aion ask --json` prints it and POST /v1/ask returns it.
Json answer_json(const Answer& a);

// Asks the model; on any failure of the endpoint answers with `router` instead.
ModelRun ask_model(std::string_view question, const ModelEndpoint& endpoint, const HttpPost& post,
                   const Toolbox& tools, const Router& router, const AskOptions& options);

}  // namespace aion::copilot
