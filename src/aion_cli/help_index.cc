// aion help-index: the command index of the README, generated from the command tree.
#include "help_index.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

namespace aion::cli {
namespace {

bool visible(const CLI::App& cmd) {
  return !cmd.get_group().empty();
}

// " ID", " [ID]", " ID..." for each positional of cmd, in declaration order.
std::string positionals_of(const CLI::App& cmd) {
  std::string out;
  for (const auto* opt : cmd.get_options()) {
    if (!opt->get_positional() || !opt->get_lnames().empty() || !opt->get_snames().empty()) {
      continue;
    }
    std::string name = opt->get_name(true);
    if (name.empty()) continue;  // a hidden positional
    if (opt->get_items_expected_max() > 1) name += "...";
    out += opt->get_required() ? " " + name : " [" + name + "]";
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

void rows(const CLI::App& cmd, const std::string& path, std::ostringstream& out) {
  for (const auto* sub : cmd.get_subcommands([](const CLI::App*) { return true; })) {
    if (!visible(*sub)) continue;
    std::string sub_path = path + " " + sub->get_name();
    out << "| `" << sub_path << positionals_of(*sub) << "` | "
        << escape_cell(sub->get_description()) << " |\n";
    rows(*sub, sub_path, out);
  }
}

}  // namespace

std::string command_index_markdown(const CLI::App& app) {
  std::ostringstream out;
  out << "| command | what it does |\n|---|---|\n";
  rows(app, app.get_name(), out);
  return out.str();
}

void add_help_index_command(CLI::App& app) {
  auto* index = app.add_subcommand(
      "help-index", "Print the index of every command as a Markdown table (for the README)");
  index->add_flag("--markdown")->description("Markdown output (the only format)");
  index->group("");  // hidden: a tool for the documentation, not a user command
  index->callback([&app] { std::printf("%s", command_index_markdown(app).c_str()); });
}

}  // namespace aion::cli
