// Incidents: what the diagnosis engine makes of correlated evidence. Plain values, with the
// JSON the API and the CLI speak (to_json). Values and pure
// functions; thread-safe to read, one owner mutates (the Engine hands out copies).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion::diagnose {

// One log line or daemon event that matched a signature.
struct Evidence {
  std::int64_t time_ms = 0;
  std::string source;     // "kmsg", "journal", "file:/var/log/syslog", "job:12", "event:345"
  std::string signature;  // catalog id
  std::string text;       // the line or the event's message
  std::vector<std::string> devices;  // device keys: "pci:0000:07:00.0", "gpu:0", "job:12"
  std::string metrics_json;          // for metric anomalies: series, value, baseline; else ""
};

// A candidate root cause, from one catalog signature.
struct Hypothesis {
  std::string signature;
  std::string title;
  std::string component;
  std::string severity;
  double score = 0;       // see Engine for the rule
  double confidence = 0;  // score / sum of the incident's scores
  // Events, not lines: lines of one signature less than a second apart count once (the
  // kernel prints one AER or Xid event over several lines).
  std::size_t evidence_count = 0;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::string meaning;
  std::vector<std::string> collect;  // evidence to collect (the catalog's `evidence`)
  std::string action;
  std::string playbook;
  std::string source;
};

struct Incident {
  std::int64_t id = 0;
  std::int64_t opened_ms = 0;   // time of the first evidence
  std::int64_t updated_ms = 0;  // time of the last evidence
  std::string severity;         // the highest of its hypotheses
  std::string title;            // the top hypothesis and where
  std::vector<std::string> devices;
  std::vector<Hypothesis> hypotheses;  // ranked, best first
  std::vector<Evidence> evidence;      // time order; capped (evidence_total counts all)
  std::size_t evidence_total = 0;
  std::vector<std::int64_t> jobs;  // jobs involved (failed jobs it explains)
  // Open until someone resolves it; a resolved incident takes no more evidence (the same
  // fault again opens a new one).
  std::int64_t resolved_ms = 0;  // 0: open
  std::string resolved_by;
  std::string resolution;  // the resolver's note
  bool resolved() const { return resolved_ms != 0; }
};

// Device keys of an incident of one kind ("gpu" -> {"0"}).
std::vector<std::string> device_values(const Incident& incident, std::string_view kind);

}  // namespace aion::diagnose
