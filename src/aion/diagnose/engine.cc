#include "aion/diagnose/engine.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "aion/core/json.h"

namespace aion::diagnose {
namespace {

// Lines of one signature closer than this are one event.
constexpr std::int64_t kSameEventMs = 1000;
// Repetitions beyond this add nothing to a hypothesis' score: a storm of corrected errors is
// one condition, and must not outweigh the fault it precedes.
constexpr std::size_t kMaxCountedEvents = 8;
// Score factor of a symptom whose cause (a hypothesis of a component it is explained_by) is
// in the same incident.
constexpr double kExplainedAway = 0.5;

std::int64_t ms_of(Clock::Wall t) {
  return to_unix_ms(t);
}

double severity_factor(std::string_view s) {
  if (s == "critical") return 1.0;
  if (s == "warning") return 0.7;
  return 0.4;
}

int severity_rank(std::string_view s) {
  return s == "critical" ? 2 : s == "warning" ? 1 : 0;
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c));
  });
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

bool shares(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  return false;
}

// Labels of a series key: name{a="1",b="x"}.
std::map<std::string, std::string> series_labels(std::string_view key) {
  std::map<std::string, std::string> out;
  auto open = key.find('{');
  if (open == std::string_view::npos) return out;
  std::size_t i = open + 1;
  while (i < key.size()) {
    auto eq = key.find("=\"", i);
    if (eq == std::string_view::npos) break;
    std::string name(key.substr(i, eq - i));
    std::string value;
    std::size_t k = eq + 2;
    for (; k < key.size() && key[k] != '"'; ++k) {
      if (key[k] == '\\' && k + 1 < key.size()) ++k;
      value.push_back(key[k]);
    }
    out[name] = value;
    i = key.find(',', k);
    if (i == std::string_view::npos) break;
    ++i;
  }
  return out;
}

// Printable ASCII of a sane length: what a PCI address, a NIC, disk, pid or job name is.
bool device_name(std::string_view v) {
  return v.size() <= kMaxDeviceName &&
         std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// A key that names a piece of hardware (as opposed to a process or a job).
bool hardware_key(std::string_view key) {
  for (std::string_view p : {"pci:", "gpu:", "nic:", "disk:"})
    if (key.substr(0, p.size()) == p) return true;
  return false;
}

bool names_hardware(const std::vector<std::string>& keys) {
  return std::any_of(keys.begin(), keys.end(),
                     [](const std::string& k) { return hardware_key(k); });
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// How long the reported operation had run ("ran for 600123 milliseconds"), capped at a day so
// that a garbled number cannot move the evidence out of any sane range.
std::int64_t elapsed_of(const std::map<std::string, std::string>& captures) {
  auto it = captures.find("elapsed_ms");
  if (it == captures.end()) return 0;
  std::int64_t ms = 0;
  for (char c : it->second) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
    ms = std::min<std::int64_t>(ms * 10 + (c - '0'), 86'400'000);
  }
  return ms;
}

bool looks_like_disk(std::string_view dev) {
  for (std::string_view p : {"nvme", "sd", "vd", "xvd", "hd", "md", "dm-"})
    if (dev.substr(0, p.size()) == p) return true;
  return false;
}

}  // namespace

std::string normalize_pci(std::string_view text) {
  std::string s(text);
  if (s.rfind("PCI:", 0) == 0 || s.rfind("pci:", 0) == 0) s = s.substr(4);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "00000000:07:00.0" (NVML's 8-digit domain) -> "0000:07:00.0".
  if (auto c = s.find(':'); c == 8 && s.compare(0, 4, "0000") == 0) s = s.substr(4);
  std::size_t colons = static_cast<std::size_t>(std::count(s.begin(), s.end(), ':'));
  if (colons == 1) s = "0000:" + s;  // "07:00.0"
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

std::vector<std::string> device_keys(const std::map<std::string, std::string>& captures) {
  std::vector<std::string> keys;
  for (const auto& [name, value] : captures) {
    if (value.empty() || name == "xid" || name == "elapsed_ms") continue;
    if (name == "pci") {
      keys.push_back("pci:" + normalize_pci(value));
    } else if (name == "disk") {
      keys.push_back("disk:" + value);
      if (value.rfind("nvme", 0) == 0) {
        auto n = value.find('n', 4);
        if (n != std::string::npos && n > 4) add_unique(keys, "disk:" + value.substr(0, n));
      }
    } else {
      keys.push_back(name + ":" + value);
    }
  }
  return keys;
}

Engine::Engine(const Catalog& catalog, const Matcher& matcher, EngineOptions options)
    : catalog_(catalog), matcher_(matcher), options_(std::move(options)) {
  std::map<std::string, int> normalized;
  for (const auto& [pci, gpu] : options_.gpu_by_pci) {
    normalized[normalize_pci(pci)] = gpu;
    pci_by_gpu_[gpu] = normalize_pci(pci);
  }
  options_.gpu_by_pci = std::move(normalized);
}

void Engine::set_listener(Listener listener) {
  std::lock_guard l(listener_mu_);
  listener_ = std::move(listener);
}

void Engine::set_next_id(std::int64_t next) {
  std::lock_guard l(mu_);
  next_id_ = std::max(next_id_, next);
}

namespace {

std::string_view origin_of(std::string_view source) {
  if (source == "kmsg") return "kernel";
  if (source.starts_with("job:")) return "job";
  if (source == "journal") return "journal";
  return "file";
}

}  // namespace

void Engine::on_log_line(std::string_view source, Clock::Wall time, std::string_view text,
                         std::string_view origin) {
  {
    std::lock_guard l(mu_);
    ++stats_.lines;
  }
  if (origin.empty()) origin = origin_of(source);
  const bool kernel = origin == "kernel";
  std::vector<Hit> hits = matcher_.match(text);
  std::size_t refused = 0;
  std::erase_if(hits, [&](const Hit& h) {
    const auto& allowed = h.signature->origins;
    const bool ok = std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
    refused += ok ? 0 : 1;
    return !ok;
  });
  if (refused > 0) {
    std::lock_guard l(mu_);
    stats_.untrusted_hits += refused;
  }
  if (hits.empty()) return;
  for (auto& h : hits) {
    std::size_t dropped = 0;
    for (auto it = h.captures.begin(); it != h.captures.end();) {
      if (!kernel && (it->first == "job" || it->first == "pid")) {
        it = h.captures.erase(it);  // a forged line must not reach another user's job
      } else if (device_name(it->second)) {
        ++it;
      } else {
        it = h.captures.erase(it);
        ++dropped;
      }
    }
    Signal s{h.signature, {}};
    s.trusted = kernel;
    s.evidence.time_ms = ms_of(time);
    s.evidence.source = std::string(source);
    s.evidence.signature = h.signature->id;
    s.evidence.text = std::string(text.substr(0, kMaxEvidenceText));
    {
      std::lock_guard l(mu_);
      stats_.dropped_keys += dropped;
      if (text.size() > kMaxEvidenceText) ++stats_.truncated;
    }
    s.evidence.devices = device_keys(h.captures);
    if (options_.job_ran_at) {
      const auto before = s.evidence.devices.size();
      std::erase_if(s.evidence.devices, [&](const std::string& d) {
        return d.starts_with("job:") &&
               !options_.job_ran_at(std::atoll(d.c_str() + 4), s.evidence.time_ms);
      });
      if (s.evidence.devices.size() != before) {
        std::lock_guard l(mu_);
        stats_.unknown_jobs += before - s.evidence.devices.size();
      }
    }
    s.since_ms = s.evidence.time_ms - elapsed_of(h.captures);
    if (source.rfind("job:", 0) == 0) add_unique(s.evidence.devices, std::string(source));
    add(std::move(s));
  }
}

void Engine::on_event(std::string_view kind, std::string_view severity, std::string_view message,
                      std::string_view data_json, Clock::Wall time, std::int64_t event_id) {
  Json data = Json::parse(data_json, nullptr, false);
  if (!data.is_object()) data = Json::object();
  const Signature* sig = nullptr;
  std::vector<std::string> devices;
  std::string metrics;
  auto add_pci = [&](const Json& v) {
    if (v.is_string() && !v.get<std::string>().empty())
      add_unique(devices, "pci:" + normalize_pci(v.get<std::string>()));
  };
  // Fields of the wrong JSON type (a string where a number belongs) make value() throw: such
  // an event is counted and carries no evidence.
  try {
    if (kind == "gpu") {
      if (data.contains("xid") && data["xid"].is_number_unsigned()) {
        sig = catalog_.find_xid(data["xid"].get<std::uint64_t>());
      } else if (data.value("kind", "") == "ecc_double_bit") {
        sig = catalog_.find_event("gpu_ecc_double_bit");
      }
      add_pci(data.value("pci", Json()));
      if (data.contains("gpu") && data["gpu"].is_number_integer())
        add_unique(devices, "gpu:" + std::to_string(data["gpu"].get<int>()));
    } else if (kind == "anomaly") {
      sig = catalog_.find_event("anomaly");
      for (const auto& [k, v] : series_labels(data.value("series", ""))) {
        if (k == "gpu" || k == "job") add_unique(devices, k + ":" + v);
        if (k == "pci") add_unique(devices, "pci:" + normalize_pci(v));
        if (k == "device") add_unique(devices, (looks_like_disk(v) ? "disk:" : "nic:") + v);
      }
      Json m = Json::object();
      for (const char* k : {"series", "value", "baseline", "sigma", "score", "explanation"})
        if (data.contains(k)) m[k] = data[k];
      metrics = m.dump();
    } else if (kind == "job") {
      std::string state = data.value("state", "");
      if (data.value("oom_killed", false)) {
        sig = catalog_.find_event("job_oom");
      } else if (state == "failed" || state == "lost") {
        sig = catalog_.find_event("job_failed");
      }
      if (data.contains("id") && data["id"].is_number_integer())
        add_unique(devices, "job:" + std::to_string(data["id"].get<std::int64_t>()));
      for (const auto& p : data.value("gpu_pci", Json::array())) add_pci(p);
    } else if (kind == "guard") {  // what a job's sandbox refused
      const std::string what = data.value("kind", "");
      const char* event = what == "file"      ? "guard_file"
                          : what == "syscall" ? "guard_syscall"
                          : what == "network" ? "guard_network"
                                              : "guard_other";
      sig = catalog_.find_event(event);
      if (data.contains("job") && data["job"].is_number_integer())
        add_unique(devices, "job:" + std::to_string(data["job"].get<std::int64_t>()));
      if (data.contains("pid") && data["pid"].is_number_integer())
        add_unique(devices, "pid:" + std::to_string(data["pid"].get<std::int64_t>()));
    } else if (kind == "hw_change") {
      sig = catalog_.find_event(severity == "critical" ? "hw_change_critical" : "hw_change");
      std::string dev = data.value("device", "");
      if (dev.size() >= 7 && is_hex(dev.substr(0, 2)) && dev.find(':') != std::string::npos) {
        add_pci(Json(dev));
      } else if (!dev.empty() && dev != "memory" && dev != "cpu") {
        add_unique(devices, (looks_like_disk(dev) ? "disk:" : "nic:") + dev);
      }
    }
  } catch (const Json::exception&) {
    sig = nullptr;
  }
  {
    std::lock_guard l(mu_);
    ++stats_.events;
  }
  if (!sig) return;
  Signal s{sig, {}};
  s.evidence.time_ms = s.since_ms = ms_of(time);
  s.evidence.source = event_id > 0 ? "event:" + std::to_string(event_id) : "event";
  s.evidence.signature = sig->id;
  s.evidence.text = std::string(message);
  s.evidence.devices = std::move(devices);
  s.evidence.metrics_json = std::move(metrics);
  add(std::move(s));
}

namespace {

using IncidentMap = std::map<std::int64_t, Incident>;

// Adds both names of a GPU to `devices`, so that NVML (index) and kernel (PCI) evidence meet.
void add_gpu_aliases(std::vector<std::string>& devices,
                     const std::map<std::string, int>& gpu_by_pci,
                     const std::map<int, std::string>& pci_by_gpu) {
  std::vector<std::string> extra;
  for (const auto& d : devices) {
    if (d.rfind("pci:", 0) == 0) {
      if (auto it = gpu_by_pci.find(d.substr(4)); it != gpu_by_pci.end())
        extra.push_back("gpu:" + std::to_string(it->second));
    } else if (d.rfind("gpu:", 0) == 0) {
      if (auto it = pci_by_gpu.find(std::atoi(d.c_str() + 4)); it != pci_by_gpu.end())
        extra.push_back("pci:" + it->second);
    }
  }
  for (auto& e : extra) add_unique(devices, std::move(e));
}

// Which open incidents a piece of evidence joins: its signature, devices, and the time it
// covers, [since_ms, time_ms], widened by the correlation window.
class IncidentMatch {
 public:
  IncidentMatch(const Catalog& catalog, const Signature& sig, const Evidence& ev,
                std::int64_t since_ms, std::int64_t window_ms)
      : catalog_(catalog), sig_(sig), ev_(ev), since_(since_ms), window_(window_ms) {}

  // The incidents to join, the first the one the others merge into; empty: open a new one.
  std::vector<std::int64_t> find(const IncidentMap& incidents) const {
    std::vector<std::int64_t> matches;
    for (const auto& [id, inc] : incidents) {
      if (!in_window(inc)) continue;
      if (!ev_.devices.empty() && !inc.devices.empty() && shares(ev_.devices, inc.devices))
        matches.push_back(id);
    }
    if (matches.empty() && !sig_.explained_by.empty() && !names_hardware(ev_.devices)) {
      if (const Incident* cause = incident_with_cause(incidents)) matches.push_back(cause->id);
    }
    if (sig_.explained_by.empty()) add_explained_symptoms(incidents, matches);
    if (matches.empty()) {
      if (const Incident* wide = latest_node_wide(incidents)) matches.push_back(wide->id);
    }
    return matches;
  }

 private:
  // Resolved incidents take nothing more: the same fault again is a new incident.
  bool in_window(const Incident& i) const {
    return !i.resolved() && since_ <= i.updated_ms + window_ &&
           ev_.time_ms >= i.opened_ms - window_;
  }
  bool is_symptom(const Hypothesis& h) const {
    const Signature* s = catalog_.find(h.signature);
    return s && !s->explained_by.empty();
  }

  // A symptom that names no hardware (a job's NCCL timeout, a hung task) joins the most
  // recent incident in the window with a cause of the kind that explains it.
  const Incident* incident_with_cause(const IncidentMap& incidents) const {
    const Incident* best = nullptr;
    for (const auto& [id, inc] : incidents) {
      if (!in_window(inc)) continue;
      bool cause = std::any_of(inc.hypotheses.begin(), inc.hypotheses.end(), [&](const auto& h) {
        return !is_symptom(h) && contains(sig_.explained_by, h.component);
      });
      if (cause && (!best || inc.updated_ms > best->updated_ms)) best = &inc;
    }
    return best;
  }

  // A cause that comes after its symptoms: incidents in the window made only of symptoms it
  // explains, naming no hardware, join it.
  void add_explained_symptoms(const IncidentMap& incidents,
                              std::vector<std::int64_t>& matches) const {
    for (const auto& [id, inc] : incidents) {
      if (!in_window(inc) || names_hardware(inc.devices) || inc.hypotheses.empty() ||
          std::find(matches.begin(), matches.end(), id) != matches.end())
        continue;
      bool explained =
          std::all_of(inc.hypotheses.begin(), inc.hypotheses.end(), [&](const Hypothesis& h) {
            const Signature* s = catalog_.find(h.signature);
            return s && contains(s->explained_by, sig_.component);
          });
      if (explained) matches.push_back(id);
    }
  }

  // Node-wide evidence, or a node-wide incident: the most recent one in the window.
  const Incident* latest_node_wide(const IncidentMap& incidents) const {
    const Incident* best = nullptr;
    for (const auto& [id, inc] : incidents) {
      if (!in_window(inc) || (!ev_.devices.empty() && !inc.devices.empty())) continue;
      if (!best || inc.updated_ms > best->updated_ms) best = &inc;
    }
    return best;
  }

  const Catalog& catalog_;
  const Signature& sig_;
  const Evidence& ev_;
  std::int64_t since_;
  std::int64_t window_;
};

void add_job(std::vector<std::int64_t>& jobs, std::int64_t job) {
  if (std::find(jobs.begin(), jobs.end(), job) == jobs.end()) jobs.push_back(job);
}

// Moves `other` into `target`: the time span, devices, jobs, evidence (oldest first, at most
// max_evidence) and hypotheses (one per signature, counts added).
void merge_incident(Incident& target, Incident other, std::size_t max_evidence) {
  target.opened_ms = std::min(target.opened_ms, other.opened_ms);
  target.updated_ms = std::max(target.updated_ms, other.updated_ms);
  for (auto& d : other.devices) add_unique(target.devices, std::move(d));
  for (auto j : other.jobs) add_job(target.jobs, j);
  target.evidence_total += other.evidence_total;
  for (auto& e : other.evidence) target.evidence.push_back(std::move(e));
  std::stable_sort(target.evidence.begin(), target.evidence.end(),
                   [](const Evidence& a, const Evidence& b) { return a.time_ms < b.time_ms; });
  if (target.evidence.size() > max_evidence) target.evidence.resize(max_evidence);
  for (auto& h : other.hypotheses) {
    auto it = std::find_if(target.hypotheses.begin(), target.hypotheses.end(),
                           [&](const Hypothesis& x) { return x.signature == h.signature; });
    if (it == target.hypotheses.end()) {
      target.hypotheses.push_back(std::move(h));
    } else {
      it->evidence_count += h.evidence_count;
      if (it->playbook.empty()) it->playbook = h.playbook;
      it->first_ms = std::min(it->first_ms, h.first_ms);
      it->last_ms = std::max(it->last_ms, h.last_ms);
    }
  }
}

// The incident's hypothesis for `sig`, made from the signature when it has none yet; a
// playbook only from trusted evidence.
Hypothesis& hypothesis_for(Incident& inc, const Signature& sig, bool trusted, std::int64_t t) {
  auto h = std::find_if(inc.hypotheses.begin(), inc.hypotheses.end(),
                        [&](const Hypothesis& x) { return x.signature == sig.id; });
  if (h != inc.hypotheses.end()) return *h;
  Hypothesis x;
  x.signature = sig.id;
  x.title = sig.title;
  x.component = sig.component;
  x.severity = sig.severity;
  x.meaning = sig.meaning;
  x.collect = sig.evidence;
  x.action = sig.action;
  x.playbook = trusted ? sig.playbook : std::string();
  x.source = sig.source;
  x.first_ms = t;
  inc.hypotheses.push_back(std::move(x));
  return inc.hypotheses.back();
}

// Adds one piece of evidence of `sig` to the incident: its devices and jobs, its hypothesis'
// count (lines closer than kSameEventMs are one event) and the evidence itself while there
// is room.
void add_evidence(Incident& inc, const Signature& sig, bool trusted, Evidence ev,
                  std::size_t max_evidence) {
  const std::int64_t t = ev.time_ms;
  inc.opened_ms = std::min(inc.opened_ms, t);
  inc.updated_ms = std::max(inc.updated_ms, t);
  for (const auto& d : ev.devices) {
    add_unique(inc.devices, d);
    if (d.rfind("job:", 0) == 0) add_job(inc.jobs, std::atoll(d.c_str() + 4));
  }
  Hypothesis& h = hypothesis_for(inc, sig, trusted, t);
  if (trusted && h.playbook.empty()) h.playbook = sig.playbook;
  if (h.evidence_count == 0 || t >= h.last_ms + kSameEventMs || t + kSameEventMs <= h.first_ms)
    h.evidence_count++;
  h.first_ms = std::min(h.first_ms, t);
  h.last_ms = std::max(h.last_ms, t);
  ++inc.evidence_total;
  if (inc.evidence.size() < max_evidence) {
    auto pos = std::upper_bound(inc.evidence.begin(), inc.evidence.end(), t,
                                [](std::int64_t x, const Evidence& e) { return x < e.time_ms; });
    inc.evidence.insert(pos, std::move(ev));
  }
}

// Drops the least recently updated incidents beyond max_incidents.
void evict_oldest(IncidentMap& incidents, std::size_t max_incidents) {
  while (incidents.size() > max_incidents) {
    auto oldest = std::min_element(
        incidents.begin(), incidents.end(),
        [](const auto& a, const auto& b) { return a.second.updated_ms < b.second.updated_ms; });
    incidents.erase(oldest);
  }
}

}  // namespace

void Engine::add(Signal signal) {
  std::lock_guard order(listener_mu_);
  Incident copy;
  std::vector<std::int64_t> merged;
  {
    std::lock_guard l(mu_);
    ++stats_.hits;
    Evidence& ev = signal.evidence;
    add_gpu_aliases(ev.devices, options_.gpu_by_pci, pci_by_gpu_);
    const Signature& sig = *signal.signature;
    // The evidence covers [since, t]: a timeout reports an operation that hung since then.
    const std::int64_t since = std::min(signal.since_ms, ev.time_ms);
    const std::vector<std::int64_t> matches =
        IncidentMatch(catalog_, sig, ev, since, options_.window.count()).find(incidents_);
    Incident* target = nullptr;
    if (matches.empty()) {
      Incident fresh;
      fresh.id = next_id_++;
      fresh.opened_ms = fresh.updated_ms = ev.time_ms;
      ++stats_.incidents;
      target = &incidents_.emplace(fresh.id, std::move(fresh)).first->second;
    } else {
      target = &incidents_.at(matches.front());
      for (std::size_t k = 1; k < matches.size(); ++k) {
        Incident other = std::move(incidents_.at(matches[k]));
        incidents_.erase(matches[k]);
        merged.push_back(other.id);
        merge_incident(*target, std::move(other), options_.max_evidence);
      }
    }
    add_evidence(*target, sig, signal.trusted, std::move(ev), options_.max_evidence);
    rank(*target);
    copy = *target;
    evict_oldest(incidents_, options_.max_incidents);
  }
  if (listener_) listener_(copy, merged);
}

void Engine::resolved(std::int64_t id, std::int64_t at_ms, const std::string& by,
                      const std::string& note) {
  std::lock_guard order(listener_mu_);  // after any add() already under way has been saved
  std::lock_guard l(mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return;
  it->second.resolved_ms = at_ms;
  it->second.resolved_by = by;
  it->second.resolution = note;
}

void Engine::rank(Incident& inc) const {
  std::int64_t earliest = inc.hypotheses.empty() ? 0 : inc.hypotheses.front().first_ms;
  for (const auto& h : inc.hypotheses) earliest = std::min(earliest, h.first_ms);
  const Hypothesis* first = nullptr;
  for (const auto& h : inc.hypotheses) {
    // Lines less than a second apart are one event (the kernel prints a machine check and
    // its EDAC decoding, or an AER error and its details, together): among the hypotheses
    // that began within that second, the more specific signature came first.
    if (h.first_ms >= earliest + kSameEventMs) continue;
    const Signature* s = catalog_.find(h.signature);
    const Signature* f = first ? catalog_.find(first->signature) : nullptr;
    if (!first || (s && f && s->weight > f->weight)) first = &h;
  }
  // Components of the causes present (hypotheses that are not symptoms themselves).
  std::vector<std::string> causes;
  for (const auto& h : inc.hypotheses) {
    const Signature* s = catalog_.find(h.signature);
    if (s && s->explained_by.empty()) add_unique(causes, h.component);
  }
  double total = 0;
  for (auto& h : inc.hypotheses) {
    const Signature* s = catalog_.find(h.signature);
    double weight = s ? s->weight : 0.1;
    double n = static_cast<double>(std::clamp<std::size_t>(h.evidence_count, 1, kMaxCountedEvents));
    h.score = weight * severity_factor(h.severity) * (1 + 0.25 * std::log2(n)) *
              (&h == first ? 1.2 : 1.0);
    // A symptom whose cause is in the incident is explained away: ten hung-task reports
    // behind one "NFS server not responding" still point at the server.
    if (s && std::any_of(s->explained_by.begin(), s->explained_by.end(),
                         [&](const std::string& c) { return contains(causes, c); }))
      h.score *= kExplainedAway;
    total += h.score;
  }
  for (auto& h : inc.hypotheses)
    h.confidence = total > 0 ? std::round(h.score / total * 100) / 100 : 0;
  std::stable_sort(inc.hypotheses.begin(), inc.hypotheses.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  inc.severity = "info";
  for (const auto& h : inc.hypotheses)
    if (severity_rank(h.severity) > severity_rank(inc.severity)) inc.severity = h.severity;
  if (inc.hypotheses.empty()) return;
  std::string where;
  auto gpus = device_values(inc, "gpu");
  auto pcis = device_values(inc, "pci");
  if (!gpus.empty()) {
    where = "GPU " + gpus.front();
    if (!pcis.empty()) where += " (" + pcis.front() + ")";
  } else if (!pcis.empty()) {
    where = pcis.front();
  } else {
    for (const char* k : {"disk", "nic", "job"}) {
      auto v = device_values(inc, k);
      if (!v.empty()) {
        where = std::string(k) + " " + v.front();
        break;
      }
    }
  }
  inc.title = inc.hypotheses.front().title + (where.empty() ? "" : " on " + where);
}

std::vector<Incident> Engine::incidents() const {
  std::lock_guard l(mu_);
  std::vector<Incident> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) out.push_back(it->second);
  return out;
}

std::optional<Incident> Engine::incident(std::int64_t id) const {
  std::lock_guard l(mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return std::nullopt;
  return it->second;
}

EngineStats Engine::stats() const {
  std::lock_guard l(mu_);
  return stats_;
}

}  // namespace aion::diagnose
