// The Prometheus text exposition format (version 0.0.4): per family a `# HELP` line (\\ and
// \n escaped), a `# TYPE` line and one line per sample, `name{label="value",...} value`, with
// label values escaped (\\, \", \n) and values as Go's strconv would print them (NaN, +Inf,
// -Inf, shortest round-trip decimal otherwise). Families with the same name are merged into
// one, families are sorted by name, so a scrape never sees a name twice.
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

// Parses the sample lines of a text in the exposition format (`#` lines and blank lines are
// skipped). kInvalidArgument naming the line and column of the first malformed line; nothing
// is returned then.
Result<std::vector<ParsedSample>> parse_exposition(std::string_view text);

}  // namespace aion::telemetry
