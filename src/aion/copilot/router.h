// Router: answers a question without a language model. The question's kind (an intent, from
// data/copilot/intents.toml: RE2 patterns in priority order) picks an answer writer; the
// writer calls the tools it needs and writes the answer from their facts with the sources it
// used. A question no intent matches, or whose tools cannot answer here (no daemon, no such
// job), gets a plain "I can't answer that" and why; nothing is guessed.
// A Router is immutable after loading; answer() is thread-safe as far as the Toolbox is.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/copilot/tools.h"
#include "aion/core/error.h"

namespace re2 {
class RE2;
}
namespace aion {
class DataFile;
}

namespace aion::copilot {

inline constexpr int kIntentSchemaVersion = 1;

struct Intent {
  std::string id;  // "gpu_count"; names its answer writer
  std::vector<std::string> patterns;
  std::string example;  // a question of this kind, for --help and the docs
  std::string file;     // file:line, for messages
};

struct Answer {
  bool answered = false;  // false: the text says why not
  std::string intent;     // the kind of question; "" when none matched
  std::string text;
  std::vector<std::string> sources;   // citations, in the order used
  std::vector<std::string> commands;  // suggested commands (actions run only when confirmed)
  std::vector<ToolCall> calls;
};

// The question with what it names: GPU indices ("GPU 3", "GPUs 0 and 1"), a job id, an Xid
// code, a framework request ("pytorch 2.8" -> "pytorch==2.8").
struct Question {
  std::string text;
  std::string lower;
  std::vector<int> gpus;
  long long job = -1;
  long long xid = -1;
  std::string framework;
};
Question parse_question(std::string_view text);

class Router {
 public:
  // data/copilot/intents.toml. kCorrupt naming file:line for a bad pattern, an unknown key or
  // an intent no writer answers.
  static Result<Router> load(const std::filesystem::path& file);
  static Result<Router> parse(std::string_view text, const std::string& file);

  // The first intent whose pattern matches the question; nullptr when none does.
  const Intent* classify(std::string_view question) const;
  Answer answer(std::string_view question, const Toolbox& tools) const;
  // Answers as the intent `id` would, whatever the question's kind (`aion ask --docs-only`
  // is "howto"). An unknown id gives cannot_answer().
  Answer answer_as(std::string_view id, std::string_view question, const Toolbox& tools) const;
  const std::vector<Intent>& intents() const { return intents_; }

 private:
  static Result<Router> parse_data(const DataFile& df);
  std::vector<Intent> intents_;
  std::vector<std::vector<std::shared_ptr<const re2::RE2>>> compiled_;  // by intent
};

// The answer to give when no intent matches.
Answer cannot_answer(std::string_view question, const Router& router);

}  // namespace aion::copilot
