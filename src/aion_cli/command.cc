// The one file that compiles CLI11 (command.h says why).
#include "command.h"

#include <CLI/CLI.hpp>

namespace aion::cli {

Option& Option::required() {
  opt_->required();
  return *this;
}

Option& Option::range(int min, int max) {
  opt_->check(CLI::Range(min, max));
  return *this;
}

Option& Option::range(double min, double max) {
  opt_->check(CLI::Range(min, max));
  return *this;
}

Option& Option::one_of(std::vector<std::string> choices) {
  opt_->check(CLI::IsMember(std::move(choices)));
  return *this;
}

Option& Option::positive() {
  opt_->check(CLI::PositiveNumber);
  return *this;
}

Option& Option::excludes(const Option& other) {
  opt_->excludes(other.opt_);
  return *this;
}

Option& Option::show_default() {
  opt_->capture_default_str();
  return *this;
}

Command Command::add(const std::string& name, const std::string& description) {
  return Command(app_->add_subcommand(name, description));
}

Option Command::flag(const std::string& names, bool& value, const std::string& description) {
  return Option(app_->add_flag(names, value, description));
}

Option Command::option(const std::string& names, std::string& value,
                       const std::string& description) {
  return Option(app_->add_option(names, value, description));
}

Option Command::option(const std::string& names, int& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}

Option Command::option(const std::string& names, long long& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}

Option Command::option(const std::string& names, double& value, const std::string& description) {
  return Option(app_->add_option(names, value, description));
}

Option Command::option(const std::string& names, std::vector<long long>& values,
                       const std::string& description) {
  return Option(app_->add_option(names, values, description));
}

Option Command::option(const std::string& names, std::vector<std::string>& values,
                       const std::string& description) {
  CLI::Option* o = app_->add_option(names, values, description);
  o->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return Option(o);
}

Command& Command::require_subcommand() {
  app_->require_subcommand(1);
  return *this;
}

Command& Command::footer(const std::string& text) {
  app_->footer(text);
  return *this;
}

Command& Command::hidden() {
  app_->group("");
  return *this;
}

Command& Command::fallthrough() {
  app_->fallthrough();
  return *this;
}

Command& Command::pass_through() {
  app_->fallthrough(false);
  app_->prefix_command();
  return *this;
}

Command& Command::action(std::function<void()> run) {
  app_->callback(std::move(run));
  return *this;
}

bool Command::ran_subcommand() const {
  return !app_->get_subcommands().empty();
}

std::vector<std::string> Command::remaining() const {
  return app_->remaining();
}

namespace {

CommandInfo describe_app(const CLI::App& app) {
  CommandInfo info;
  info.name = app.get_name();
  info.description = app.get_description();
  info.hidden = app.get_group().empty();
  for (const auto* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) info.option_names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) info.option_names.push_back("-" + s);
    if (!opt->get_positional() || !opt->get_lnames().empty() || !opt->get_snames().empty())
      continue;
    std::string name = opt->get_name(true);
    if (name.empty()) continue;  // a hidden positional
    info.positionals.push_back(
        {std::move(name), opt->get_required(), opt->get_items_expected_max() > 1});
  }
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    info.subcommands.push_back(describe_app(*sub));
  return info;
}

}  // namespace

CommandLine::CommandLine(const std::string& name, const std::string& description)
    : app_(std::make_unique<CLI::App>(description, name)) {}

CommandLine::~CommandLine() = default;

Command CommandLine::root() {
  return Command(app_.get());
}

CommandInfo CommandLine::describe() const {
  return describe_app(*app_);
}

std::optional<int> CommandLine::parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_->exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace aion::cli
