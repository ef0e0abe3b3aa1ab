#include "aion/privacy/policy.h"
#include "aion/core/strings.h"

#include <cctype>

namespace aion::privacy {
namespace {

// True when `host` is `domain` or a name under it.
bool under(std::string_view host, std::string_view domain) {
  if (host == domain) return true;
  return host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.';
}

}  // namespace

ConfigSchema privacy_config_schema() {
  ConfigSchema s;
  s.strings("privacy.keep", {},
            "Personal-data categories that may leave the node as they are (email, ip, mac, "
            "host, user, phone, national_id, card, serial); secrets are always replaced")
      .strings("privacy.allow_values", {}, "Exact values that are never replaced")
      .strings("privacy.allow_domains", {},
               "Domains whose e-mail addresses and host names are kept (the company's public "
               "domain), subdomains included")
      .path("privacy.detectors_dir", "",
            "Directory of the shipped detector files; empty = <data dir>/privacy")
      .path("privacy.site_detectors_dir", "",
            "Directory of extra detector and list files that extend the shipped ones")
      .boolean("privacy.users_from_passwd", true,
               "Also replace the names of this host's non-system accounts (/etc/passwd)");
  return s;
}

bool Policy::allows(Category c, std::string_view value) const {
  if (c == Category::kSecret) return false;
  if (!replaces(c)) return true;
  if (allow_values.contains(value)) return true;
  if (c != Category::kEmail && c != Category::kHost) return false;
  if (allow_domains.empty()) return false;
  std::string v = lower(value);
  if (auto at = v.rfind('@'); at != std::string::npos) v.erase(0, at + 1);
  for (const auto& d : allow_domains) {
    if (under(v, d)) return true;
  }
  return false;
}

Result<Policy> policy_from(const Config& config) {
  Policy p;
  for (const auto& name : config.get_strings("privacy.keep")) {
    auto c = category_from(name);
    if (!c) {
      return fail(ErrorCode::kConfig,
                  config.source() + ": privacy.keep: unknown category '" + name +
                      "' (expected email, ip, mac, host, user, phone, national_id, card or "
                      "serial)");
    }
    if (*c == Category::kSecret) {
      return fail(ErrorCode::kConfig, config.source() +
                                          ": privacy.keep: secrets are always replaced; "
                                          "remove \"secret\" from the list");
    }
    p.replace[static_cast<int>(*c)] = false;
  }
  for (const auto& v : config.get_strings("privacy.allow_values")) p.allow_values.insert(v);
  for (const auto& d : config.get_strings("privacy.allow_domains")) {
    std::string v = lower(d);
    while (!v.empty() && v.front() == '.') v.erase(0, 1);
    if (!v.empty()) p.allow_domains.insert(v);
  }
  p.detectors_dir = config.get_string("privacy.detectors_dir");
  p.site_detectors_dir = config.get_string("privacy.site_detectors_dir");
  p.users_from_passwd = config.get_bool("privacy.users_from_passwd");
  return p;
}

}  // namespace aion::privacy
