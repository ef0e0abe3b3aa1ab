#include "aion/logs/masks.h"

#include <re2/re2.h>

#include <fstream>
#include <sstream>

#include "aion/core/config.h"

namespace aion::logs {
namespace {

ConfigSchema masks_schema() {
  ConfigSchema rule;
  rule.string("name", "", "Short name of the rule")
      .string("regex", "", "RE2 expression; group 1, when present, is the part replaced")
      .string("token", "", "Replacement shown in parameter lists, such as <IP>")
      .string("source", "", "Where the rule comes from");
  ConfigSchema s;
  s.integer("schema_version", 0, "Version of this file's layout", 1, 1)
      .table_array("mask", rule, "The masking rules, applied in order");
  return s;
}

}  // namespace

MaskSet::MaskSet() = default;
MaskSet::~MaskSet() = default;
MaskSet::MaskSet(MaskSet&&) noexcept = default;
MaskSet& MaskSet::operator=(MaskSet&&) noexcept = default;

Result<MaskSet> MaskSet::from_rules(std::vector<MaskRule> rules, std::string_view source) {
  MaskSet set;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const MaskRule& r = rules[i];
    std::string where = std::string(source) + ": mask[" + std::to_string(i) + "]" +
                        (r.name.empty() ? "" : " (" + r.name + ")");
    for (auto [key, value] :
         {std::pair{"name", &r.name}, {"regex", &r.regex}, {"token", &r.token}}) {
      if (value->empty())
        return fail(ErrorCode::kConfig, where + ": " + key + ": must not be empty");
    }
    RE2::Options opt;
    opt.set_encoding(RE2::Options::EncodingLatin1);
    opt.set_log_errors(false);
    auto re = std::make_shared<const RE2>(r.regex, opt);
    if (!re->ok()) {
      return fail(ErrorCode::kConfig, where + ": regex: " + re->error() + " in '" + r.regex + "'");
    }
    if (RE2::FullMatch("", *re)) {
      return fail(ErrorCode::kConfig,
                  where + ": regex: matches the empty string, so it would mask nothing useful");
    }
    set.compiled_.push_back(std::move(re));
  }
  set.rules_ = std::move(rules);
  return set;
}

Result<MaskSet> MaskSet::parse(std::string_view toml_text, std::string source) {
  auto cfg = Config::parse(toml_text, source, masks_schema());
  if (!cfg) return std::unexpected(cfg.error());
  if (!cfg->is_set("schema_version")) {
    return fail(ErrorCode::kConfig, source + ": schema_version: missing (expected 1)");
  }
  std::vector<MaskRule> rules;
  for (const Config& t : cfg->get_tables("mask")) {
    rules.push_back({t.get_string("name"), t.get_string("regex"), t.get_string("token")});
  }
  return from_rules(std::move(rules), source);
}

Result<MaskSet> MaskSet::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return fail(ErrorCode::kConfig, file.string() + ": cannot read the masks file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string());
}

MaskSet MaskSet::combined(const MaskSet& more) const {
  MaskSet out;
  out.rules_ = rules_;
  out.compiled_ = compiled_;
  out.rules_.insert(out.rules_.end(), more.rules_.begin(), more.rules_.end());
  out.compiled_.insert(out.compiled_.end(), more.compiled_.begin(), more.compiled_.end());
  return out;
}

MaskedText MaskSet::apply(std::string_view line) const {
  MaskedText cur;
  cur.text.reserve(line.size());
  for (char c : line) cur.text += c == kPlaceholder ? ' ' : c;
  MaskedText next;
  re2::StringPiece groups[2];
  for (std::size_t k = 0; k < compiled_.size(); ++k) {
    const RE2& re = *compiled_[k];
    const int want = re.NumberOfCapturingGroups() >= 1 ? 2 : 1;
    const re2::StringPiece text(cur.text);
    std::size_t pos = 0, copied = 0, value = 0;
    bool any = false;
    next.text.clear();
    next.values.clear();
    next.rules.clear();
    // Copies text[copied, to) into `next`, carrying the placeholders' values along.
    auto copy_to = [&](std::size_t to) {
      for (std::size_t i = copied; i < to; ++i) {
        next.text += cur.text[i];
        if (cur.text[i] == kPlaceholder) {
          next.values.push_back(std::move(cur.values[value]));
          next.rules.push_back(cur.rules[value]);
          ++value;
        }
      }
      copied = to;
    };
    while (pos <= text.size() && re.Match(text, pos, text.size(), RE2::UNANCHORED, groups, want)) {
      const re2::StringPiece& g = groups[want - 1];
      const re2::StringPiece& whole = groups[0];
      std::size_t end = static_cast<std::size_t>(whole.data() - text.data()) + whole.size();
      if (g.data() == nullptr || g.empty()) {
        pos = std::max(end, pos + 1);
        continue;
      }
      std::size_t from = static_cast<std::size_t>(g.data() - text.data());
      std::size_t to = from + g.size();
      copy_to(from);
      std::string original;
      for (std::size_t i = from; i < to; ++i) {
        if (cur.text[i] == kPlaceholder) {
          original += cur.values[value++];
        } else {
          original += cur.text[i];
        }
      }
      next.text += kPlaceholder;
      next.values.push_back(std::move(original));
      next.rules.push_back(static_cast<int>(k));
      copied = to;
      any = true;
      // Scanning on from the replaced part's end lets a group rule's trailing context be the
      // next match's leading context ("1 2" masks both numbers).
      pos = std::max(to, pos + 1);
    }
    if (!any) continue;
    copy_to(cur.text.size());
    std::swap(cur, next);
  }
  return cur;
}

}  // namespace aion::logs
