// Tuning profiles: named sets of kernel and device settings, each with the reason it helps
// and where that advice comes from, loaded from TOML files (data/profiles/*.toml shipped
// with aion, /etc/aion/profiles/*.toml written by the operator).
//
// A profile file:
//   schema_version = 1
//   name = "ai-training"
//   summary = "one line"
//   inherits = ["throughput"]          # optional; parents apply first, the child overrides
//   [[setting]]
//   key = "sysctl.vm.max_map_count"    # see plan.h for the keys aion knows
//   value = 1048576                    # string or integer
//   reason = "one line: why"
//   source = "URL or document name"
// Inheritance works like tuned's `include`: the resolved profile holds the parents' settings
// in order, a key set again by a child replaces the parent's value in place, new keys follow.
// A user profile with the name of a shipped one replaces it. Every error (syntax, unknown
// field, missing reason or source, unknown key, inheritance cycle or unknown parent) names the
// file, line and key. A catalog is an immutable value once loaded; thread-safe to read.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aion/core/error.h"
#include "aion/core/host_fs.h"

namespace aion::tune {

inline constexpr int kProfileSchemaVersion = 1;

struct ProfileSetting {
  std::string key;    // "sysctl.vm.swappiness", "thp.enabled", ...
  std::string value;  // as written (integers turned into their decimal text)
  std::string reason;
  std::string source;
  std::string file;  // where it was defined: "path:line"
};

struct Profile {
  std::string name;
  std::string summary;
  std::vector<std::string> inherits;
  std::vector<ProfileSetting> settings;  // as written in this file
  std::string file;                      // path it was read from
  std::string origin;                    // "builtin" or "user"
};

// Parses one profile file's text; `file` names it in errors.
Result<Profile> parse_profile(std::string_view text, const std::string& file);

// A profile with its inheritance applied.
struct ResolvedProfile {
  std::string name;
  std::string summary;
  std::vector<std::string> chain;  // the profile and its ancestors, the profile first
  std::vector<ProfileSetting> settings;
};

class ProfileCatalog {
 public:
  // Reads every *.toml in `builtin_dir` (a data directory, read directly) and, through
  // `host`, in /etc/aion/profiles (missing is fine). Any malformed file fails the load.
  static Result<ProfileCatalog> load(const std::filesystem::path& builtin_dir, const HostFs& host);
  // From profiles already parsed (tests); later entries replace earlier ones of that name.
  static Result<ProfileCatalog> from(std::vector<Profile> profiles);

  const std::vector<Profile>& profiles() const { return profiles_; }
  const Profile* find(std::string_view name) const;
  // Applies inheritance; fails (kNotFound) for an unknown name or parent and (kConfig) for a
  // cycle, naming the files involved.
  Result<ResolvedProfile> resolve(std::string_view name) const;

 private:
  std::vector<Profile> profiles_;  // sorted by name
};

// Where shipped profiles live: <data_dir>/profiles.
std::filesystem::path builtin_profile_dir();
inline constexpr std::string_view kUserProfileDir = "/etc/aion/profiles";

}  // namespace aion::tune
