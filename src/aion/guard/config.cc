#include "aion/guard/config.h"

namespace aion::guard {

ConfigSchema guard_config_schema() {
  ConfigSchema s;
  s.path("guard.profiles_dir", "/etc/aion/guard",
         "Directory of the site's sandbox profiles (*.toml); a profile of a shipped name "
         "replaces it")
      .path("guard.endpoints_file", "/etc/aion/guard/endpoints.toml",
            "The site's known endpoints, naming what jobs reach in their egress record (same "
            "form as data/guard/endpoints.toml; its entries win)")
      .string("guard.kernel_audit", "enable",
              "\"enable\": aiond turns kernel auditing on (AUDIT_SET) when it is off, so that "
              "Landlock reports what sandboxes refuse; \"leave\": never change it (Landlock's "
              "denials are then recorded only where auditd or auditctl turned it on)",
              {"enable", "leave"});
  return s;
}

}  // namespace aion::guard
