#include "aion/envcfg/version.h"
#include "aion/core/strings.h"

#include <algorithm>
#include <cctype>

namespace aion::envcfg {
namespace {

// post releases sort after the release, pre-releases (anything else) before it.
int suffix_rank(const std::string& s) {
  if (s.empty()) return 0;
  return lower(s).rfind("post", 0) == 0 ? 1 : -1;
}

}  // namespace

namespace {
// The first version after a series: "2.4" -> "2.5", "2.4.1" -> "2.4.2".
Version next_series(const Version& v) {
  std::vector<int> parts = v.parts();
  if (parts.empty()) return v;
  ++parts.back();
  std::string text;
  for (int p : parts) text += (text.empty() ? "" : ".") + std::to_string(p);
  return Version::parse(text);
}
}  // namespace

Version Version::parse(std::string_view text) {
  Version v;
  std::string t = trim(text);
  if (!t.empty() && (t[0] == 'v' || t[0] == 'V')) t.erase(0, 1);
  if (auto plus = t.find('+'); plus != std::string::npos) {
    v.local_ = t.substr(plus + 1);
    t.resize(plus);
  }
  v.text_ = t;
  std::size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
    int n = 0;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
      // Saturates instead of overflowing on absurd input ("99999999999").
      n = n < 100'000'000 ? n * 10 + (t[i] - '0') : 1'000'000'000;
      ++i;
    }
    v.parts_.push_back(n);
    if (i + 1 < t.size() && t[i] == '.' && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
      ++i;
      continue;
    }
    break;
  }
  if (v.parts_.empty()) return Version();
  std::string rest = t.substr(i);
  while (!rest.empty() && (rest[0] == '.' || rest[0] == '-' || rest[0] == '_')) rest.erase(0, 1);
  v.suffix_ = rest;
  return v;
}

std::string Version::major_minor() const {
  return std::to_string(major()) + "." + std::to_string(minor());
}

bool Version::has_prefix(const Version& prefix) const {
  if (prefix.parts_.size() > parts_.size() && !prefix.is_empty()) {
    for (std::size_t i = parts_.size(); i < prefix.parts_.size(); ++i)
      if (prefix.parts_[i] != 0) return false;
  }
  for (std::size_t i = 0; i < prefix.parts_.size() && i < parts_.size(); ++i)
    if (prefix.parts_[i] != parts_[i]) return false;
  return prefix.suffix_.empty() || lower(prefix.suffix_) == lower(suffix_);
}

int compare(const Version& a, const Version& b) {
  std::size_t n = std::max(a.parts_.size(), b.parts_.size());
  for (std::size_t i = 0; i < n; ++i) {
    int x = i < a.parts_.size() ? a.parts_[i] : 0;
    int y = i < b.parts_.size() ? b.parts_[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  int ra = suffix_rank(a.suffix_), rb = suffix_rank(b.suffix_);
  if (ra != rb) return ra < rb ? -1 : 1;
  // Same kind of suffix: compare the numbers in them ("post12" > "post4"), then the text.
  Version na = Version::parse(std::string_view(a.suffix_).substr(
      std::min(a.suffix_.size(), a.suffix_.find_first_of("0123456789"))));
  Version nb = Version::parse(std::string_view(b.suffix_).substr(
      std::min(b.suffix_.size(), b.suffix_.find_first_of("0123456789"))));
  if (!na.parts_.empty() || !nb.parts_.empty()) {
    std::size_t m = std::max(na.parts_.size(), nb.parts_.size());
    for (std::size_t i = 0; i < m; ++i) {
      int x = i < na.parts_.size() ? na.parts_[i] : 0;
      int y = i < nb.parts_.size() ? nb.parts_[i] : 0;
      if (x != y) return x < y ? -1 : 1;
    }
  }
  std::string la = lower(a.suffix_), lb = lower(b.suffix_);
  return la == lb ? 0 : (la < lb ? -1 : 1);
}

Result<VersionSpec> VersionSpec::parse(std::string_view text) {
  VersionSpec spec;
  spec.text_ = trim(text);
  std::string all = spec.text_;
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t comma = all.find(',', start);
    std::string clause = trim(std::string_view(all).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? all.size() + 1 : comma + 1;
    if (clause.empty()) {
      if (comma == std::string::npos && spec.clauses_.empty() && all.empty()) break;
      if (comma == std::string::npos) break;
      return fail(ErrorCode::kInvalidArgument, "empty clause in version constraint '" + all + "'");
    }
    std::string op;
    for (const char* o : {"===", "==", "!=", ">=", "<=", "~=", ">", "<", "="}) {
      if (clause.rfind(o, 0) == 0) {
        op = o;
        break;
      }
    }
    std::string rest = trim(std::string_view(clause).substr(op.size()));
    if (op.empty() || op == "=" || op == "===") op = "==";
    bool wildcard = rest.size() >= 2 && rest.ends_with(".*");
    if (wildcard) rest.resize(rest.size() - 2);
    Version v = Version::parse(rest);
    if (v.is_empty() || (wildcard && op != "==" && op != "!=")) {
      return fail(ErrorCode::kInvalidArgument,
                  "cannot read version constraint '" + clause + "' in '" + all +
                      "': expected an operator (==, !=, >=, <=, >, <, ~=) and a version such "
                      "as 2.4 or 2.4.1");
    }
    spec.clauses_.push_back({op, v});
  }
  return spec;
}

bool VersionSpec::matches(const Version& v) const {
  for (const auto& c : clauses_) {
    int cmp = compare(v, c.version);
    bool ok = true;
    if (c.op == "==") {
      ok = v.has_prefix(c.version);
    } else if (c.op == "!=") {
      ok = !v.has_prefix(c.version);
    } else if (c.op == ">=") {
      ok = cmp >= 0;
    } else if (c.op == "<=") {
      ok = cmp <= 0 || v.has_prefix(c.version);
    } else if (c.op == ">") {
      ok = cmp > 0 && !v.has_prefix(c.version);
    } else if (c.op == "<") {
      ok = cmp < 0;
    } else if (c.op == "~=") {
      // ~=2.4 means >=2.4, ==2.*; ~=2.4.1 means >=2.4.1, ==2.4.*
      std::vector<int> head = c.version.parts();
      if (head.size() > 1) head.pop_back();
      std::string prefix;
      for (int p : head) prefix += (prefix.empty() ? "" : ".") + std::to_string(p);
      ok = cmp >= 0 && v.has_prefix(Version::parse(prefix));
    }
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> VersionSpec::contradiction() const {
  const Clause* low = nullptr;   // the tightest >= or >
  const Clause* high = nullptr;  // the tightest <= or <
  const Clause* pin = nullptr;
  for (const auto& c : clauses_) {
    if (c.op == ">=" || c.op == ">" || c.op == "~=") {
      if (!low || c.version > low->version) low = &c;
    } else if (c.op == "<=" || c.op == "<") {
      if (!high || c.version < high->version) high = &c;
    } else if (c.op == "==") {
      if (pin && !pin->version.has_prefix(c.version) && !c.version.has_prefix(pin->version))
        return "'==" + pin->version.text() + "' and '==" + c.version.text() + "' cannot both hold";
      if (!pin || c.version.parts().size() > pin->version.parts().size()) pin = &c;
    }
  }
  if (low && high) {
    int cmp = compare(low->version, high->version);
    bool strict = low->op == ">" || high->op == "<";
    if (cmp > 0 || (cmp == 0 && strict))
      return "'" + low->op + low->version.text() + "' and '" + high->op + high->version.text() +
             "' leave no version between them";
  }
  if (pin) {
    // The smallest and largest versions the pin allows, checked against the bounds.
    if (high && high->op == "<" && compare(pin->version, high->version) >= 0)
      return "'==" + pin->version.text() + "' is not below '" + high->op + high->version.text() +
             "'";
    if (high && high->op == "<=" && compare(pin->version, high->version) > 0)
      return "'==" + pin->version.text() + "' is above '<=" + high->version.text() + "'";
    if (low && compare(next_series(pin->version), low->version) <= 0)
      return "'==" + pin->version.text() + "' is below '" + low->op + low->version.text() + "'";
  }
  for (const auto& c : clauses_) {
    if (c.op == "!=" && pin && pin->version.has_prefix(c.version))
      return "'==" + pin->version.text() + "' and '!=" + c.version.text() + "' exclude each other";
  }
  return std::nullopt;
}

Requirement split_requirement(std::string_view text) {
  std::string t = trim(text);
  std::size_t cut = t.find_first_of("=<>!~ ");
  if (cut == std::string::npos) return {t, ""};
  return {trim(std::string_view(t).substr(0, cut)), trim(std::string_view(t).substr(cut))};
}

}  // namespace aion::envcfg
