#include "aion/api/visibility.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "aion/api/accounts.h"
#include "aion/core/clock.h"
#include "aion/sched/job_json.h"

namespace aion::api {

bool is_admin(const Identity& caller) {
  return caller.role == Role::kAdmin || caller.uid == 0;
}

bool acts_for(const Identity& caller, std::uint32_t owner_uid) {
  if (caller.uid >= 0) return static_cast<std::uint32_t>(caller.uid) == owner_uid;
  // A token acts for the accounts of its run-as list (never root: no list may name it).
  if (caller.run_as.empty() || owner_uid == 0) return false;
  auto owner = find_account(owner_uid);
  return owner &&
         std::find(caller.run_as.begin(), caller.run_as.end(), owner->name) != caller.run_as.end();
}

bool may_see_private(const Identity& caller, std::uint32_t owner_uid) {
  return is_admin(caller) || acts_for(caller, owner_uid);
}

Json job_for(const Identity& caller, const sched::Job& job) {
  Json j = sched::to_json(job);
  if (!may_see_private(caller, job.spec.uid)) sched::strip_private(j);
  return j;
}

bool may_see_line(const Identity& caller, const logs::LogLine& line) {
  if (is_admin(caller)) return true;
  return line.origin == logs::LineOrigin::kJournal && caller.uid > 0 && line.uid == caller.uid;
}

namespace {

Json event_object(const store::Event& e, Json data) {
  return {{"id", e.id},
          {"time", format_rfc3339(Clock::Wall(std::chrono::milliseconds(e.time_ms)))},
          {"time_ms", e.time_ms},
          {"kind", e.kind},
          {"severity", e.severity},
          {"source", e.source},
          {"message", e.message},
          {"data", std::move(data)}};
}

// A log_template event's line, as far as its data says where the line came from. Events
// written before origins were recorded have none: they count as the kernel's (admins only).
logs::LogLine line_of(const Json& data) {
  logs::LogLine line;
  line.origin = logs::LineOrigin::kKernel;
  if (data.value("origin", "") == "journal") line.origin = logs::LineOrigin::kJournal;
  const Json& uid = data.contains("uid") ? data["uid"] : Json();
  if (uid.is_number_integer()) line.uid = uid.get<long>();
  return line;
}

// Whether an event's data names a uid (its "uid") the caller acts for.
bool owned_by(const Identity& caller, const Json& data) {
  const Json& uid = data.contains("uid") ? data["uid"] : Json();
  return uid.is_number_unsigned() && uid.get<std::uint64_t>() <= UINT32_MAX &&
         acts_for(caller, static_cast<std::uint32_t>(uid.get<std::uint64_t>()));
}

}  // namespace

std::optional<Json> event_for(const Identity& caller, const store::Event& e) {
  Json data = Json::parse(e.data_json, nullptr, false);
  if (data.is_discarded()) data = Json::object();
  if (is_admin(caller)) return event_object(e, std::move(data));
  if (e.kind == "log_template" && !may_see_line(caller, line_of(data))) return std::nullopt;
  if (e.kind == "guard") {  // what a job's sandbox refused: its paths are its owner's business
    const bool mine = owned_by(caller, data);
    if (!mine) {
      Json shown_data = {{"job", data.value("job", Json())},
                         {"kind", data.value("kind", Json())},
                         {"user", data.value("user", Json())},
                         {"time_ms", data.value("time_ms", Json())}};
      store::Event shown = e;
      shown.message = "job " + (data.contains("job") ? data["job"].dump() : std::string("?")) +
                      " (" + data.value("user", std::string("?")) + "): its sandbox refused a " +
                      data.value("kind", std::string("?")) + " access";
      return event_object(shown, std::move(shown_data));
    }
  }
  if (e.kind == "job") {
    const bool mine = owned_by(caller, data);
    if (!mine) {
      sched::strip_private(data);
      store::Event shown = e;
      shown.message = "job " + (data.contains("id") ? data["id"].dump() : std::string("?")) + " (" +
                      data.value("user", std::string("?")) +
                      "): " + data.value("state", std::string("?"));
      return event_object(shown, std::move(data));
    }
  }
  return event_object(e, std::move(data));
}

void redact_incident(const Identity& caller, Json& incident) {
  if (is_admin(caller) || !incident.is_object()) return;
  auto ev = incident.find("evidence");
  if (ev == incident.end() || !ev->is_array()) return;
  for (auto& e : *ev) {
    if (!e.is_object()) continue;
    e["text"] = "";
    e["withheld"] = true;
  }
}

}  // namespace aion::api
