// The Prometheus text exposition format (version 0.0.4): per family a `# HELP` line (\\ and
// \n escaped), a `# TYPE` line and one line per sample, `name{label="value",...} value`, with
// label values escaped (\\, \", \n) and values as Go's strconv would print them (NaN, +Inf,
// -Inf, shortest round-trip decimal otherwise). Families with the same name are merged into
// one, families are sorted by name, so a scrape never sees a name twice.
#pragma once

#include <string>
#include <vector>

#include "aion/telemetry/metric.h"

namespace aion::telemetry {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_exposition(std::vector<MetricFamily> families);

// A valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, no ':' in label names).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// The value as the exposition format writes it.
std::string format_value(double v);

}  // namespace aion::telemetry
