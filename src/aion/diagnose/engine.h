// Engine: turns log lines and daemon events into incidents with ranked root causes.
//
// Input: on_log_line() for kernel, journal, file and job-log lines (the logs module's
// sources call it), on_event() for the EventLog's events (NVML Xids, anomalies, job
// failures, hardware changes). Each line is matched against the signature catalog; each
// hit or event becomes a piece of evidence with device keys ("pci:0000:07:00.0", "gpu:0",
// "nic:eth0", "disk:nvme0", "job:12", "pid:4242"; a GPU's index and PCI address are both
// added when the inventory knows the pair).
//
// Correlation: evidence joins an incident whose last evidence is at most `window` older and
// that shares a device key with it; evidence that shares keys with several such incidents
// merges them (a job's CUDA error and the GPU's Xid meet through the job-failed event that
// names both). Evidence that reports how long an operation had been stuck (an `elapsed_ms`
// capture: "ran for 600123 milliseconds before timing out") covers that whole span, so a
// collective timeout finds the NIC flap that began it ten minutes earlier. A symptom with
// `explained_by` components in the catalog that names no hardware (a job's NCCL timeout, a
// hung task) joins the most recent incident in the window holding a cause of such a
// component (a NIC flap, an NFS server not responding); a cause arriving after such symptoms
// takes them in. Evidence without device keys (MCE, lockups, NFS) joins the most recently
// updated incident in the window. Otherwise it opens a new incident.
//
// Ranking: every signature present in an incident is a hypothesis, scored
//   score = weight x severity_factor x (1 + 0.25 log2 min(n, 8)) x (1.2 if it came first)
// where weight is the catalog's prior (specific hardware faults high, symptoms low),
// severity_factor is 1.0 critical / 0.7 warning / 0.4 info, n the evidence count of the
// hypothesis (events: its lines less than a second apart count once; beyond 8 a storm adds
// nothing), and the 1.2 goes to the hypothesis with the earliest evidence (a cause comes
// before its symptoms; among those that began within the same second, the one with the
// highest weight). A symptom with `explained_by` components scores half when a cause of
// such a component is in the incident (it is explained away: however often the hung task
// watchdog reports, the NFS server it waits on stays the cause).
// confidence = score / sum of the incident's scores.
//
// Thread-safe: every public method may be called from any thread. The listener is called
// without the engine's lock held, in the order updates happen, one call at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/clock.h"
#include "aion/diagnose/catalog.h"
#include "aion/diagnose/incident.h"
#include "aion/diagnose/matcher.h"

namespace aion::diagnose {

struct EngineOptions {
  std::chrono::milliseconds window{300'000};
  std::size_t max_evidence = 200;         // kept per incident (the count goes on)
  std::size_t max_incidents = 1000;       // kept in memory (the oldest go; the store keeps all)
  std::map<std::string, int> gpu_by_pci;  // "0000:07:00.0" -> NVIDIA/AMD index
  // When set, a job a log line names (a `job` capture, e.g. the job-N of an OOM kill's cgroup
  // path) is linked only if this says that job ran at the line's time: the kernel's ring buffer
  // also holds kills of other schedulers' "job-1" and of jobs long gone. Unset: always linked
  // (`aion diagnose FILE`, where there is no job table).
  std::function<bool(std::int64_t job, std::int64_t time_ms)> job_ran_at;
};

struct EngineStats {
  std::uint64_t lines = 0;
  std::uint64_t hits = 0;
  std::uint64_t events = 0;
  std::uint64_t incidents = 0;
  // Evidence texts cut to kMaxEvidenceText bytes (a megabyte line that matched a signature).
  std::uint64_t truncated = 0;
  // Captures that cannot name a device (longer than kMaxDeviceName, or holding bytes other
  // than printable ASCII: garbage that happened to match), left out of the device keys.
  std::uint64_t dropped_keys = 0;
  // Jobs named by log lines that job_ran_at did not know at that time, left unlinked.
  std::uint64_t unknown_jobs = 0;
  // Pattern matches left out because the line's origin may not raise that signature (a
  // kernel fault's text in a user's journal entry).
  std::uint64_t untrusted_hits = 0;
};

inline constexpr std::size_t kMaxEvidenceText = 4096;
inline constexpr std::size_t kMaxDeviceName = 128;

class Engine {
 public:
  // Called after an incident was opened or changed; `merged` lists incidents folded into it
  // (they no longer exist).
  using Listener =
      std::function<void(const Incident& incident, const std::vector<std::int64_t>& merged)>;

  // The catalog and matcher must outlive the engine.
  Engine(const Catalog& catalog, const Matcher& matcher, EngineOptions options);

  // A log line. source: "kmsg", "journal", "file:/path", or "job:ID" for a job's output
  // (the job becomes a device key of the evidence). origin (kLineOrigins): who could have
  // written it; empty = as the source says ("kmsg" kernel, "job:" job, "journal" journal,
  // anything else file). The trust rule, for lines anyone could forge:
  //  - a signature matches only lines of its `origins` (kernel by default), so a user's
  //    `logger 'NVRM: Xid ...'` opens no GPU incident;
  //  - a line that is not the kernel's links no job or process it names (only a job's own
  //    output names its job), and never makes a signature's playbook a proposal: the
  //    hypothesis gets its playbook once kernel evidence or an aiond event supports it.
  void on_log_line(std::string_view source, Clock::Wall time, std::string_view text,
                   std::string_view origin = {});
  // An EventLog event (kind gpu, anomaly, job, guard, hw_change; others are ignored). `event_id`
  // names it in the evidence ("event:ID"); 0 when it has none.
  void on_event(std::string_view kind, std::string_view severity, std::string_view message,
                std::string_view data_json, Clock::Wall time, std::int64_t event_id = 0);

  std::vector<Incident> incidents() const;  // newest first
  std::optional<Incident> incident(std::int64_t id) const;
  EngineStats stats() const;

  // Someone resolved incident `id` (the store has it): it joins no more evidence. Waits for
  // an add() under way, so no copy saved after this return takes the incident further.
  void resolved(std::int64_t id, std::int64_t at_ms, const std::string& by,
                const std::string& note);

  void set_listener(Listener listener);
  // Incident ids continue after this (the store's highest id at start).
  void set_next_id(std::int64_t next);

 private:
  struct Signal {
    const Signature* signature;
    Evidence evidence;
    std::int64_t since_ms = 0;  // start of what it reports (a timeout: when the wait began)
    bool trusted = true;        // kernel line or aiond event: may propose the playbook
  };
  void add(Signal signal);
  void rank(Incident& incident) const;

  const Catalog& catalog_;
  const Matcher& matcher_;
  EngineOptions options_;
  std::map<int, std::string> pci_by_gpu_;

  mutable std::mutex mu_;  // guards incidents_, next_id_ and stats_
  std::map<std::int64_t, Incident> incidents_;
  std::int64_t next_id_ = 1;
  EngineStats stats_;
  Listener listener_;
  std::mutex listener_mu_;  // guards listener_; held across add() so listener calls keep order
};

// Device keys from named captures: pci addresses normalised to the sysfs form
// ("PCI:0000:07:00" -> "pci:0000:07:00.0"), disks also by controller ("nvme0n1p2" adds
// "disk:nvme0"). Exposed for tests.
std::vector<std::string> device_keys(const std::map<std::string, std::string>& captures);
std::string normalize_pci(std::string_view text);

}  // namespace aion::diagnose
