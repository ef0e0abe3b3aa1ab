#include "aion/diagnose/service.h"

#include <spdlog/spdlog.h>

#include "aion/core/json.h"
#include "aion/core/paths.h"

namespace aion::diagnose {

ConfigSchema diagnose_config_schema() {
  ConfigSchema s;
  s.boolean("diagnose.enabled", true, "Correlate faults into incidents in aiond")
      .string("diagnose.signatures_dir", "",
              "Fault signature catalog directory (default: <data dir>/signatures)")
      .string("diagnose.playbooks_dir", "",
              "Remediation playbook directory (default: <data dir>/playbooks)")
      .integer("diagnose.window_s", 300,
               "Evidence at most this far apart (and sharing a device) forms one incident", 1,
               86400)
      .integer("diagnose.poll_interval_ms", 1000, "How often the event log is read for new events",
               50, 60000)
      .strings("diagnose.automatic_playbooks", {},
               "Playbooks an operator may run without --approve (each run is still audited)")
      .integer("diagnose.command_timeout_s", 120, "Time limit of one remediation command", 1, 3600)
      .integer("diagnose.doctor_cache_s", 30,
               "Seconds a doctor run (GET /v1/doctor) is reused: callers in between share it", 0,
               3600);
  return s;
}

Result<DiagnoseOptions> diagnose_options(const Config& c, const std::filesystem::path& state_dir) {
  DiagnoseOptions o;
  o.enabled = c.get_bool("diagnose.enabled");
  std::string sig = c.get_string("diagnose.signatures_dir");
  std::string pb = c.get_string("diagnose.playbooks_dir");
  o.signatures_dir = sig.empty() ? data_dir() / "signatures" : std::filesystem::path(sig);
  o.playbooks_dir = pb.empty() ? data_dir() / "playbooks" : std::filesystem::path(pb);
  o.window = std::chrono::seconds(c.get_int("diagnose.window_s"));
  o.poll_interval = std::chrono::milliseconds(c.get_int("diagnose.poll_interval_ms"));
  for (const auto& p : c.get_strings("diagnose.automatic_playbooks"))
    o.automatic_playbooks.insert(p);
  o.command_timeout = std::chrono::seconds(c.get_int("diagnose.command_timeout_s"));
  o.doctor_cache = std::chrono::seconds(c.get_int("diagnose.doctor_cache_s"));
  o.state_dir = state_dir;
  o.host_root = c.get_string("host.root");
  o.nvml_library = c.get_string("hw.nvml_library");
  return o;
}

Result<std::unique_ptr<Knowledge>> load_knowledge(const DiagnoseOptions& o) {
  auto k = std::make_unique<Knowledge>();
  auto cat = Catalog::load_dir(o.signatures_dir);
  if (!cat) return std::unexpected(cat.error());
  k->catalog = std::move(*cat);
  auto m = Matcher::build(k->catalog);
  if (!m) return std::unexpected(m.error());
  k->matcher = std::move(*m);
  auto pbs = load_playbooks(o.playbooks_dir);
  if (!pbs) return std::unexpected(pbs.error());
  k->playbooks = std::move(*pbs);
  for (const auto& s : k->catalog.signatures()) {
    if (s.playbook.empty()) continue;
    bool found = false;
    for (const auto& p : k->playbooks) found = found || p.id == s.playbook;
    if (!found) {
      return fail(ErrorCode::kCorrupt, s.file + ": " + s.id + ": playbook '" + s.playbook +
                                           "' is not in " + o.playbooks_dir.string());
    }
  }
  for (const auto& a : o.automatic_playbooks) {
    bool found = false;
    for (const auto& p : k->playbooks) found = found || p.id == a;
    if (!found) {
      return fail(ErrorCode::kConfig, "diagnose.automatic_playbooks: no playbook '" + a + "' in " +
                                          o.playbooks_dir.string());
    }
  }
  return k;
}

DiagnoseService::DiagnoseService(DiagnoseOptions options, store::Store& store,
                                 store::EventLog& events, std::unique_ptr<Knowledge> knowledge)
    : options_(std::move(options)),
      events_(events),
      knowledge_(std::move(knowledge)),
      incidents_(store, Clock::system()),
      doctor_cache_(
          [this] {
            return run_doctor(HostFs(options_.host_root), {.state_dir = options_.state_dir,
                                                           .nvml_library = options_.nvml_library});
          },
          options_.doctor_cache, Clock::system()) {}

Result<std::unique_ptr<DiagnoseService>> DiagnoseService::create(
    DiagnoseOptions options, store::Store& store, store::EventLog& events,
    std::map<std::string, int> gpu_by_pci, RemediationHooks hooks, JobRanAt job_ran_at) {
  auto k = load_knowledge(options);
  if (!k) return std::unexpected(k.error());
  std::unique_ptr<DiagnoseService> s(
      new DiagnoseService(std::move(options), store, events, std::move(*k)));
  EngineOptions eo;
  eo.window = s->options_.window;
  eo.gpu_by_pci = std::move(gpu_by_pci);
  eo.job_ran_at = std::move(job_ran_at);
  s->engine_ = std::make_unique<Engine>(s->knowledge_->catalog, *s->knowledge_->matcher, eo);
  auto max = s->incidents_.max_id();
  if (!max) return std::unexpected(max.error());
  s->engine_->set_next_id(*max + 1);
  hooks.health_dir = s->options_.state_dir / "health";
  hooks.command_timeout = s->options_.command_timeout;
  s->remediator_ = std::make_unique<Remediator>(
      s->knowledge_->playbooks, s->options_.automatic_playbooks, &s->incidents_, std::move(hooks));
  DiagnoseService* self = s.get();
  s->engine_->set_listener([self](const Incident& inc, const std::vector<std::int64_t>& merged) {
    if (auto st = self->incidents_.save(inc, merged); !st) {
      spdlog::error("event=incident_save_failed id={} error=\"{}\"", inc.id, st.error().message());
    }
    if (self->known_.insert(inc.id).second) {
      spdlog::warn("event=incident id={} severity={} title=\"{}\"", inc.id, inc.severity,
                   inc.title);
      Json data = {{"incident", inc.id}, {"devices", inc.devices}};
      self->events_.record({.kind = "incident",
                            .severity = inc.severity,
                            .source = "diagnose",
                            .message = "incident " + std::to_string(inc.id) + ": " + inc.title,
                            .data_json = data.dump()});
    }
  });
  return s;
}

Result<Incident> DiagnoseService::resolve(std::int64_t id, const std::string& by,
                                          const std::string& note) {
  auto inc = incidents_.resolve(id, by, note);
  if (!inc) return inc;
  engine_->resolved(id, inc->resolved_ms, by, note);
  spdlog::info("event=incident_resolved id={} by=\"{}\"", id, by);
  Json data = {{"incident", id}, {"state", "resolved"}, {"resolved_by", by}};
  events_.record({.kind = "incident",
                  .severity = "info",
                  .source = "diagnose",
                  .message = "incident " + std::to_string(id) + " resolved by " + by,
                  .data_json = data.dump()});
  return inc;
}

DiagnoseService::~DiagnoseService() {
  stop();
}

void DiagnoseService::start() {
  last_event_ = events_.last_id();
  thread_ = std::thread([this] { loop(); });
}

void DiagnoseService::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiagnoseService::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    while (events_.last_id() > last_event_) {
      auto batch = events_.list({.since_id = last_event_, .limit = 500});
      if (!batch || batch->empty()) break;
      for (const auto& e : *batch) {
        last_event_ = e.id;
        if (e.source == "diagnose") continue;
        engine_->on_event(e.kind, e.severity, e.message, e.data_json,
                          Clock::Wall(std::chrono::milliseconds(e.time_ms)), e.id);
      }
    }
    lock.lock();
    cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
  }
}

std::vector<DoctorCheck> DiagnoseService::doctor() {
  return doctor_cache_.get();
}

std::vector<DoctorCheck> DoctorCache::get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (computed_at_ && clock_.monotonic() - *computed_at_ < period_) return checks_;
    if (!computing_) break;
    // Another caller runs the checks now: share its result.
    const std::uint64_t gen = generation_;
    cv_.wait(lock, [&] { return generation_ != gen; });
    if (period_.count() == 0) return checks_;
  }
  computing_ = true;
  lock.unlock();
  std::vector<DoctorCheck> fresh;
  try {
    fresh = compute_();
  } catch (...) {
    lock.lock();
    computing_ = false;
    ++generation_;
    cv_.notify_all();
    throw;
  }
  lock.lock();
  checks_ = std::move(fresh);
  computed_at_ = clock_.monotonic();
  computing_ = false;
  ++generation_;
  cv_.notify_all();
  return checks_;
}

}  // namespace aion::diagnose
