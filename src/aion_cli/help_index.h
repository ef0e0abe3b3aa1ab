// The index of every `aion` command, rendered from the command tree itself, so that the
// README's command list cannot drift from the real commands. A pure function; no state;
// thread-safe.
#pragma once

#include <string>

#include "command.h"

namespace aion::cli {

// A Markdown table with one row per visible command, depth first in registration order:
// "| `aion admin token create` | <its description> |". A command's positionals follow its
// path (`ID` required, `[ID]` optional, `ID...` repeated). Hidden commands and their children
// are left out. Pipes in descriptions are escaped for Markdown.
std::string command_index_markdown(const CommandInfo& tree);

}  // namespace aion::cli
