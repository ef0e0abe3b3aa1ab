#include "aion/diagnose/incident_json.h"

#include "aion/core/clock.h"

namespace aion::diagnose {
namespace {

std::string rfc3339(std::int64_t ms) {
  return format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

Json hypothesis_json(const Hypothesis& h, std::size_t rank) {
  Json j = hypothesis_text_json(h);
  j["rank"] = rank;
  j["signature"] = h.signature;
  j["confidence"] = h.confidence;
  j["score"] = h.score;
  j["evidence_count"] = h.evidence_count;
  j["first_ms"] = h.first_ms;
  return j;
}

}  // namespace

Json hypothesis_text_json(const Hypothesis& h) {
  return {{"title", h.title},       {"component", h.component}, {"severity", h.severity},
          {"meaning", h.meaning},   {"collect", h.collect},     {"action", h.action},
          {"playbook", h.playbook}, {"source", h.source}};
}

void read_hypothesis_text(const Json& j, Hypothesis& h) {
  h.title = j.value("title", "");
  h.component = j.value("component", "");
  h.severity = j.value("severity", "");
  h.meaning = j.value("meaning", "");
  h.collect = j.value("collect", std::vector<std::string>{});
  h.action = j.value("action", "");
  h.playbook = j.value("playbook", "");
  h.source = j.value("source", "");
}

std::vector<std::string> device_values(const Incident& incident, std::string_view kind) {
  std::vector<std::string> out;
  for (const auto& d : incident.devices) {
    if (d.size() > kind.size() && d.compare(0, kind.size(), kind) == 0 && d[kind.size()] == ':')
      out.push_back(d.substr(kind.size() + 1));
  }
  return out;
}

Json summary_json(const Incident& i) {
  Json top = i.hypotheses.empty() ? Json(nullptr) : hypothesis_json(i.hypotheses.front(), 1);
  return {{"id", i.id},
          {"opened_ms", i.opened_ms},
          {"opened", rfc3339(i.opened_ms)},
          {"updated_ms", i.updated_ms},
          {"updated", rfc3339(i.updated_ms)},
          {"severity", i.severity},
          {"title", i.title},
          {"devices", i.devices},
          {"jobs", i.jobs},
          {"evidence_total", i.evidence_total},
          {"top", top},
          {"state", i.resolved() ? "resolved" : "open"},
          {"resolved_ms", i.resolved_ms},
          {"resolved", i.resolved() ? Json(rfc3339(i.resolved_ms)) : Json(nullptr)},
          {"resolved_by", i.resolved_by},
          {"resolution", i.resolution}};
}

Json to_json(const Incident& i) {
  Json j = summary_json(i);
  Json hyps = Json::array();
  for (std::size_t k = 0; k < i.hypotheses.size(); ++k)
    hyps.push_back(hypothesis_json(i.hypotheses[k], k + 1));
  j["hypotheses"] = std::move(hyps);
  Json ev = Json::array();
  for (const auto& e : i.evidence) {
    Json x = {{"time_ms", e.time_ms}, {"time", rfc3339(e.time_ms)},
              {"source", e.source},   {"signature", e.signature},
              {"text", e.text},       {"devices", e.devices}};
    if (!e.metrics_json.empty()) {
      Json m = Json::parse(e.metrics_json, nullptr, false);
      if (!m.is_discarded()) x["metrics"] = std::move(m);
    }
    ev.push_back(std::move(x));
  }
  j["evidence"] = std::move(ev);
  return j;
}

Json to_json(const RemediateOutcome& o) {
  Json steps = Json::array();
  for (const auto& s : o.plan.steps) {
    Json j = {{"number", s.number}, {"action", s.action}, {"description", s.description},
              {"command", s.argv},  {"target", s.target}, {"problem", s.problem}};
    for (const auto& r : o.steps) {
      if (r.step.number == s.number) {
        j["outcome"] = r.outcome;
        j["detail"] = r.detail;
      }
    }
    steps.push_back(std::move(j));
  }
  return {{"incident", o.plan.incident_id},
          {"playbook", o.plan.playbook},
          {"title", o.plan.title},
          {"automatic", o.plan.automatic},
          {"executed", o.executed},
          {"dry_run", !o.executed},
          {"steps", steps}};
}

Json to_json(const AuditRecord& a) {
  return {{"id", a.id},
          {"time_ms", a.time_ms},
          {"time", rfc3339(a.time_ms)},
          {"incident", a.incident_id},
          {"playbook", a.playbook},
          {"step", a.step},
          {"action", a.action},
          {"command", a.command},
          {"approved_by", a.approved_by},
          {"caller", a.caller},
          {"outcome", a.outcome},
          {"detail", a.detail}};
}

Json doctor_json(const std::vector<DoctorCheck>& checks) {
  Json arr = Json::array();
  for (const auto& c : checks) {
    arr.push_back({{"name", c.name},
                   {"status", c.status},
                   {"subject", c.subject},
                   {"found", c.found},
                   {"action", c.action}});
  }
  return {{"status", overall_status(checks)}, {"checks", arr}};
}

}  // namespace aion::diagnose
