// Drop-ins: the files that make a tuning plan survive a reboot, sysctl.d for sysctls and
// tmpfiles.d `w` lines for sysfs and procfs attributes (IRQ affinity is not persisted:
// interrupt numbers change from boot to boot). Pure functions of the plan; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace aion::tune {

struct Plan;

// The lines that make the plan survive a reboot: sysctl.d for sysctls, tmpfiles.d `w`
// lines for sysfs and procfs attributes. Empty when the plan has none of that kind.
std::string sysctl_dropin(const Plan& plan);
std::string tmpfiles_dropin(const Plan& plan);
inline constexpr std::string_view kSysctlDropin = "/etc/sysctl.d/90-aion-tune.conf";
inline constexpr std::string_view kTmpfilesDropin = "/etc/tmpfiles.d/aion-tune.conf";

}  // namespace aion::tune
