#include "aion/tune/dropin.h"

#include "aion/tune/plan.h"

namespace aion::tune {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

std::string sysctl_dropin(const Plan& plan) {
  std::string body;
  for (const auto& ps : plan.settings) {
    if (!ps.unsupported.empty() || !starts_with(ps.setting.key, "sysctl.")) continue;
    for (const auto& t : ps.targets) {
      body += "# " + ps.setting.reason + " (" + ps.setting.source + ")\n";
      body += ps.setting.key.substr(7) + " = " + t.want + "\n";
    }
  }
  if (body.empty()) return body;
  return "# Written by `aion tune apply " + plan.profile + "`; `aion tune rollback` removes it.\n" +
         body;
}

std::string tmpfiles_dropin(const Plan& plan) {
  std::string body;
  for (const auto& ps : plan.settings) {
    // Interrupt numbers change from boot to boot: IRQ affinity is not persisted.
    if (!ps.unsupported.empty() || starts_with(ps.setting.key, "sysctl.") ||
        starts_with(ps.setting.key, "irq.")) {
      continue;
    }
    body += "# " + ps.setting.key + ": " + ps.setting.reason + "\n";
    for (const auto& t : ps.targets) body += "w " + t.path + " - - - - " + t.want + "\n";
  }
  if (body.empty()) return body;
  return "# Written by `aion tune apply " + plan.profile + "`; `aion tune rollback` removes it.\n" +
         body;
}

}  // namespace aion::tune
