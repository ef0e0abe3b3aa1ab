// aion incidents, aion incident ID, aion remediate ID, aion resolve ID, aion doctor,
// aion diagnose FILE|-: the diagnosis engine's incidents (from the daemon), remediation and
// resolution through the daemon, and the checks and log diagnosis that run without it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/diagnose/doctor.h"
#include "aion/diagnose/engine.h"
#include "aion/diagnose/incident_json.h"
#include "aion/diagnose/logtime.h"
#include "aion/diagnose/service.h"
#include "command.h"
#include "daemon_client.h"
#include "table.h"

namespace aion::cli {
namespace {

std::string percent(double c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%3.0f%%", c * 100);
  return buf;
}

std::string short_time(const std::string& rfc3339) {
  // "2026-11-30T11:18:23.123Z" -> "2026-11-30 11:18:23"
  if (rfc3339.size() < 19) return rfc3339;
  // dmesg times counted from a boot aion was not told (`aion diagnose --boot-time`) come out
  // near the epoch: show them as what they are, "boot+812.123s".
  if (rfc3339 < "1990") {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0;
    double sec = 0;
    if (std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%lfZ", &y, &mo, &d, &h, &mi, &sec) == 6) {
      const auto days = std::chrono::sys_days(std::chrono::year(y) / mo / d).time_since_epoch();
      const double up = static_cast<double>(days.count()) * 86400 + h * 3600 + mi * 60 + sec;
      char buf[48];
      std::snprintf(buf, sizeof buf, "boot+%.3fs", up);
      return buf;
    }
  }
  std::string s = rfc3339.substr(0, 19);
  s[10] = ' ';
  return s;
}

std::string joined(const Json& arr, const char* sep = " ") {
  std::string out;
  for (const auto& x : arr) {
    std::string v = x.is_string() ? x.get<std::string>() : x.dump();
    out += (out.empty() ? "" : sep) + v;
  }
  return out;
}

void print_incident_list(const Json& incidents) {
  if (incidents.empty()) {
    std::printf("no incidents\n");
    return;
  }
  Table t({"ID", "STATE", "SEVERITY", "UPDATED", "CONF", "TITLE", "JOBS"});
  for (const auto& i : incidents) {
    const Json& top = i["top"];
    t.add({std::to_string(i.value("id", 0LL)), i.value("state", "open"), i.value("severity", ""),
           short_time(i.value("updated", "")),
           top.is_object() ? percent(top.value("confidence", 0.0)) : "-", i.value("title", ""),
           i["jobs"].empty() ? "-" : joined(i["jobs"], ",")});
  }
  t.print();
}

void print_incident(const Json& i) {
  std::printf("incident %lld  %s  %s\n", i.value("id", 0LL), i.value("severity", "").c_str(),
              i.value("title", "").c_str());
  std::printf("  from %s to %s   devices: %s   jobs: %s\n",
              short_time(i.value("opened", "")).c_str(), short_time(i.value("updated", "")).c_str(),
              i["devices"].empty() ? "-" : joined(i["devices"]).c_str(),
              i["jobs"].empty() ? "-" : joined(i["jobs"], ", ").c_str());
  if (i.value("state", "open") == "resolved") {
    const std::string note = i.value("resolution", "");
    std::printf("  resolved %s by %s%s%s\n", short_time(i.value("resolved", "")).c_str(),
                i.value("resolved_by", "").c_str(), note.empty() ? "" : ": ", note.c_str());
  }
  std::printf("\nRoot-cause hypotheses (most likely first):\n");
  for (const auto& h : i.value("hypotheses", Json::array())) {
    std::printf("  %lld. %s  %s  [%s, %s, %lld event(s)]\n", h.value("rank", 0LL),
                percent(h.value("confidence", 0.0)).c_str(), h.value("title", "").c_str(),
                h.value("component", "").c_str(), h.value("severity", "").c_str(),
                h.value("evidence_count", 0LL));
    std::printf("       meaning: %s\n", h.value("meaning", "").c_str());
    std::printf("       action:  %s\n", h.value("action", "").c_str());
    std::printf("       collect: %s\n", joined(h.value("collect", Json::array()), "; ").c_str());
    if (!h.value("playbook", "").empty()) {
      std::printf("       playbook: %s (aion remediate %lld --dry-run)\n",
                  h.value("playbook", "").c_str(), i.value("id", 0LL));
    }
    std::printf("       source:  %s\n", h.value("source", "").c_str());
  }
  std::printf("\nEvidence (%lld in all):\n", i.value("evidence_total", 0LL));
  Table evidence;  // no header: each row one line of evidence, a metric's below its line
  for (const auto& e : i.value("evidence", Json::array())) {
    evidence.add({"  " + short_time(e.value("time", "")), e.value("source", ""),
                  e.value("signature", ""), e.value("text", "")});
    if (e.contains("metrics")) {
      const Json& m = e["metrics"];
      evidence.add({"", "", "",
                    "metric " + m.value("series", "") + " = " +
                        (m.contains("value") ? m["value"].dump() : "?") + " (baseline " +
                        (m.contains("baseline") ? m["baseline"].dump() : "?") + ")"});
    }
  }
  evidence.print();
  if (i.contains("audit") && !i["audit"].empty()) {
    std::printf("\nRemediation audit:\n");
    for (const auto& a : i["audit"]) {
      std::printf("  %s  %s step %lld %s %s: %s (caller %s, approved by %s)\n",
                  short_time(a.value("time", "")).c_str(), a.value("playbook", "").c_str(),
                  a.value("step", 0LL), a.value("action", "").c_str(),
                  a.value("outcome", "").c_str(), a.value("detail", "").c_str(),
                  a.value("caller", "").c_str(),
                  a.value("approved_by", "").empty() ? "-" : a.value("approved_by", "").c_str());
    }
  }
}

void print_outcome(const Json& o) {
  bool executed = o.value("executed", false);
  std::printf("%s playbook %s for incident %lld: %s%s\n",
              executed ? "ran" : "dry run:", o.value("playbook", "").c_str(),
              o.value("incident", 0LL), o.value("title", "").c_str(),
              o.value("automatic", false) ? " (automatic)" : "");
  Table steps;  // no header: a step, then below its description what it runs and how it went
  for (const auto& s : o.value("steps", Json::array())) {
    steps.add({"  " + std::to_string(s.value("number", 0LL)) + ".", s.value("action", ""),
               s.value("description", "")});
    if (!s["command"].empty()) steps.add({"", "", "command: " + joined(s["command"])});
    if (!s.value("problem", "").empty())
      steps.add({"", "", "cannot run: " + s.value("problem", "")});
    if (s.contains("outcome")) {
      const std::string detail = s.value("detail", "");
      steps.add({"", "", s.value("outcome", "") + (detail.empty() ? "" : ": " + detail)});
    }
  }
  steps.print();
  if (!executed) std::printf("nothing was run; run it with --approve (operator or admin)\n");
}

void print_doctor(const Json& d) {
  Table t({"STATUS", "CHECK", "SUBJECT", "FOUND", "WHAT TO DO"});
  for (const auto& c : d["checks"]) {
    t.add({c.value("status", ""), c.value("name", ""), c.value("subject", ""), c.value("found", ""),
           c.value("action", "")});
  }
  t.print();
  std::printf("overall: %s\n", d.value("status", "").c_str());
}

}  // namespace

namespace {

struct DiagArgs {
  std::string file;
  long long window_s = 0;
  std::string source;
  std::string boot_time;
};

// The boot dmesg's "[ 812.123456]" times count from: --boot-time "this" (this machine's,
// from /proc/uptime below host.root), an RFC 3339 time, or none (Clock::Wall{}).
Result<Clock::Wall> boot_time_of(const Config& cfg, const std::string& text, Clock::Wall now,
                                 int year) {
  if (text == "this") {
    const std::string root = cfg.get_string("host.root");
    auto up = HostFs(root.empty() ? "/" : root).read("/proc/uptime");
    if (!up) return std::unexpected(up.error());
    return now - std::chrono::milliseconds(
                     static_cast<std::int64_t>(std::strtod(up->c_str(), nullptr) * 1000));
  }
  if (text.empty()) return Clock::Wall{};
  auto b = diagnose::parse_log_time(text, year, Clock::Wall{});
  if (!b || text.front() == '[') {
    return fail(ErrorCode::kInvalidArgument,
                "--boot-time '" + text +
                    "' is not a time: give RFC 3339 (2026-11-30T03:12:00Z) or \"this\"");
  }
  return *b;
}

// What `aion diagnose FILE` read and matched.
struct DiagnoseRun {
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::size_t signatures = 0;
  std::size_t patterns = 0;
};

void print_diagnosis(Context& ctx, const diagnose::Engine& engine, const DiagnoseRun& run) {
  auto st = engine.stats();
  auto incidents = engine.incidents();
  if (ctx.json) {
    Json arr = Json::array();
    for (const auto& i : incidents) arr.push_back(diagnose::to_json(i));
    Json out = {{"incidents", arr},
                {"stats",
                 {{"lines", st.lines},
                  {"hits", st.hits},
                  {"bytes", run.bytes},
                  {"seconds", run.seconds},
                  {"signatures", run.signatures},
                  {"patterns", run.patterns}}}};
    std::printf("%s\n", out.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    return;
  }
  for (const auto& i : incidents) {
    print_incident(diagnose::to_json(i));
    std::printf("\n");
  }
  std::fprintf(stderr, "%llu lines, %llu matched, %zu incident(s), %.0f lines/s\n",
               static_cast<unsigned long long>(st.lines), static_cast<unsigned long long>(st.hits),
               incidents.size(),
               run.seconds > 0 ? static_cast<double>(st.lines) / run.seconds : 0.0);
}

void run_diagnose_file(Context& ctx, const DiagArgs& da) {
  auto cfg = load_config(ctx);
  if (!cfg) return;
  auto options = diagnose::diagnose_options(*cfg, settings_from(*cfg).state_dir);
  if (!options) return report(ctx, options.error());
  auto k = diagnose::load_knowledge(*options);
  if (!k) return report(ctx, k.error());
  diagnose::EngineOptions eo;
  eo.window = da.window_s > 0 ? std::chrono::seconds(da.window_s) : options->window;
  diagnose::Engine engine((*k)->catalog, *(*k)->matcher, eo);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (da.file != "-") {
    file.open(da.file);
    if (!file) return report(ctx, Error(ErrorCode::kNotFound, "cannot read " + da.file));
    in = &file;
  }
  std::string source = !da.source.empty() ? da.source
                       : da.file == "-"   ? "stdin"
                                          : "file:" + da.file;
  const Clock::Wall now = Clock::system().wall();
  const int year = static_cast<int>(
      std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)).year());
  auto boot = boot_time_of(*cfg, da.boot_time, now, year);
  if (!boot) return report(ctx, boot.error());
  Clock::Wall t = now;
  std::string line;
  auto start = std::chrono::steady_clock::now();
  DiagnoseRun run;
  while (std::getline(*in, line)) {
    run.bytes += line.size() + 1;
    if (auto parsed = diagnose::parse_log_time(line, year, *boot)) t = *parsed;
    // The operator chose this file as the node's log: its lines count as the kernel's
    // (a job's output stays a job's), unlike aiond's live sources, whose origin is proven.
    engine.on_log_line(source, t, line, source.starts_with("job:") ? "job" : "kernel");
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.signatures = (*k)->catalog.signatures().size();
  run.patterns = (*k)->matcher->pattern_count();
  print_diagnosis(ctx, engine, run);
}

}  // namespace

namespace {

// aion incidents
void add_incidents_command(Command& app, Context& ctx) {
  struct ListArgs {
    int limit = 50;
    bool open = false;
    bool resolved = false;
  };
  auto la = std::make_shared<ListArgs>();
  Command list =
      app.add("incidents", "Incidents the daemon diagnosed, most recently updated first");
  list.option("--limit", la->limit, "At most this many (default 50)").range(1, 10000);
  Option open = list.flag("--open", la->open, "Only the open ones (not resolved yet)");
  list.flag("--resolved", la->resolved, "Only the resolved ones").excludes(open);
  list.action([&ctx, la] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    const char* state = la->open ? "open" : la->resolved ? "resolved" : "all";
    auto body = call(ctx, *client, "GET",
                     "/v1/incidents?limit=" + std::to_string(la->limit) + "&state=" + state);
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    print_incident_list(Json::parse(*body, nullptr, false).value("incidents", Json::array()));
  });
}

// aion incident ID
void add_incident_command(Command& app, Context& ctx) {
  auto id = std::make_shared<long long>(0);
  Command one =
      app.add("incident", "One incident: ranked root causes, evidence, linked jobs, audit trail");
  one.option("ID", *id, "Incident id (aion incidents)").required().positive();
  one.action([&ctx, id] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    auto body = call(ctx, *client, "GET", "/v1/incidents/" + std::to_string(*id));
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    print_incident(Json::parse(*body, nullptr, false));
  });
}

// aion remediate ID
void add_remediate_command(Command& app, Context& ctx) {
  struct RemArgs {
    long long id = 0;
    bool dry_run = false;
    bool approve = false;
    std::string playbook;
  };
  auto ra = std::make_shared<RemArgs>();
  Command rem = app.add(
      "remediate", "Show (--dry-run) or run (--approve, operator/admin) an incident's playbook");
  rem.option("ID", ra->id, "Incident id").required().positive();
  Option dry = rem.flag("--dry-run", ra->dry_run, "Show exactly what would run; run nothing");
  rem.flag("--approve", ra->approve, "Approve and run the playbook (audited)").excludes(dry);
  rem.option("--playbook", ra->playbook,
             "Playbook id (default: the one of the most likely hypothesis)");
  rem.action([&ctx, ra] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    bool dry_run = ra->dry_run || !ra->approve;
    if (!ra->dry_run && !ra->approve) {
      warn(ctx, "neither --dry-run nor --approve given: showing the dry run");
    }
    Json req = {{"dry_run", dry_run}, {"approve", ra->approve}, {"playbook", ra->playbook}};
    auto body = call(ctx, *client, "POST", "/v1/incidents/" + std::to_string(ra->id) + "/remediate",
                     req.dump());
    if (!body) return;
    Json o = Json::parse(*body, nullptr, false);
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
    } else {
      print_outcome(o);
    }
    for (const auto& s : o.value("steps", Json::array()))
      if (s.value("outcome", "") == "failed") ctx.exit_code = kExitFailure;
  });
}

// aion resolve ID
void add_resolve_command(Command& app, Context& ctx) {
  struct ResolveArgs {
    long long id = 0;
    std::string note;
  };
  auto ra = std::make_shared<ResolveArgs>();
  Command res = app.add("resolve",
                        "Mark an incident resolved (operator/admin): it leaves the open list, "
                        "takes no more evidence, and the audit trail records who and why");
  res.option("ID", ra->id, "Incident id (aion incidents --open)").required().positive();
  res.option("--note", ra->note,
             "What was done or found, kept with the incident (e.g. \"reseated the riser\")");
  res.action([&ctx, ra] {
    auto client = connect_daemon(ctx);
    if (!client) return;
    Json req = Json::object();
    if (!ra->note.empty()) req["note"] = ra->note;
    auto body = call(ctx, *client, "POST", "/v1/incidents/" + std::to_string(ra->id) + "/resolve",
                     req.dump());
    if (!body) return;
    if (ctx.json) {
      std::printf("%s\n", body->c_str());
      return;
    }
    Json i = Json::parse(*body, nullptr, false);
    std::printf("incident %lld resolved by %s\n", i.value("id", 0LL),
                i.value("resolved_by", "").c_str());
  });
}

void add_doctor_command(Command& app, Context& ctx) {
  Command doc = app.add(
      "doctor",
      "Check the node now: GPU driver, persistence mode, pending ECC repairs, PCIe links, "
      "throttling, disk space, memory errors (no daemon needed; exit 1 when a check fails)");
  doc.action([&ctx] {
    auto cfg = load_config(ctx);
    if (!cfg) return;
    Settings s = settings_from(*cfg);
    auto checks =
        diagnose::run_doctor(HostFs(cfg->get_string("host.root")),
                             {.state_dir = std::filesystem::exists(s.state_dir) ? s.state_dir : "",
                              .nvml_library = cfg->get_string("hw.nvml_library")});
    Json d = diagnose::doctor_json(checks);
    if (ctx.json) {
      std::printf("%s\n", d.dump().c_str());
    } else {
      print_doctor(d);
    }
    // A check that warns is a warning of the command: --strict fails on it.
    for (const auto& c : d["checks"]) ctx.warnings += c.value("status", "") == "warn" ? 1 : 0;
    if (d.value("status", "ok") == "fail") ctx.exit_code = kExitFailure;
  });
}

// aion diagnose FILE
void add_diagnose_file_command(Command& app, Context& ctx) {
  auto da = std::make_shared<DiagArgs>();
  Command diag =
      app.add("diagnose",
              "Run the fault signatures and the correlation over a log file (or - for stdin), no "
              "daemon needed: e.g. journalctl -k -o short-iso | aion diagnose -");
  diag.option("FILE", da->file, "Log file, or - for stdin").required();
  diag.option("--window", da->window_s,
              "Correlation window in seconds (default: diagnose.window_s)")
      .range(1, 86400);
  diag.option("--source", da->source,
              "Where the lines come from: kmsg, journal, file:PATH, job:ID (job output)");
  diag.option("--boot-time", da->boot_time,
              "When the boot began that dmesg's \"[ 812.123456]\" times count from: an RFC "
              "3339 time, or \"this\" for this machine's boot (default: shown as boot+SECONDS)");
  diag.action([&ctx, da] { run_diagnose_file(ctx, *da); });
}

}  // namespace

void add_diagnose_commands(Command& app, Context& ctx) {
  add_incidents_command(app, ctx);
  add_incident_command(app, ctx);
  add_remediate_command(app, ctx);
  add_resolve_command(app, ctx);
  add_doctor_command(app, ctx);
  add_diagnose_file_command(app, ctx);
}

}  // namespace aion::cli
