// Shell completion scripts generated from the command tree. A pure function of the tree;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "command.h"

namespace aion::cli {

// A bash script (zsh: the same through bashcompinit) completing commands and flags of every
// command of `tree`, hidden ones included.
std::string completion_script(const CommandInfo& tree, std::string_view shell);

}  // namespace aion::cli
