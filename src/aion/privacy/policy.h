// Policy: what the privacy gate replaces, read from the [privacy] config section.
//
// Secrets are always replaced. Every personal-data category is replaced unless listed in
// privacy.keep; values in privacy.allow_values and e-mail addresses and host names in (or
// under) privacy.allow_domains are kept. A Policy is a plain value; thread-safe to read,
// share it freely.
#pragma once

#include <array>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "aion/core/config.h"
#include "aion/core/error.h"
#include "aion/privacy/detectors.h"

namespace aion::privacy {

// The [privacy] section: privacy.keep, privacy.allow_values, privacy.allow_domains,
// privacy.detectors_dir, privacy.site_detectors_dir, privacy.users_from_passwd.
ConfigSchema privacy_config_schema();

struct Policy {
  std::array<bool, kCategoryCount> replace;  // by Category; kSecret is always true
  std::set<std::string, std::less<>> allow_values;
  std::set<std::string, std::less<>> allow_domains;  // lower case, no leading dot
  std::filesystem::path detectors_dir;               // "" = data_dir()/privacy
  std::filesystem::path site_detectors_dir;          // "" = none
  bool users_from_passwd = true;

  Policy() { replace.fill(true); }
  bool replaces(Category c) const { return replace[static_cast<int>(c)]; }
  // True when the policy lets `value` of category `c` leave as it is.
  bool allows(Category c, std::string_view value) const;
};

// Reads the [privacy] section; kConfig naming the key when keep lists "secret" or an unknown
// category.
Result<Policy> policy_from(const Config& config);

}  // namespace aion::privacy
