// The index of every `aion` command, rendered from the CLI11 command tree itself, so that the
// README's command list cannot drift from the real commands. Pure functions over a built
// App; no state.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace aion::cli {

// A Markdown table with one row per visible command, depth first in registration order:
// "| `aion admin token create` | <its description> |". A command's positionals follow its
// path (`ID` required, `[ID]` optional, `ID...` repeated). Hidden commands (empty group) and
// their children are left out. Pipes in descriptions are escaped for Markdown.
std::string command_index_markdown(const CLI::App& app);

// Registers the hidden `aion help-index [--markdown]`, which prints command_index_markdown()
// of `app`. Call it after every other command is added.
void add_help_index_command(CLI::App& app);

}  // namespace aion::cli
