// The Prometheus text exposition format (version 0.0.4): per family a `# HELP` line (\\ and
// \n escaped), a `# TYPE` line and one line per sample, `name{label="value",...} value`, with
// label values escaped (\\, \", \n) and values as Go's strconv would print them (NaN, +Inf,
// -Inf, shortest round-trip decimal otherwise). Families with the same name are merged into
// one, families are sorted by name, so a scrape never sees a name twice. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

#include "aion/telemetry/metric.h"

namespace aion::telemetry {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// Labels that name a person or what they run: kept out of a rendering unless asked for.
inline constexpr std::string_view kIdentityLabels[] = {"user", "name", "job_name"};

struct ExpositionOptions {
  // Keep the kIdentityLabels; off, they are dropped from every sample (a job's id stays).
  bool identity_labels = false;
};

std::string render_exposition(std::vector<MetricFamily> families,
                              const ExpositionOptions& options = {});

// A valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, no ':' in label names).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// The value as the exposition format writes it.
std::string format_value(double v);

// One sample line of the text format: `name{label="value",...} value [timestamp_ms]`.
struct ParsedSample {
  std::string name;
  Labels labels;
  double value = 0;
  std::optional<std::int64_t> t_ms;
};

// Bounds on what one parse accepts, so that a pushed text cannot make aiond build an
// unbounded number of series, labels or keys. Each sample line is one series' sample.
struct ExpositionLimits {
  std::size_t max_bytes = 16u << 20;         // the whole text
  std::size_t max_samples = 100'000;         // sample lines
  std::size_t max_labels = 64;               // labels of one sample
  std::size_t max_name_bytes = 256;          // a metric or label name
  std::size_t max_label_value_bytes = 4096;  // a label value (after unescaping)
};

// Parses the sample lines of a text in the exposition format (`#` lines and blank lines are
// skipped). kInvalidArgument naming the line and column of the first malformed line, and
// kResourceExhausted naming the limit a text goes past (checked as it is read, so a huge text
// is refused without being parsed whole); nothing is returned then. A label repeated in one
// sample is found by sorting, O(n log n) in the labels.
Result<std::vector<ParsedSample>> parse_exposition(std::string_view text,
                                                   const ExpositionLimits& limits = {});

}  // namespace aion::telemetry
