// Timestamps of log lines read from files (`aion diagnose FILE`): RFC 3339 / ISO 8601
// ("2026-11-30T11:18:23.123Z", journalctl -o short-iso), syslog ("Nov 30 11:18:23", in
// `year`, UTC) and dmesg ("[ 1234.567890]", seconds since boot, added to `boot`). Lines
// without one return nullopt (the caller keeps the previous line's time). Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "aion/core/clock.h"

namespace aion::diagnose {

std::optional<Clock::Wall> parse_log_time(std::string_view line, int year, Clock::Wall boot);

}  // namespace aion::diagnose
