#include "aion/logs/header_detect.h"

#include <algorithm>
#include <array>

#include "aion/core/data_file.h"

namespace aion::logs {
namespace {

bool digit(char c) {
  return c >= '0' && c <= '9';
}

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Reads `n` digits (exactly) at s[i], advancing i.
bool digits(std::string_view s, std::size_t& i, std::size_t min, std::size_t max) {
  std::size_t n = 0;
  while (i < s.size() && digit(s[i]) && n < max) {
    ++i;
    ++n;
  }
  return n >= min;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), digit);
}

// hh:mm:ss with an optional ,fraction or .fraction; whole string from i.
bool time_at(std::string_view s, std::size_t& i) {
  if (!digits(s, i, 1, 2) || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!digits(s, i, 2, 2) || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!digits(s, i, 2, 2)) return false;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    if (!digits(s, i, 1, 9)) return false;
  }
  return true;
}

bool valid_time(std::string_view s) {
  std::size_t i = 0;
  return time_at(s, i) && i == s.size();
}

// yyyy-mm-dd, yyyy/mm/dd (Go's log, nginx) or yyyy.mm.dd; also mmdd for klog.
bool date_at(std::string_view s, std::size_t& i) {
  if (!digits(s, i, 4, 4) || i >= s.size()) return false;
  const char sep = s[i];
  if (sep != '-' && sep != '/' && sep != '.') return false;
  ++i;
  if (!digits(s, i, 1, 2) || i >= s.size() || s[i] != sep) return false;
  ++i;
  return digits(s, i, 1, 2);
}

bool valid_date(std::string_view s) {
  std::size_t i = 0;
  if (date_at(s, i) && i == s.size()) return true;
  return s.size() == 4 && all_digits(s);  // klog's mmdd
}

// ISO 8601 / RFC 3339: date, 'T' or ' ', time, then Z or an offset (+hh:mm, +hhmm, +hh).
bool valid_timestamp(std::string_view s) {
  std::size_t i = 0;
  if (!date_at(s, i) || i >= s.size() || (s[i] != 'T' && s[i] != ' ')) return false;
  ++i;
  if (!time_at(s, i)) return false;
  if (i == s.size()) return true;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  ++i;
  if (!digits(s, i, 2, 2)) return false;
  if (i < s.size() && s[i] == ':') ++i;
  digits(s, i, 0, 2);
  return i == s.size();
}

bool valid_month(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return std::find(kMonths.begin(), kMonths.end(), s) != kMonths.end();
}

bool valid_weekday(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  return std::find(kDays.begin(), kDays.end(), s) != kDays.end();
}

bool valid_level(std::string_view s) {
  static constexpr std::array<std::string_view, 24> kLevels = {
      "TRACE", "DEBUG",  "INFO",     "INFORMATION", "NOTICE",  "WARN",  "WARNING", "ERROR",
      "ERR",   "CRIT",   "CRITICAL", "FATAL",       "ALERT",   "EMERG", "SEVERE",  "FINE",
      "FINER", "FINEST", "PANIC",    "DPANIC",      "VERBOSE", "DBG",   "WRN",     "ERRO"};
  if (s.size() == 1) return std::string_view("IWEFDVTC").find(s[0]) != std::string_view::npos;
  if (s.size() > 11) return false;
  std::string upper(s);
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return std::find(kLevels.begin(), kLevels.end(), upper) != kLevels.end();
}

// One word of the characters names use: no spaces, at least one letter, not ending in ':'.
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 256 || s.back() == ':') return false;
  bool letter = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '[' || c == ']') return false;
    letter = letter || alpha(c);
  }
  return letter;
}

bool valid_number(std::string_view s) {
  std::size_t dot = s.find('.');
  if (dot == std::string_view::npos) return all_digits(s);
  return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

enum class FieldType {
  kAny,
  kMonth,
  kWeekday,
  kDay,
  kYear,
  kTime,
  kDate,
  kTimestamp,
  kLevel,
  kNumber,
  kEpoch,
  kName,
  kToken
};

FieldType type_of(std::string_view name) {
  if (name == "Month") return FieldType::kMonth;
  if (name == "Weekday") return FieldType::kWeekday;
  if (name == "Day") return FieldType::kDay;
  if (name == "Year") return FieldType::kYear;
  if (name == "Time") return FieldType::kTime;
  if (name == "Date") return FieldType::kDate;
  if (name == "Timestamp") return FieldType::kTimestamp;
  if (name == "Level") return FieldType::kLevel;
  if (name == "Pid" || name == "Tid" || name == "Status" || name == "Bytes" || name == "Uptime")
    return FieldType::kNumber;
  if (name == "Epoch") return FieldType::kEpoch;
  if (name == "Program" || name == "Component" || name == "Thread" || name == "Stream" ||
      name == "Module")
    return FieldType::kName;
  if (name == "Host" || name == "Client") return FieldType::kToken;
  return FieldType::kAny;
}

// The fields of `format` that sit inside an optional group "( ... )?": they may be empty.
std::vector<std::string> optional_fields(std::string_view format) {
  std::vector<std::string> out;
  std::vector<std::size_t> open;  // positions of unclosed '('
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] == '\\') {
      ++i;
    } else if (format[i] == '(') {
      open.push_back(i);
    } else if (format[i] == ')' && !open.empty()) {
      if (i + 1 < format.size() && format[i + 1] == '?') groups.emplace_back(open.back(), i);
      open.pop_back();
    }
  }
  for (std::size_t i = format.find('<'); i != std::string_view::npos; i = format.find('<', i + 1)) {
    const std::size_t close = format.find('>', i);
    if (close == std::string_view::npos) break;
    for (auto [from, to] : groups) {
      if (from < i && close < to) {
        out.emplace_back(format.substr(i + 1, close - i - 1));
        break;
      }
    }
  }
  return out;
}

}  // namespace

bool valid_header_field(std::string_view name, std::string_view v) {
  switch (type_of(name)) {
    case FieldType::kAny: return true;
    case FieldType::kMonth: return valid_month(v);
    case FieldType::kWeekday: return valid_weekday(v);
    case FieldType::kDay: return v.size() <= 2 && all_digits(v);
    case FieldType::kYear: return v.size() == 4 && all_digits(v);
    case FieldType::kTime: return valid_time(v);
    case FieldType::kDate: return valid_date(v);
    case FieldType::kTimestamp: return valid_timestamp(v);
    case FieldType::kLevel: return valid_level(v);
    case FieldType::kNumber: return valid_number(v) && v.size() <= 20;
    case FieldType::kEpoch: {
      std::size_t dot = v.find('.');
      std::string_view whole = v.substr(0, dot);
      return valid_number(v) && whole.size() >= 9 && whole.size() <= 13;
    }
    case FieldType::kName: return valid_name(v);
    case FieldType::kToken:
      return !v.empty() && v.size() <= 256 && v.find_first_of(" \t[]") == std::string_view::npos;
  }
  return true;
}

Result<HeaderDetector> HeaderDetector::parse(std::string_view toml_text, std::string source) {
  auto file = DataFile::parse(toml_text, std::move(source));
  if (!file) return std::unexpected(file.error());
  return from(*file);
}

Result<HeaderDetector> HeaderDetector::load(const std::filesystem::path& file) {
  auto f = DataFile::read(file);
  if (!f) return std::unexpected(f.error());
  return from(*f);
}

Result<HeaderDetector> HeaderDetector::from(const DataFile& f) {
  const DataFile* file = &f;
  if (auto s = file->expect_schema_version(1); !s) return std::unexpected(s.error());
  auto rows = file->rows(file->root(), "layout");
  if (!rows) return std::unexpected(rows.error());
  HeaderDetector d;
  for (const toml::table* row : *rows) {
    if (auto s = file->expect_keys(*row, {"name", "format", "about"}, "layout"); !s) {
      return std::unexpected(s.error());
    }
    auto name = file->string(*row, "name");
    if (!name) return std::unexpected(name.error());
    auto format = file->string(*row, "format");
    if (!format) return std::unexpected(format.error());
    auto about = file->optional_string(*row, "about");
    if (!about) return std::unexpected(about.error());
    auto h = HeaderFormat::parse(*format);
    if (!h) return file->bad(*row, "layout '" + *name + "': " + h.error().message());
    if (d.index_of(*name) != static_cast<std::size_t>(-1)) {
      return file->bad(*row, "layout '" + *name + "' is defined twice");
    }
    std::size_t checked = 0;
    for (const auto& f : h->names()) checked += type_of(f) != FieldType::kAny;
    d.layouts_.push_back({*name, *format, *about});
    d.formats_.push_back(std::move(*h));
    d.checked_.push_back(checked);
    d.optional_.push_back(optional_fields(*format));
  }
  if (d.layouts_.empty()) {
    return fail(ErrorCode::kCorrupt, file->source() + ": no [[layout]] tables");
  }
  return d;
}

std::size_t HeaderDetector::index_of(std::string_view name) const {
  for (std::size_t i = 0; i < layouts_.size(); ++i) {
    if (layouts_[i].name == name) return i;
  }
  return static_cast<std::size_t>(-1);
}

std::optional<HeaderFields> HeaderDetector::split(std::size_t index, std::string_view line) const {
  auto f = formats_[index].split(line);
  if (!f) return std::nullopt;
  const auto& optional = optional_[index];
  for (const auto& [name, value] : f->fields) {
    if (value.empty() && std::find(optional.begin(), optional.end(), name) != optional.end()) {
      continue;
    }
    if (!valid_header_field(name, value)) return std::nullopt;
  }
  return f;
}

std::optional<Detection> HeaderDetector::detect(const std::vector<std::string>& lines,
                                                double min_share) const {
  std::size_t sampled = 0;
  std::vector<std::size_t> matched(layouts_.size(), 0);
  for (const auto& line : lines) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++sampled;
    for (std::size_t i = 0; i < layouts_.size(); ++i) matched[i] += split(i, line).has_value();
  }
  if (sampled == 0) return std::nullopt;
  std::size_t best = 0;
  for (std::size_t i = 1; i < layouts_.size(); ++i) {
    if (matched[i] > matched[best] ||
        (matched[i] == matched[best] && checked_[i] > checked_[best])) {
      best = i;
    }
  }
  if (matched[best] == 0 ||
      static_cast<double>(matched[best]) < min_share * static_cast<double>(sampled)) {
    return std::nullopt;
  }
  return Detection{layouts_[best], matched[best], sampled};
}

std::string HeaderDetector::source_of(const HeaderFields& fields) {
  for (const auto& [name, value] : fields.fields) {
    if (name == "Program" || name == "Component" || name == "Unit" || name == "App") return value;
  }
  return {};
}

}  // namespace aion::logs
