#include "aion/copilot/router.h"

#include <re2/re2.h>

#include <algorithm>

#include "aion/copilot/writers.h"
#include "aion/core/data_file.h"
#include "aion/core/strings.h"

namespace aion::copilot {
namespace {

// A GPU reference: "GPU 3", "gpu3", "GPU#3", "cuda:3"; further indices may follow ("GPUs 0
// and 1", "GPU 0, 1 and 5").
const RE2& gpu_re() {
  static const RE2 re(
      R"((?i)\b(?:gpus?|cuda:|device|npus?|card)\s*#?\s*(\d{1,3})((?:\s*(?:,|and|&|/|or)\s*(?:gpu\s*)?#?\d{1,3}\b)*))");
  return re;
}

const RE2& framework_re() {
  static const RE2 re(
      R"((?i)\b(pytorch|torch_npu|torch|tensorflow|jax|vllm|sglang|paddlepaddle|paddle|mindspore|onnxruntime|deepspeed|cuda|rocm|cann)(?:\s*(?:==|=|v|version)?\s*(\d+(?:\.\d+){0,2}))?)");
  return re;
}

std::vector<int> numbers_in(std::string_view text) {
  std::vector<int> out;
  int v = -1;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      v = (v < 0 ? 0 : v * 10) + (c - '0');
    } else if (v >= 0) {
      out.push_back(v);
      v = -1;
    }
  }
  if (v >= 0) out.push_back(v);
  return out;
}

long long number_after(std::string_view lower, const RE2& re) {
  long long v = -1;
  re2::StringPiece in(lower.data(), lower.size());
  return RE2::PartialMatch(in, re, &v) ? v : -1;
}

}  // namespace

Question parse_question(std::string_view text) {
  Question q;
  q.text = std::string(trim(text));
  q.lower = lower(q.text);
  re2::StringPiece in(q.text);
  std::string first, rest;
  while (RE2::FindAndConsume(&in, gpu_re(), &first, &rest)) {
    for (int n : numbers_in(first + " " + rest))
      if (std::find(q.gpus.begin(), q.gpus.end(), n) == q.gpus.end()) q.gpus.push_back(n);
  }
  static const RE2 job_re(R"(\bjob\s*(?:id\s*)?#?\s*(\d{1,12})\b)");
  static const RE2 xid_re(R"(\bxid\s*[#:]?\s*(\d{1,5})\b)");
  q.job = number_after(q.lower, job_re);
  q.xid = number_after(q.lower, xid_re);
  std::string name, version;
  if (RE2::PartialMatch(q.text, framework_re(), &name, &version)) {
    name = lower(name);
    if (name == "torch") name = "pytorch";
    if (name == "paddle") name = "paddlepaddle";
    q.framework = version.empty() ? name : name + "==" + version;
  }
  return q;
}

Result<Router> Router::load(const std::filesystem::path& file) {
  auto df = DataFile::read(file);
  if (!df) return std::unexpected(df.error());
  return parse_data(*df);
}

Result<Router> Router::parse(std::string_view text, const std::string& file) {
  auto df = DataFile::parse(text, file);
  if (!df) return std::unexpected(df.error());
  return parse_data(*df);
}

Result<Router> Router::parse_data(const DataFile& df) {
  if (auto st = df.expect_schema_version(kIntentSchemaVersion); !st)
    return std::unexpected(st.error());
  auto rows = df.rows(df.root(), "intent");
  if (!rows) return std::unexpected(rows.error());
  Router r;
  for (const toml::table* t : *rows) {
    if (auto st = df.expect_keys(*t, {"id", "patterns", "example"}, "intent"); !st)
      return std::unexpected(st.error());
    Intent in;
    auto id = df.string(*t, "id");
    if (!id) return std::unexpected(id.error());
    in.id = *id;
    if (!find_writer(in.id))
      return df.bad(*t, "intent '" + in.id + "': no answer writer has this id");
    auto pats = df.strings(*t, "patterns", true);
    if (!pats) return std::unexpected(pats.error());
    in.patterns = *pats;
    auto ex = df.optional_string(*t, "example");
    if (!ex) return std::unexpected(ex.error());
    in.example = *ex;
    std::vector<std::shared_ptr<const RE2>> res;
    for (const auto& p : in.patterns) {
      RE2::Options o;
      o.set_case_sensitive(false);
      o.set_log_errors(false);
      auto re = std::make_shared<const RE2>(p, o);
      if (!re->ok())
        return df.bad(*t, "intent '" + in.id + "': pattern '" + p + "': " + re->error());
      res.push_back(std::move(re));
    }
    r.intents_.push_back(std::move(in));
    r.compiled_.push_back(std::move(res));
  }
  return r;
}

const Intent* Router::classify(std::string_view question) const {
  const re2::StringPiece in(question.data(), question.size());
  for (std::size_t i = 0; i < intents_.size(); ++i) {
    for (const auto& re : compiled_[i])
      if (RE2::PartialMatch(in, *re)) return &intents_[i];
  }
  return nullptr;
}

Answer Router::answer(std::string_view question, const Toolbox& tools) const {
  const Intent* intent = classify(question);
  if (!intent) return cannot_answer(question, *this);
  return answer_as(intent->id, question, tools);
}

Answer Router::answer_as(std::string_view id, std::string_view question,
                         const Toolbox& tools) const {
  const Writer write = find_writer(id);
  if (!write) return cannot_answer(question, *this);
  Answer a;
  a.intent = std::string(id);
  const Question q = parse_question(question);
  Draft d(q, tools, a);
  try {
    write(d);
  } catch (const Json::exception& e) {  // a fact of an unexpected shape (aiond's, a fixture's)
    d.cannot(std::string("the facts came back in a form this answer does not expect (") + e.what() +
             ")");
  }
  if (!d.failed()) a.answered = true;
  return a;
}

Answer cannot_answer(std::string_view question, const Router& router) {
  Answer a;
  a.text = "I can't answer that from this node's facts: \"" + std::string(trim(question)) +
           "\" is not a kind of question I know. I answer questions about this machine's "
           "hardware and topology, its jobs, queue and incidents, fault codes, software "
           "environments, tuning and documentation, for example:";
  std::size_t shown = 0;
  for (const auto& in : router.intents()) {
    if (in.example.empty() || shown++ >= 6) continue;
    a.text += "\n  - " + in.example;
  }
  return a;
}

const Json* Draft::use(std::string_view tool, Json args) {
  ToolCall call{std::string(tool), args, "", ""};
  auto r = tools_.call(tool, args);
  if (!r) {
    call.error = r.error().message();
    out_.calls.push_back(std::move(call));
    if (r.error().code() == ErrorCode::kNotFound && !tools_.has(tool)) {
      cannot("this needs the '" + std::string(tool) + "' facts, which are not available here" +
             (tool == "jobs" || tool == "incidents" || tool == "gpus_free" || tool == "metrics" ||
                      tool == "log_templates" || tool == "queue"
                  ? " (they come from aiond: start it with `sudo systemctl start aiond`, or "
                    "`aiond` for a local one)"
                  : ""));
    } else {
      cannot(r.error().message());
    }
    return nullptr;
  }
  call.source = r->source;
  out_.calls.push_back(std::move(call));
  if (std::find(out_.sources.begin(), out_.sources.end(), r->source) == out_.sources.end())
    out_.sources.push_back(r->source);
  held_.push_back(std::move(r->data));
  return &held_.back();
}

const Json* Draft::try_use(std::string_view tool, Json args) {
  if (!tools_.has(tool)) return nullptr;
  auto r = tools_.call(tool, args);
  out_.calls.push_back({std::string(tool), args, r ? r->source : "", r ? "" : r.error().message()});
  if (!r) return nullptr;
  if (std::find(out_.sources.begin(), out_.sources.end(), r->source) == out_.sources.end())
    out_.sources.push_back(r->source);
  held_.push_back(std::move(r->data));
  return &held_.back();
}

void Draft::say(std::string line) {
  if (failed_) return;
  if (!out_.text.empty()) out_.text += "\n";
  out_.text += line;
}

void Draft::suggest(std::string command) {
  if (!failed_) out_.commands.push_back(std::move(command));
}

void Draft::cannot(std::string why) {
  if (failed_) return;
  failed_ = true;
  out_.text = "I can't answer that here: " + why + ".";
  out_.commands.clear();
}

Writer find_writer(std::string_view intent) {
  for (const auto* list : {&hardware_writers(), &operations_writers(), &knowledge_writers()}) {
    for (const auto& w : *list)
      if (w.intent == intent) return w.write;
  }
  return nullptr;
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

long long num(const Json& j, const char* key, long long fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<long long>() : fallback;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes >= 100 || u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::vector<const Json*> accelerators(const Json& hw) {
  std::vector<const Json*> out;
  if (auto it = hw.find("accelerators"); it != hw.end() && it->is_array())
    for (const auto& a : *it) out.push_back(&a);
  return out;
}

std::vector<DirectLink> direct_links(const Json& topo) {
  std::vector<DirectLink> out;
  const auto& devs = topo.at("devices");
  const auto& matrix = topo.at("matrix");
  for (std::size_t i = 0; i < devs.size(); ++i) {
    for (std::size_t j = i + 1; j < devs.size(); ++j) {
      const std::string l = matrix[i][j].get<std::string>();
      if (l.rfind("NV", 0) == 0 || l.rfind("XGMI", 0) == 0)
        out.push_back({str(devs[i], "name"), str(devs[j], "name"), l});
    }
  }
  return out;
}

std::string gpu_name(const Json& acc) {
  std::string kind = acc.value("kind", std::string("gpu"));
  for (char& c : kind) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return kind + std::to_string(acc.value("index", 0));
}

}  // namespace aion::copilot
