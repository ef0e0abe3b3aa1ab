// The [guard] section of the node's configuration: where a site's sandbox profiles live and
// whether aiond may turn kernel auditing on so that Landlock's denials are recorded. A plain
// schema value; thread-safe.
#pragma once

#include "aion/core/config.h"

namespace aion::guard {

ConfigSchema guard_config_schema();

}  // namespace aion::guard
