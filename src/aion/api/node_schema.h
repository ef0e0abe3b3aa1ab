// The whole configuration schema of a node: the base sections of core and every module's own
// keys. aiond reads its config file against it, and the CLI reads the same file (daemon.socket,
// [[simulate.gpu]], hw.*) against the same schema, so a file one accepts the other accepts.
// A pure function; thread-safe.
#pragma once

#include "aion/core/config.h"

namespace aion::api {

ConfigSchema node_config_schema();

}  // namespace aion::api
