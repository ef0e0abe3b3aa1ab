// Version numbers and version constraints as the AI software stack writes them: drivers
// ("535.104.05"), toolkits ("12.8"), wheels ("2.1.0.post12", "2.4.1+cu121"), CANN ("8.1.RC1"),
// and pip-style constraints ("==2.4", ">=2.2,<2.5", "~=2.4"). Plain values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::envcfg {

// A dotted version: numeric components, then an optional suffix ("post12", "rc1", "RC1"),
// and a local label after '+' ("cu121") that comparisons ignore. Missing components count as
// zero ("12.8" == "12.8.0"); a "post" suffix sorts after the plain release, any other
// suffix (rc, a, b, dev) before it.
class Version {
 public:
  Version() = default;
  // Never fails: text without a leading number gives an empty version (is_empty()).
  static Version parse(std::string_view text);

  bool is_empty() const { return parts_.empty(); }
  const std::vector<int>& parts() const { return parts_; }
  int major() const { return parts_.empty() ? 0 : parts_[0]; }
  int minor() const { return parts_.size() < 2 ? 0 : parts_[1]; }
  const std::string& local() const { return local_; }
  // The text it was parsed from, without the local label.
  const std::string& text() const { return text_; }
  // "12.8.1" -> "12.8".
  std::string major_minor() const;
  // True when every component of `prefix` equals ours ("2.4" is a prefix of "2.4.1").
  bool has_prefix(const Version& prefix) const;

  friend int compare(const Version& a, const Version& b);
  friend bool operator==(const Version& a, const Version& b) { return compare(a, b) == 0; }
  friend bool operator<(const Version& a, const Version& b) { return compare(a, b) < 0; }
  friend bool operator<=(const Version& a, const Version& b) { return compare(a, b) <= 0; }
  friend bool operator>(const Version& a, const Version& b) { return compare(a, b) > 0; }
  friend bool operator>=(const Version& a, const Version& b) { return compare(a, b) >= 0; }

 private:
  std::vector<int> parts_;
  std::string suffix_;
  std::string local_;
  std::string text_;
};

// A comma-separated list of clauses, all of which must hold: ==, !=, >=, <=, >, <, ~=.
// "==2.4" and "==2.4.*" match every 2.4.x (a user asking for "torch==2.4" means the 2.4
// series); a bare "2.4" means "==2.4". An empty spec matches everything.
class VersionSpec {
 public:
  // kInvalidArgument on a clause that is not an operator followed by a version, naming it.
  static Result<VersionSpec> parse(std::string_view text);

  bool empty() const { return clauses_.empty(); }
  bool matches(const Version& v) const;
  // Why no version at all can satisfy the spec (">=2.5,<2.3"), or nullopt.
  std::optional<std::string> contradiction() const;
  const std::string& text() const { return text_; }

 private:
  struct Clause {
    std::string op;
    Version version;
  };
  std::vector<Clause> clauses_;
  std::string text_;
};

// "torch==2.4" -> {"torch", "==2.4"}; "pytorch" -> {"pytorch", ""}. The name is what comes
// before the first of "=<>!~ ".
struct Requirement {
  std::string name;
  std::string spec;
};
Requirement split_requirement(std::string_view text);

}  // namespace aion::envcfg
