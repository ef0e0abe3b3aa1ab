// aion help-index: the command index of the README, generated from the command tree.
#include "help_index.h"

#include <sstream>

namespace aion::cli {
namespace {

// " ID", " [ID]", " ID..." for each positional of cmd, in declaration order.
std::string positionals_of(const CommandInfo& cmd) {
  std::string out;
  for (const auto& p : cmd.positionals) {
    std::string name = p.name + (p.repeated ? "..." : "");
    out += p.required ? " " + name : " [" + name + "]";
  }
  return out;
}

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    if (c == '\n') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

void rows(const CommandInfo& cmd, const std::string& path, std::ostringstream& out) {
  for (const auto& sub : cmd.subcommands) {
    if (sub.hidden) continue;
    std::string sub_path = path + " " + sub.name;
    out << "| `" << sub_path << positionals_of(sub) << "` | " << escape_cell(sub.description)
        << " |\n";
    rows(sub, sub_path, out);
  }
}

}  // namespace

std::string command_index_markdown(const CommandInfo& tree) {
  std::ostringstream out;
  out << "| command | what it does |\n|---|---|\n";
  rows(tree, tree.name, out);
  return out.str();
}

}  // namespace aion::cli
