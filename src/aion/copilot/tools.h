// Toolbox: the read-only tools the copilot answers from. A tool is a named call into one
// module (the hardware model, the fault catalog, the environment resolver, the scheduler
// through aiond...) that returns facts as JSON and the source to cite for them. The router
// (router.h) and a language model (llm.h) see the same tools: what the model may call is
// exactly what the router uses, and nothing a tool does changes the node.
// Not thread-safe: a Toolbox is filled once (add()) and then called from one thread (the
// tools that talk to aiond share its one connection).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/json.h"

namespace aion::copilot {

struct ToolSpec {
  std::string name;                  // "hardware", "jobs", "fault_signature"
  std::string description;           // for the model: what it returns, when to use it
  Json parameters = Json::object();  // JSON Schema of the arguments (OpenAI function format)
};

// What a tool found: the facts, and where they come from, as a citation a person can follow
// ("aion hw (this machine)", "data/signatures/nvidia_xid.toml: nvidia-xid-79").
struct ToolOutput {
  Json data;
  std::string source;
};

using ToolFn = std::function<Result<ToolOutput>(const Json& args)>;

// One call as it happened, for the answer's sources and the audit log.
struct ToolCall {
  std::string tool;
  Json args = Json::object();
  std::string source;  // the output's citation; "" when the call failed
  std::string error;   // "" when it succeeded
};

class Toolbox {
 public:
  // A tool of that name already present is replaced.
  void add(ToolSpec spec, ToolFn fn);
  bool has(std::string_view name) const;
  // kNotFound for a tool this toolbox lacks (the daemon's tools without aiond), else what
  // the tool returns. Arguments that are not an object are kInvalidArgument.
  Result<ToolOutput> call(std::string_view name, const Json& args) const;
  const std::vector<ToolSpec>& specs() const { return specs_; }
  // The tools in the OpenAI chat-completions "tools" form.
  Json openai_tools() const;

 private:
  std::vector<ToolSpec> specs_;
  std::vector<ToolFn> fns_;
};

// Reads an integer argument (a JSON number or a numeric string); `fallback` when absent.
long long int_arg(const Json& args, std::string_view key, long long fallback);
// Reads a string argument; "" when absent or not a string.
std::string string_arg(const Json& args, std::string_view key);

}  // namespace aion::copilot
