#include "aion/telemetry/exposition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace aion::telemetry {
namespace {

void escape_into(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void labels_into(std::string& out, const Labels& labels) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    escape_into(out, v, true);
    out += '"';
  }
  out += '}';
}

Labels sorted(Labels labels) {
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace

std::string series_key(std::string_view name, Labels labels) {
  std::string out(name);
  labels_into(out, sorted(std::move(labels)));
  return out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  return valid_metric_name(name) && name.find(':') == std::string_view::npos;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string render_exposition(std::vector<MetricFamily> families,
                              const ExpositionOptions& options) {
  if (!options.identity_labels) {
    for (auto& f : families) {
      for (auto& s : f.samples) {
        std::erase_if(s.labels, [](const auto& label) {
          return std::find(std::begin(kIdentityLabels), std::end(kIdentityLabels), label.first) !=
                 std::end(kIdentityLabels);
        });
      }
    }
  }
  // One family per name: samples of families that share a name are merged (the first help
  // and type win), and a sample whose labels repeat keeps its first value.
  std::map<std::string, MetricFamily> by_name;
  for (auto& f : families) {
    auto [it, fresh] = by_name.try_emplace(f.name, MetricFamily{f.name, f.help, f.type, {}});
    for (auto& s : f.samples) it->second.samples.push_back({sorted(std::move(s.labels)), s.value});
  }
  std::string out;
  for (auto& [name, f] : by_name) {
    out += "# HELP " + name + " ";
    escape_into(out, f.help, false);
    out += "\n# TYPE " + name + (f.type == MetricType::kCounter ? " counter\n" : " gauge\n");
    std::stable_sort(
        f.samples.begin(), f.samples.end(),
        [](const MetricSample& a, const MetricSample& b) { return a.labels < b.labels; });
    const Labels* prev = nullptr;
    for (const auto& s : f.samples) {
      if (prev && *prev == s.labels) continue;
      prev = &s.labels;
      out += name;
      labels_into(out, s.labels);
      out += ' ';
      out += format_value(s.value);
      out += '\n';
    }
  }
  return out;
}

namespace {

std::unexpected<Error> over(const std::string& what) {
  return fail(ErrorCode::kResourceExhausted, what);
}

// One sample line of the exposition format: `name{label="value",...} value [timestamp_ms]`.
// Errors name the line and column; limits are ResourceExhausted.
class SampleLine {
 public:
  SampleLine(std::string_view line, std::size_t line_no, const ExpositionLimits& limits)
      : line_(line), line_no_(line_no), limits_(limits) {}

  // The sample; `i` is past the leading blanks, at the metric name.
  Result<ParsedSample> parse(std::size_t i) {
    i_ = i;
    ParsedSample s;
    std::size_t at = i_;
    s.name = std::string(name_at());
    if (s.name.size() > limits_.max_name_bytes) {
      i_ = at;
      return too_long("the metric name", limits_.max_name_bytes);
    }
    if (!valid_metric_name(s.name)) {
      i_ = at;
      return bad("expected a metric name");
    }
    skip_spaces();
    if (i_ < line_.size() && line_[i_] == '{') {
      ++i_;
      if (auto st = parse_labels(s); !st) return std::unexpected(st.error());
    }
    skip_spaces();
    if (auto st = parse_value(s.value); !st) return std::unexpected(st.error());
    skip_spaces();
    if (i_ < line_.size()) {
      if (auto st = parse_timestamp(s.t_ms); !st) return std::unexpected(st.error());
    }
    return s;
  }

 private:
  void skip_spaces() {
    while (i_ < line_.size() && (line_[i_] == ' ' || line_[i_] == '\t')) ++i_;
  }
  std::string_view name_at() {
    const std::size_t start = i_;
    while (i_ < line_.size() && (std::isalnum(static_cast<unsigned char>(line_[i_])) ||
                                 line_[i_] == '_' || line_[i_] == ':')) {
      ++i_;
    }
    return line_.substr(start, i_ - start);
  }
  std::unexpected<Error> bad(const std::string& what) const {
    return fail(ErrorCode::kInvalidArgument, "line " + std::to_string(line_no_) + ", column " +
                                                 std::to_string(i_ + 1) + ": " + what);
  }
  std::unexpected<Error> too_long(std::string_view what, std::size_t limit) const {
    return over("line " + std::to_string(line_no_) + ", column " + std::to_string(i_ + 1) + ": " +
                std::string(what) + " is longer than the limit of " + std::to_string(limit) +
                " bytes");
  }

  // The labels after '{', through the closing '}'; a repeated name is an error.
  Status parse_labels(ParsedSample& s) {
    while (true) {
      skip_spaces();
      if (i_ < line_.size() && line_[i_] == '}') {
        ++i_;
        break;
      }
      const std::size_t at = i_;
      std::string label(name_at());
      if (label.size() > limits_.max_name_bytes) {
        i_ = at;
        return too_long("a label name", limits_.max_name_bytes);
      }
      if (s.labels.size() >= limits_.max_labels) {
        i_ = at;
        return over("line " + std::to_string(line_no_) + ", column " + std::to_string(i_ + 1) +
                    ": more than " + std::to_string(limits_.max_labels) +
                    " labels on one sample, the limit");
      }
      if (!valid_label_name(label)) {
        i_ = at;
        return bad("expected a label name or '}'");
      }
      skip_spaces();
      if (i_ >= line_.size() || line_[i_] != '=') return bad("expected '=' after " + label);
      ++i_;
      skip_spaces();
      if (i_ >= line_.size() || line_[i_] != '"') return bad("expected '\"' to open the value");
      ++i_;
      auto value = label_value(label);
      if (!value) return std::unexpected(value.error());
      s.labels.emplace_back(std::move(label), std::move(*value));
      skip_spaces();
      if (i_ < line_.size() && line_[i_] == ',') ++i_;
    }
    // A repeated label: sorted names side by side, O(n log n).
    std::vector<std::string_view> names;
    names.reserve(s.labels.size());
    for (const auto& [k, v] : s.labels) names.push_back(k);
    std::sort(names.begin(), names.end());
    if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
      return fail(ErrorCode::kInvalidArgument, "line " + std::to_string(line_no_) + ": label " +
                                                   std::string(*dup) + " appears twice");
    }
    return {};
  }

  // A quoted label value after its opening '"', escapes resolved, through the closing '"'.
  Result<std::string> label_value(const std::string& label) {
    std::string value;
    bool closed = false;
    while (i_ < line_.size()) {
      if (value.size() > limits_.max_label_value_bytes) {
        return too_long("the value of " + label, limits_.max_label_value_bytes);
      }
      char c = line_[i_++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i_ < line_.size()) {
        char e = line_[i_++];
        value.push_back(e == 'n' ? '\n' : e);
        continue;
      }
      value.push_back(c);
    }
    if (!closed) return bad("the value of " + label + " is not closed");
    if (value.size() > limits_.max_label_value_bytes) {
      return too_long("the value of " + label, limits_.max_label_value_bytes);
    }
    return value;
  }

  // A float, NaN, +Inf, Inf or -Inf.
  Status parse_value(double& value) {
    const std::size_t vstart = i_;
    while (i_ < line_.size() && line_[i_] != ' ' && line_[i_] != '\t') ++i_;
    std::string_view v = line_.substr(vstart, i_ - vstart);
    if (v == "NaN") {
      value = std::nan("");
    } else if (v == "+Inf" || v == "Inf") {
      value = std::numeric_limits<double>::infinity();
    } else if (v == "-Inf") {
      value = -std::numeric_limits<double>::infinity();
    } else {
      const char* b = v.data();
      if (!v.empty() && *b == '+') ++b;
      auto [end, ec] = std::from_chars(b, v.data() + v.size(), value);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
        i_ = vstart;
        return bad("expected a number as the value");
      }
    }
    return {};
  }

  // Integer milliseconds, the last thing on the line.
  Status parse_timestamp(std::optional<std::int64_t>& t_ms) {
    const std::size_t tstart = i_;
    while (i_ < line_.size() && line_[i_] != ' ' && line_[i_] != '\t') ++i_;
    std::string_view ts = line_.substr(tstart, i_ - tstart);
    std::int64_t t = 0;
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
    if (ec != std::errc() || end != ts.data() + ts.size()) {
      i_ = tstart;
      return bad("expected a timestamp in milliseconds");
    }
    t_ms = t;
    skip_spaces();
    if (i_ < line_.size()) return bad("unexpected text after the timestamp");
    return {};
  }

  std::string_view line_;
  std::size_t line_no_;
  const ExpositionLimits& limits_;
  std::size_t i_ = 0;
};

}  // namespace

Result<std::vector<ParsedSample>> parse_exposition(std::string_view text,
                                                   const ExpositionLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return over("the text is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                std::to_string(limits.max_bytes) + "; push it in smaller parts");
  }
  std::vector<ParsedSample> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size() || line[i] == '#') continue;
    if (out.size() >= limits.max_samples) {
      return over("line " + std::to_string(line_no) + ": more than " +
                  std::to_string(limits.max_samples) +
                  " samples (series) in one request, the limit; push them in smaller parts");
    }
    auto s = SampleLine(line, line_no, limits).parse(i);
    if (!s) return std::unexpected(s.error());
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace aion::telemetry
