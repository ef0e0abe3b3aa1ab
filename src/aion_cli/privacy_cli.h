// The privacy gate as CLI commands load it (aion redact, aion support-bundle): the policy of
// --policy FILE or the config's [privacy] section, and the detectors it names, with the
// accounts of the host root's /etc/passwd. Not thread-safe: reports through the command's
// Context, on its thread.
#pragma once

#include <optional>
#include <string>

#include "aion/privacy/redactor.h"
#include "cli.h"

namespace aion::cli {

// On a bad policy or detector file prints the error, sets ctx.exit_code and returns nullopt.
std::optional<privacy::Redactor> load_redactor(Context& ctx, const std::string& policy_file);

}  // namespace aion::cli
