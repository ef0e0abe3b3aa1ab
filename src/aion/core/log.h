// Logging setup. aion logs through spdlog, one line per event with key=value fields and no
// secrets. Under systemd (JOURNAL_STREAM set and matching stderr) lines are plain, with a
// "<N>" syslog priority prefix that journald understands and no timestamp of our own;
// elsewhere they carry an ISO timestamp and a level. Call init once, early, from main,
// before any thread starts (not thread-safe); set_level() and valid_level() are thread-safe
// (spdlog's registry locks), so a config reload may change the level from any thread.
#pragma once

#include <string_view>

#include "aion/core/error.h"

namespace aion::log {

enum class Format { kAuto, kJournal, kConsole };

// level: trace|debug|info|warn|error|critical|off.
Status init(std::string_view level, Format format = Format::kAuto);
Status set_level(std::string_view level);
bool valid_level(std::string_view level);

}  // namespace aion::log
