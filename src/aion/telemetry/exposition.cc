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

Result<std::vector<ParsedSample>> parse_exposition(std::string_view text,
                                                   const ExpositionLimits& limits) {
  auto over = [](const std::string& what) { return fail(ErrorCode::kResourceExhausted, what); };
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
    auto skip_spaces = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    };
    skip_spaces();
    if (i == line.size() || line[i] == '#') continue;
    auto bad = [&](const std::string& what) {
      return fail(ErrorCode::kInvalidArgument, "line " + std::to_string(line_no) + ", column " +
                                                   std::to_string(i + 1) + ": " + what);
    };
    auto name_at = [&] {
      const std::size_t start = i;
      while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) ||
                                 line[i] == '_' || line[i] == ':')) {
        ++i;
      }
      return line.substr(start, i - start);
    };
    if (out.size() >= limits.max_samples) {
      return over("line " + std::to_string(line_no) + ": more than " +
                  std::to_string(limits.max_samples) +
                  " samples (series) in one request, the limit; push them in smaller parts");
    }
    auto too_long = [&](std::string_view what, std::size_t limit) {
      return over("line " + std::to_string(line_no) + ", column " + std::to_string(i + 1) + ": " +
                  std::string(what) + " is longer than the limit of " + std::to_string(limit) +
                  " bytes");
    };
    ParsedSample s;
    std::size_t at = i;
    s.name = std::string(name_at());
    if (s.name.size() > limits.max_name_bytes) {
      i = at;
      return too_long("the metric name", limits.max_name_bytes);
    }
    if (!valid_metric_name(s.name)) {
      i = at;
      return bad("expected a metric name");
    }
    skip_spaces();
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        skip_spaces();
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        at = i;
        std::string label(name_at());
        if (label.size() > limits.max_name_bytes) {
          i = at;
          return too_long("a label name", limits.max_name_bytes);
        }
        if (s.labels.size() >= limits.max_labels) {
          i = at;
          return over("line " + std::to_string(line_no) + ", column " + std::to_string(i + 1) +
                      ": more than " + std::to_string(limits.max_labels) +
                      " labels on one sample, the limit");
        }
        if (!valid_label_name(label)) {
          i = at;
          return bad("expected a label name or '}'");
        }
        skip_spaces();
        if (i >= line.size() || line[i] != '=') return bad("expected '=' after " + label);
        ++i;
        skip_spaces();
        if (i >= line.size() || line[i] != '"') return bad("expected '\"' to open the value");
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          if (value.size() > limits.max_label_value_bytes) {
            return too_long("the value of " + label, limits.max_label_value_bytes);
          }
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\' && i < line.size()) {
            char e = line[i++];
            value.push_back(e == 'n' ? '\n' : e);
            continue;
          }
          value.push_back(c);
        }
        if (!closed) return bad("the value of " + label + " is not closed");
        if (value.size() > limits.max_label_value_bytes) {
          return too_long("the value of " + label, limits.max_label_value_bytes);
        }
        s.labels.emplace_back(std::move(label), std::move(value));
        skip_spaces();
        if (i < line.size() && line[i] == ',') ++i;
      }
      // A repeated label: sorted names side by side, O(n log n).
      std::vector<std::string_view> names;
      names.reserve(s.labels.size());
      for (const auto& [k, v] : s.labels) names.push_back(k);
      std::sort(names.begin(), names.end());
      if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
        return fail(ErrorCode::kInvalidArgument, "line " + std::to_string(line_no) + ": label " +
                                                     std::string(*dup) + " appears twice");
      }
    }
    skip_spaces();
    const std::size_t vstart = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    std::string_view v = line.substr(vstart, i - vstart);
    if (v == "NaN") {
      s.value = std::nan("");
    } else if (v == "+Inf" || v == "Inf") {
      s.value = std::numeric_limits<double>::infinity();
    } else if (v == "-Inf") {
      s.value = -std::numeric_limits<double>::infinity();
    } else {
      const char* b = v.data();
      if (!v.empty() && *b == '+') ++b;
      auto [end, ec] = std::from_chars(b, v.data() + v.size(), s.value);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
        i = vstart;
        return bad("expected a number as the value");
      }
    }
    skip_spaces();
    if (i < line.size()) {
      const std::size_t tstart = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      std::string_view ts = line.substr(tstart, i - tstart);
      std::int64_t t = 0;
      auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
      if (ec != std::errc() || end != ts.data() + ts.size()) {
        i = tstart;
        return bad("expected a timestamp in milliseconds");
      }
      s.t_ms = t;
      skip_spaces();
      if (i < line.size()) return bad("unexpected text after the timestamp");
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace aion::telemetry
