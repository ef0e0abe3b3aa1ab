#include "aion/telemetry/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
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

std::string render_exposition(std::vector<MetricFamily> families) {
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

}  // namespace aion::telemetry
