// Metric queries: a Prometheus-style selector, `name`, `name{label="value",other!="x"}` or
// `{label="value"}`, over a time range, raw or aggregated per step (avg, min, max, sum, last,
// p95 of the samples in each step). Errors point at the offending column. Pure functions
// over the stores, which are thread-safe; so the queries are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"
#include "aion/telemetry/metric.h"
#include "aion/tsdb/db.h"
#include "aion/tsdb/rollup.h"

namespace aion::telemetry {

struct Matcher {
  std::string label;
  bool equal = true;  // = or !=
  std::string value;
};

struct Selector {
  std::string name;  // empty: any name
  std::vector<Matcher> matchers;
  bool matches(std::string_view name, const Labels& labels) const;
};

Result<Selector> parse_selector(std::string_view text);

// The name and labels of a series key made by series_key(); nullopt when malformed.
std::optional<std::pair<std::string, Labels>> parse_series_key(std::string_view key);

// "90s", "15m", "1h", "2d", "500ms" -> milliseconds.
Result<std::int64_t> parse_duration_ms(std::string_view text);

enum class Aggregation { kRaw, kAvg, kMin, kMax, kSum, kLast, kP95 };
Result<Aggregation> parse_aggregation(std::string_view text);

struct QueryRange {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::int64_t step_ms = 0;  // 0: raw samples
  Aggregation agg = Aggregation::kRaw;
};

struct SeriesResult {
  std::string key;
  std::string name;
  Labels labels;
  std::vector<tsdb::Sample> points;  // per step: t = step start
};

// Where a query reads: the raw samples and the rollups, finest first. Each series is read
// from the raw store as far back as it has samples, and before that from the finest rollup
// that still has buckets there (a rollup bucket counts as a point at its start, with its
// average as value): min, max, sum and avg over such buckets are exact, p95 and last are
// taken over the bucket averages.
struct Stores {
  const tsdb::Db* raw = nullptr;
  std::vector<const tsdb::Rollup*> rollups;
};

// kNotFound (naming the selector) when no series matches.
Result<std::vector<SeriesResult>> run_query(const Stores& stores, const Selector& selector,
                                            const QueryRange& range, std::string_view text);
// The same over raw samples only.
Result<std::vector<SeriesResult>> run_query(const tsdb::Db& db, const Selector& selector,
                                            const QueryRange& range, std::string_view text);

}  // namespace aion::telemetry
