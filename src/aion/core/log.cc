#include "aion/core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace aion::log {
namespace {

// "<3>" style syslog priority prefix, which journald turns into the entry's priority.
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    int prio = 6;
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: prio = 7; break;
      case spdlog::level::info: prio = 6; break;
      case spdlog::level::warn: prio = 4; break;
      case spdlog::level::err: prio = 3; break;
      case spdlog::level::critical: prio = 2; break;
      default: break;
    }
    dest.push_back('<');
    dest.push_back(static_cast<char>('0' + prio));
    dest.push_back('>');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

// systemd sets JOURNAL_STREAM=dev:ino for the stream it connects to stdout/stderr.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  std::string expect = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  return expect == js;
}

std::optional<spdlog::level::level_enum> parse(std::string_view level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn" || level == "warning") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "critical") return spdlog::level::critical;
  if (level == "off") return spdlog::level::off;
  return std::nullopt;
}

}  // namespace

bool valid_level(std::string_view level) {
  return parse(level).has_value();
}

Status set_level(std::string_view level) {
  auto lvl = parse(level);
  if (!lvl) {
    return fail(ErrorCode::kInvalidArgument,
                "unknown log level '" + std::string(level) +
                    "' (expected trace, debug, info, warn, error, critical or off)");
  }
  spdlog::set_level(*lvl);
  return {};
}

Status init(std::string_view level, Format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("aion", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  bool journal = format == Format::kJournal || (format == Format::kAuto && stderr_is_journal());
  if (journal) {
    formatter->add_flag<PriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return set_level(level);
}

}  // namespace aion::log
