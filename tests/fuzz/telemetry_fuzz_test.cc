// Fuzzes the Prometheus text that operators and exporters push to /v1/metrics/import
// (parse_exposition, then the series key the store files it under) and the selectors and
// durations of metric queries. Seeds: this host's own metrics as the host collector reads
// them, rendered by render_exposition, and exporter output with histograms, escapes and
// timestamps. A text that parses must hold valid names and survive a render and re-parse.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "aion/core/host_fs.h"
#include "aion/telemetry/exposition.h"
#include "aion/telemetry/host_collector.h"
#include "aion/telemetry/query.h"
#include "mutator.h"

namespace aion::telemetry {
namespace {

using fuzz::Verdict;

// What node_exporter and a training job's exporter print (help escapes, a histogram,
// timestamps, special values).
constexpr const char* kExporterText =
    "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
    "# TYPE node_cpu_seconds_total counter\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 3.70436558e+06\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 1093.38\n"
    "# HELP train_step_seconds Step time.\\nSecond line with \\\\ backslash.\n"
    "# TYPE train_step_seconds histogram\n"
    "train_step_seconds_bucket{job=\"llama\",le=\"0.5\"} 12 1764470000000\n"
    "train_step_seconds_bucket{job=\"llama\",le=\"+Inf\"} 40 1764470000000\n"
    "train_step_seconds_sum{job=\"llama\"} 31.5 1764470000000\n"
    "train_step_seconds_count{job=\"llama\"} 40 1764470000000\n"
    "train_loss{run=\"a \\\"quoted\\\" name\",path=\"C:\\\\data\\nx\"} NaN\n"
    "train_tokens_per_second -Inf\n"
    "gpu_util{gpu=\"0\",} +Inf -1\n"
    "   \n"
    "# a comment\n"
    "up 1\n";

std::vector<std::string> seeds() {
  std::vector<std::string> out = {kExporterText};
  auto families = HostCollector(HostFs("/")).collect();
  std::string all = render_exposition(families);
  out.push_back(all.substr(0, 16 << 10));
  for (auto& f : families) {
    std::vector<MetricFamily> one{f};
    std::string text = render_exposition(std::move(one));
    if (text.size() < (4 << 10)) out.push_back(text);
  }
  return out;
}

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0 || a == b;
}

const std::vector<std::string> kTokens = {"{",
                                          "}",
                                          "=",
                                          "\"",
                                          ",",
                                          " ",
                                          "\n",
                                          "#",
                                          "# HELP ",
                                          "# TYPE ",
                                          "counter",
                                          "gauge",
                                          "histogram",
                                          "untyped",
                                          "NaN",
                                          "+Inf",
                                          "-Inf",
                                          "1e309",
                                          "0x1p3",
                                          "\\",
                                          "\\\"",
                                          "\\n",
                                          "le=\"+Inf\"",
                                          "_bucket",
                                          ":",
                                          "__name__",
                                          "\t",
                                          "\r",
                                          "\xff",
                                          "9223372036854775807",
                                          "-9223372036854775809",
                                          "1e-400",
                                          "=~",
                                          "!=",
                                          "!~",
                                          "[5m]",
                                          "ms",
                                          "d",
                                          "h"};

TEST(TelemetryFuzz, PrometheusImportText) {
  auto target = [](std::string_view in) -> Verdict {
    auto parsed = parse_exposition(in);
    // The query side reads the same kind of text from other users' requests.
    ignore(parse_selector(in.substr(0, 512)),
           "the fuzz target checks that parsing does not crash, not its verdict");
    ignore(parse_duration_ms(in.substr(0, 32)),
           "the fuzz target checks that parsing does not crash, not its verdict");
    if (!parsed) {
      // kResourceExhausted: an exposition over the import caps (samples, labels, bytes).
      if (parsed.error().code() != ErrorCode::kInvalidArgument &&
          parsed.error().code() != ErrorCode::kParse &&
          parsed.error().code() != ErrorCode::kResourceExhausted)
        return {false, "error code " + std::string(to_string(parsed.error().code()))};
      return {};
    }
    std::size_t checked = 0;
    for (const auto& s : *parsed) {
      if (!valid_metric_name(s.name)) return {true, "invalid metric name '" + s.name + "' parsed"};
      for (const auto& [k, v] : s.labels)
        if (!valid_label_name(k)) return {true, "invalid label name '" + k + "' parsed"};
      // The store's key for it reads back to the same name and labels.
      const std::string key = series_key(s.name, s.labels);
      auto back = parse_series_key(key);
      if (!back) return {true, "series key does not parse back: " + key};
      if (back->first != s.name) return {true, "series key changes the name: " + key};
      if (back->second.size() != s.labels.size() && checked == 0) {
        // Duplicate label names collapse in the key; anything else is a loss.
        Labels sorted = s.labels;
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end(),
                                 [](auto& a, auto& b) { return a.first == b.first; }),
                     sorted.end());
        if (back->second.size() != sorted.size()) return {true, "series key loses labels: " + key};
      }
      // Rendered alone and parsed again, it is the same sample.
      if (checked++ < 4) {
        MetricFamily f{s.name, "", MetricType::kGauge, {}};
        f.add(s.labels, s.value);
        std::vector<MetricFamily> one{f};
        // Identity labels kept; the rendering sorts the labels.
        ExpositionOptions keep_all;
        keep_all.identity_labels = true;
        auto again = parse_exposition(render_exposition(std::move(one), keep_all));
        if (!again || again->size() != 1) return {true, "a parsed sample does not render back"};
        const auto& a = again->front();
        Labels want = s.labels;
        std::sort(want.begin(), want.end());
        if (a.name != s.name || a.labels != want || !same_value(a.value, s.value))
          return {true, "a parsed sample changes in a render and re-parse"};
      }
    }
    return {true, {}};
  };
  fuzz::Mutator m(fuzz::fuzz_options(0).seed, seeds(), kTokens, true);
  m.max_size = 16 << 10;
  EXPECT_TRUE(fuzz::run_fuzz("prometheus", m, fuzz::fuzz_options(100000), target));
}

}  // namespace
}  // namespace aion::telemetry
