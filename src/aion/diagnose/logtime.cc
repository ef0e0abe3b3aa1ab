#include "aion/diagnose/logtime.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>

namespace aion::diagnose {
namespace {

constexpr int kMinYear = 1970;
constexpr int kMaxYear = 2200;
constexpr double kMaxUptimeS = 100.0 * 365 * 86400;

bool digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return false;
  for (std::size_t i = at; i < at + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

int num(std::string_view s, std::size_t at, std::size_t n) {
  return std::atoi(std::string(s.substr(at, n)).c_str());
}

Clock::Wall civil(int y, int mo, int d, int h, int mi, int s, int ms) {
  using namespace std::chrono;
  sys_days day = year_month_day{year{y}, month{static_cast<unsigned>(mo)},
                                std::chrono::day{static_cast<unsigned>(d)}};
  return Clock::Wall(duration_cast<Clock::Wall::duration>(
      day.time_since_epoch() + hours(h) + minutes(mi) + seconds(s) + milliseconds(ms)));
}

}  // namespace

std::optional<Clock::Wall> parse_log_time(std::string_view line, int year, Clock::Wall boot) {
  // ISO: 2026-11-30T11:18:23[.fff][Z|+hh:mm]
  if (digits(line, 0, 4) && line.size() >= 19 && line[4] == '-' && digits(line, 5, 2) &&
      line[7] == '-' && digits(line, 8, 2) && (line[10] == 'T' || line[10] == ' ') &&
      digits(line, 11, 2) && line[13] == ':' && digits(line, 14, 2) && line[16] == ':' &&
      digits(line, 17, 2)) {
    int ms = 0;
    std::size_t p = 19;
    if (p < line.size() && (line[p] == '.' || line[p] == ',')) {
      std::size_t q = p + 1;
      int scale = 100;
      while (q < line.size() && std::isdigit(static_cast<unsigned char>(line[q]))) {
        ms += (line[q] - '0') * scale;
        scale /= 10;
        ++q;
      }
      p = q;
    }
    const int y = num(line, 0, 4), mo = num(line, 5, 2), d = num(line, 8, 2);
    const int h = num(line, 11, 2), mi = num(line, 14, 2), sec = num(line, 17, 2);
    // Years the clock can hold (system_clock counts nanoseconds: it ends in 2262), fields in
    // range; anything else is not a timestamp but text that looks like one.
    if (y < kMinYear || y > kMaxYear || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
      return std::nullopt;
    Clock::Wall t = civil(y, mo, d, h, mi, sec, ms);
    if (p + 6 <= line.size() && (line[p] == '+' || line[p] == '-') && digits(line, p + 1, 2)) {
      int off = num(line, p + 1, 2) * 60 +
                (line[p + 3] == ':' ? num(line, p + 4, 2) : num(line, p + 3, 2));
      t -= std::chrono::minutes(line[p] == '+' ? off : -off);
    }
    return t;
  }
  // dmesg: [ 1234.567890]
  if (!line.empty() && line[0] == '[') {
    std::size_t close = line.find(']');
    if (close != std::string_view::npos && close < 24) {
      std::string inner(line.substr(1, close - 1));
      char* end = nullptr;
      double sec = std::strtod(inner.c_str(), &end);
      // Seconds since boot: a century of uptime at most (and no NaN or infinity), so that
      // the conversion to the clock's nanoseconds cannot overflow.
      if (end && end != inner.c_str() && *end == '\0' && sec >= 0 && sec < kMaxUptimeS) {
        return boot + std::chrono::duration_cast<Clock::Wall::duration>(
                          std::chrono::duration<double>(sec));
      }
    }
  }
  // syslog: Nov 30 11:18:23
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (line.size() >= 15 && line[3] == ' ' && line[9] == ':' && line[12] == ':') {
    for (int m = 0; m < 12; ++m) {
      if (line.substr(0, 3) != kMonths[m]) continue;
      std::string d(line.substr(4, 2));
      int day = std::atoi(d.c_str());
      if (day < 1 || day > 31 || !digits(line, 7, 2) || !digits(line, 10, 2) ||
          !digits(line, 13, 2) || year < kMinYear || year > kMaxYear)
        return std::nullopt;
      return civil(year, m + 1, day, num(line, 7, 2), num(line, 10, 2), num(line, 13, 2), 0);
    }
  }
  return std::nullopt;
}

}  // namespace aion::diagnose
