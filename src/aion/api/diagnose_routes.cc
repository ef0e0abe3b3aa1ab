#include "aion/api/diagnose_routes.h"

#include "aion/api/params.h"

#include <charconv>

#include "aion/api/json_reply.h"
#include "aion/api/visibility.h"
#include "aion/core/json.h"
#include "aion/diagnose/incident_json.h"

namespace aion::api {
namespace {

constexpr std::size_t kMaxResolutionNote = 4096;

Response off() {
  return Response::from_error(
      Error(ErrorCode::kUnavailable, "diagnosis is off (diagnose.enabled = false in the config)"));
}

}  // namespace

void add_diagnose_routes(Router& router, diagnose::DiagnoseService* d) {
  router.add({"GET", "/v1/incidents", Role::kViewer,
              "Incidents, most recently updated first, each with its top root-cause hypothesis",
              [d](Request& r) {
                if (!d) return off();
                auto limit = int_query(r, "limit", 50, 1, 10000);
                if (!limit) return Response::from_error(limit.error());
                const std::string state = r.query_or("state", "all");
                diagnose::IncidentFilter filter = diagnose::IncidentFilter::kAll;
                if (state == "open")
                  filter = diagnose::IncidentFilter::kOpen;
                else if (state == "resolved")
                  filter = diagnose::IncidentFilter::kResolved;
                else if (state != "all") {
                  return Response::from_error(
                      Error(ErrorCode::kInvalidArgument, "state must be open, resolved or all"));
                }
                auto list = d->incidents().list(static_cast<int>(*limit), filter);
                if (!list) return Response::from_error(list.error());
                Json out = Json::array();
                for (const auto& i : *list) out.push_back(diagnose::summary_json(i));
                return json_reply(200, Json{{"incidents", out}});
              }});

  router.add({"GET", "/v1/incidents/{id}", Role::kViewer,
              "One incident: ranked hypotheses with confidence and action, evidence, linked "
              "jobs and the remediation audit trail",
              [d](Request& r) {
                if (!d) return off();
                auto id = positive_id_param(r, "an incident");
                if (!id) return Response::from_error(id.error());
                auto inc = d->incidents().get(*id);
                if (!inc) return Response::from_error(inc.error());
                Json j = diagnose::to_json(*inc);
                redact_incident(r.caller, j);
                Json audit = Json::array();
                if (auto log = d->incidents().audit_log(*id)) {
                  for (const auto& a : *log) audit.push_back(diagnose::to_json(a));
                }
                j["audit"] = std::move(audit);
                return json_reply(200, j);
              }});

  router.add({"POST", "/v1/incidents/{id}/remediate", Role::kViewer,
              "Show ({\"dry_run\": true}) or run ({\"dry_run\": false, \"approve\": true}) the "
              "incident's remediation playbook; running needs the operator role",
              [d](Request& r) {
                if (!d) return off();
                auto id = positive_id_param(r, "an incident");
                if (!id) return Response::from_error(id.error());
                Json body = r.body.empty() ? Json::object() : Json::parse(r.body, nullptr, false);
                if (!body.is_object()) {
                  return Response::from_error(
                      Error(ErrorCode::kInvalidArgument, "the body must be a JSON object"));
                }
                diagnose::RemediateRequest req;
                try {
                  req.dry_run = body.value("dry_run", true);
                  req.approve = body.value("approve", false);
                  req.playbook = body.value("playbook", "");
                } catch (const Json::exception&) {
                  return Response::from_error(
                      Error(ErrorCode::kInvalidArgument,
                            "dry_run and approve are booleans, playbook a string"));
                }
                req.privileged = r.caller.role >= Role::kOperator;
                req.caller = r.caller.name;
                auto inc = d->incidents().get(*id);
                if (!inc) return Response::from_error(inc.error());
                auto out = d->remediator().remediate(*inc, req);
                if (!out) return Response::from_error(out.error());
                return json_reply(200, diagnose::to_json(*out));
              }});

  router.add(
      {"POST", "/v1/incidents/{id}/resolve", Role::kOperator,
       "Mark an open incident resolved, with an optional note ({\"note\": \"...\"}); "
       "it takes no more evidence and the audit trail records who resolved it",
       [d](Request& r) {
         if (!d) return off();
         auto id = positive_id_param(r, "an incident");
         if (!id) return Response::from_error(id.error());
         Json body = r.body.empty() ? Json::object() : Json::parse(r.body, nullptr, false);
         if (!body.is_object() || (body.contains("note") && !body["note"].is_string())) {
           return Response::from_error(Error(ErrorCode::kInvalidArgument,
                                             "the body must be {\"note\": \"text\"} or empty"));
         }
         std::string note = body.value("note", "");
         if (note.size() > kMaxResolutionNote) {
           return Response::from_error(
               Error(ErrorCode::kInvalidArgument,
                     "the note is longer than " + std::to_string(kMaxResolutionNote) + " bytes"));
         }
         auto inc = d->resolve(*id, r.caller.name, note);
         if (!inc) return Response::from_error(inc.error());
         Json j = diagnose::to_json(*inc);
         redact_incident(r.caller, j);
         return json_reply(200, j);
       }});

  router.add({"GET", "/v1/doctor", Role::kViewer,
              "Run the node health checks now (driver, persistence, ECC, PCIe, clocks, disk, "
              "memory errors)",
              [d](Request&) {
                if (!d) return off();
                return json_reply(200, diagnose::doctor_json(d->doctor()));
              }});
}

}  // namespace aion::api
