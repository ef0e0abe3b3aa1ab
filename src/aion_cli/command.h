// The command tree of aion as the command files see it: a small interface over the argument
// parser (CLI11), so that only command.cc compiles the parser. CLI11 is header-only, and every
// file that builds its App instantiates a few hundred of its inline functions; behind this
// interface that happens once.
//
// A CommandLine owns the tree; Command and Option are handles into it, valid as long as the
// CommandLine. Variables bound to flags and options must outlive the parse. Not thread-safe:
// build the tree, then parse once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace aion::cli {

// One flag, option or positional of a command; its setters chain.
class Option {
 public:
  Option& required();
  // The value must lie in [min, max] (checked when parsed; shown in --help).
  Option& range(int min, int max);
  Option& range(double min, double max);
  // The value must be one of `choices`.
  Option& one_of(std::vector<std::string> choices);
  Option& positive();
  // Giving both this and `other` is a usage error.
  Option& excludes(const Option& other);
  // --help shows the bound variable's value as the default.
  Option& show_default();

 private:
  friend class Command;
  explicit Option(CLI::Option* opt) : opt_(opt) {}
  CLI::Option* opt_;
};

// A command (the root, or a subcommand at any depth).
class Command {
 public:
  // A subcommand; it inherits the footer, the fall-through and the prefix-command setting
  // this command has when it is added.
  Command add(const std::string& name, const std::string& description);

  // Flags and options: `names` as "--name", "-n,--name", or "NAME" for a positional.
  Option flag(const std::string& names, bool& value, const std::string& description);
  Option option(const std::string& names, std::string& value, const std::string& description);
  Option option(const std::string& names, int& value, const std::string& description);
  Option option(const std::string& names, long long& value, const std::string& description);
  Option option(const std::string& names, double& value, const std::string& description);
  Option option(const std::string& names, std::vector<long long>& values,
                const std::string& description);
  // Repeatable (--allow-net A --allow-net B); each use appends one value.
  Option option(const std::string& names, std::vector<std::string>& values,
                const std::string& description);

  // Exactly one subcommand must be given.
  Command& require_subcommand();
  // Text shown at the end of --help.
  Command& footer(const std::string& text);
  // Left out of --help and of the README's command index (not of shell completion).
  Command& hidden();
  // Options this command does not know are tried on its parent (set before adding
  // subcommands, which inherit it).
  Command& fallthrough();
  // Every word from the first one that is not an option of this command on is left
  // unparsed, for remaining() (a job's command line).
  Command& pass_through();
  // Runs when the command line named this command (after its subcommands' actions).
  Command& action(std::function<void()> run);

  // After parsing: whether a subcommand of this one was given, and the words left unparsed.
  bool ran_subcommand() const;
  std::vector<std::string> remaining() const;

 private:
  friend class CommandLine;
  explicit Command(CLI::App* app) : app_(app) {}
  CLI::App* app_;
};

// The tree's shape as --help shows it, for shell completion and the command index.
struct CommandInfo {
  struct Positional {
    std::string name;
    bool required = false;
    bool repeated = false;  // takes several values
  };
  std::string name;
  std::string description;
  bool hidden = false;
  std::vector<std::string> option_names;  // "--json", "-h", ... in declaration order
  std::vector<Positional> positionals;    // in declaration order
  std::vector<CommandInfo> subcommands;   // in registration order
};

class CommandLine {
 public:
  CommandLine(const std::string& name, const std::string& description);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  Command root();
  CommandInfo describe() const;

  // Parses argv and runs the actions of the commands it names: nullopt then. Otherwise the
  // exit status to end with: 0 after printing --help, 2 after printing a usage error.
  std::optional<int> parse(int argc, char** argv);

 private:
  std::unique_ptr<CLI::App> app_;
};

}  // namespace aion::cli
