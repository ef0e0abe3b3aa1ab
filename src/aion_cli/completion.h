// Shell completion scripts generated from the CLI11 command tree.
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace aion::cli {

// A bash script (zsh: the same through bashcompinit) completing commands and flags.
std::string completion_script(const CLI::App& app, std::string_view shell);

}  // namespace aion::cli
