// Metric families as Prometheus knows them: a name (units in the name, `_total` for
// counters), a help text, a type, and samples that differ by their labels. What collectors
// produce, what /metrics renders and what the store keeps (one series per name + labels).
// Plain values and pure functions; thread-safe to read, one owner mutates.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aion::telemetry {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kGauge, kCounter };

struct MetricSample {
  Labels labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;

  MetricFamily& add(Labels labels, double value) {
    samples.push_back({std::move(labels), value});
    return *this;
  }
};

// Moves the families that have samples into `out` (collectors build every family they know
// and leave out those with nothing to report).
inline void move_nonempty(std::vector<MetricFamily>& out,
                          std::initializer_list<MetricFamily*> families) {
  for (MetricFamily* f : families) {
    if (!f->samples.empty()) out.push_back(std::move(*f));
  }
}

// The series key the store uses: `name{a="x",b="y"}` with the labels sorted by name and
// values escaped as in the exposition format (\\, \", \n); `name` alone without labels.
std::string series_key(std::string_view name, Labels labels);

}  // namespace aion::telemetry
