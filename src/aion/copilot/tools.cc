#include "aion/copilot/tools.h"

#include <algorithm>
#include <charconv>

namespace aion::copilot {

void Toolbox::add(ToolSpec spec, ToolFn fn) {
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == spec.name) {
      specs_[i] = std::move(spec);
      fns_[i] = std::move(fn);
      return;
    }
  }
  specs_.push_back(std::move(spec));
  fns_.push_back(std::move(fn));
}

bool Toolbox::has(std::string_view name) const {
  return std::any_of(specs_.begin(), specs_.end(),
                     [&](const ToolSpec& s) { return s.name == name; });
}

Result<ToolOutput> Toolbox::call(std::string_view name, const Json& args) const {
  if (!args.is_object()) {
    return fail(ErrorCode::kInvalidArgument,
                "tool '" + std::string(name) + "': arguments must be a JSON object");
  }
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return fns_[i](args);
  }
  return fail(ErrorCode::kNotFound, "no tool '" + std::string(name) + "' here");
}

Json Toolbox::openai_tools() const {
  Json out = Json::array();
  for (const ToolSpec& s : specs_) {
    out.push_back(
        {{"type", "function"},
         {"function",
          {{"name", s.name}, {"description", s.description}, {"parameters", s.parameters}}}});
  }
  return out;
}

long long int_arg(const Json& args, std::string_view key, long long fallback) {
  auto it = args.find(key);
  if (it == args.end()) return fallback;
  if (it->is_number_integer()) return it->get<long long>();
  if (it->is_number()) return static_cast<long long>(it->get<double>());
  if (it->is_string()) {
    const std::string s = it->get<std::string>();
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return fallback;
}

std::string string_arg(const Json& args, std::string_view key) {
  auto it = args.find(key);
  return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace aion::copilot
