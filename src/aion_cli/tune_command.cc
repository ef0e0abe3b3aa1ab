// aion tune list | show PROFILE | diff PROFILE | apply PROFILE | rollback [SNAPSHOT] | status |
// recommend: tuning profiles, applied with a snapshot and rolled back exactly. Everything but
// recommend's telemetry works without the daemon; apply and rollback on the live machine need
// root, like tuned-adm.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

#include "aion/api/http.h"
#include "aion/core/config.h"
#include "aion/core/host_fs.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/hw/discovery.h"
#include "aion/tune/apply.h"
#include "aion/tune/job_tuning.h"
#include "aion/tune/plan.h"
#include "aion/tune/profile.h"
#include "aion/tune/recommend.h"
#include "aion/tune/snapshot.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

using namespace aion::tune;

// What every tune command reads: the config, the host root and where snapshots live.
struct TuneEnv {
  Config config;
  HostFs host;
  SnapshotStore store;
};

std::optional<TuneEnv> load_env(Context& ctx) {
  auto cfg = load_config(ctx);
  if (!cfg) return std::nullopt;
  Settings settings = settings_from(*cfg);
  const std::string root = cfg->get_string("host.root");
  return TuneEnv{*cfg, HostFs(root.empty() ? "/" : root),
                 SnapshotStore(snapshot_dir(settings.state_dir))};
}

std::optional<ProfileCatalog> load_catalog(Context& ctx, const TuneEnv& env) {
  auto cat = ProfileCatalog::load(builtin_profile_dir(), env.host);
  if (!cat) {
    report(ctx, cat.error());
    return std::nullopt;
  }
  return std::move(*cat);
}

std::optional<hw::Inventory> inventory(Context& ctx, const TuneEnv& env) {
  auto options = hw::discovery_options(env.config);
  if (!options) {
    report(ctx, options.error());
    return std::nullopt;
  }
  return discover(ctx, env.host, *options);
}

// Resolves and checks a profile against the machine; errors name file and key.
std::optional<Plan> plan_for(Context& ctx, const TuneEnv& env, const std::string& name) {
  auto inv = inventory(ctx, env);
  if (!inv) return std::nullopt;
  auto plan = plan_profile(name, env.host, *inv);
  if (!plan) {
    report(ctx, plan.error());
    return std::nullopt;
  }
  return std::move(*plan);
}

bool require_root(Context& ctx, const HostFs& host, const std::string& what) {
  auto ok = tune::require_root(host, what);
  if (!ok) report(ctx, ok.error());
  return ok.has_value();
}

// "60" when every target agrees, "powersave x3, performance" otherwise.
std::string values_text(const std::vector<std::string>& values) {
  if (values.empty()) return "-";
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& v : values) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == v; });
    if (it == counts.end()) {
      counts.push_back({v, 1});
    } else {
      ++it->second;
    }
  }
  if (counts.size() == 1) return counts.front().first;
  if (counts.size() > 3) return "mixed (" + std::to_string(counts.size()) + " values)";
  std::string out;
  for (const auto& [v, n] : counts)
    out += (out.empty() ? "" : ", ") + v + (n > 1 ? " x" + std::to_string(n) : "");
  return out;
}

std::string targets_text(std::size_t n) {
  return n <= 1 ? "" : " (" + std::to_string(n) + " targets)";
}

void print_list(const ProfileCatalog& cat, bool json) {
  if (json) {
    Json out = Json::array();
    for (const auto& p : cat.profiles()) {
      out.push_back({{"name", p.name},
                     {"summary", p.summary},
                     {"inherits", p.inherits},
                     {"origin", p.origin},
                     {"file", p.file},
                     {"settings", p.settings.size()}});
    }
    std::printf("%s\n", Json{{"profiles", out}}.dump(2).c_str());
    return;
  }
  Table t({"PROFILE", "INHERITS", "ORIGIN", "SETTINGS", "SUMMARY"});
  for (const auto& p : cat.profiles()) {
    std::string inh;
    for (const auto& i : p.inherits) inh += (inh.empty() ? "" : ",") + i;
    t.add(
        {p.name, inh.empty() ? "-" : inh, p.origin, std::to_string(p.settings.size()), p.summary});
  }
  t.print();
}

void print_show(const ResolvedProfile& r, bool json) {
  if (json) {
    Json settings = Json::array();
    for (const auto& s : r.settings) {
      settings.push_back({{"key", s.key},
                          {"value", s.value},
                          {"reason", s.reason},
                          {"source", s.source},
                          {"file", s.file}});
    }
    std::printf(
        "%s\n",
        Json{{"name", r.name}, {"summary", r.summary}, {"chain", r.chain}, {"settings", settings}}
            .dump(2)
            .c_str());
    return;
  }
  std::string chain;
  for (const auto& c : r.chain) chain += (chain.empty() ? "" : " <- ") + c;
  std::printf("%s: %s\ninherits: %s\n\n", r.name.c_str(), r.summary.c_str(), chain.c_str());
  for (const auto& s : r.settings) {
    std::printf("%s = %s\n    why:    %s\n    source: %s\n    from:   %s\n", s.key.c_str(),
                s.value.c_str(), s.reason.c_str(), s.source.c_str(), s.file.c_str());
  }
}

void print_diff(const Plan& plan, bool json) {
  std::size_t changes = 0;
  Json settings = Json::array();
  Table t({"SETTING", "CURRENT", "TARGET", "STATE"});
  for (const auto& ps : plan.settings) {
    std::vector<std::string> cur, want;
    Json targets = Json::array();
    std::size_t n_change = 0;
    for (const auto& tg : ps.targets) {
      cur.push_back(tg.current);
      want.push_back(tg.want);
      n_change += tg.needs_change() ? 1 : 0;
      targets.push_back({{"path", tg.path},
                         {"current", tg.current},
                         {"target", tg.want},
                         {"change", tg.needs_change()}});
    }
    std::string state = !ps.unsupported.empty() ? "unsupported"
                        : n_change > 0          ? "change"
                                                : "already set";
    changes += n_change > 0 && ps.unsupported.empty() ? 1 : 0;
    settings.push_back({{"key", ps.setting.key},
                        {"value", ps.setting.value},
                        {"state", state},
                        {"note", ps.unsupported},
                        {"targets", targets}});
    std::string shown = state;
    if (state == "change" && ps.targets.size() > 1)
      shown += " (" + std::to_string(n_change) + " of " + std::to_string(ps.targets.size()) + ")";
    if (state == "unsupported") shown += ": " + ps.unsupported;
    t.add({ps.setting.key, values_text(cur), ps.unsupported.empty() ? values_text(want) : "-",
           shown});
  }
  if (json) {
    std::printf("%s\n",
                Json{{"profile", plan.profile}, {"changes", changes}, {"settings", settings}}
                    .dump(2)
                    .c_str());
    return;
  }
  t.print();
  std::printf("\n%zu setting(s) would change; `aion tune apply %s` applies them.\n", changes,
              plan.profile.c_str());
}

void print_apply(const ApplyReport& r, const SnapshotStore& store, bool json) {
  if (json) {
    Json settings = Json::array();
    for (const auto& s : r.settings) {
      Json targets = Json::array();
      for (const auto& t : s.targets) {
        targets.push_back({{"path", t.path},
                           {"before", t.before},
                           {"after", t.after},
                           {"outcome", to_string(t.outcome)},
                           {"message", t.message}});
      }
      settings.push_back({{"key", s.setting.key},
                          {"value", s.setting.value},
                          {"outcome", to_string(s.outcome)},
                          {"message", s.message},
                          {"targets", targets}});
    }
    std::printf("%s\n", Json{{"profile", r.profile},
                             {"ok", r.ok},
                             {"snapshot", r.snapshot_id.empty() ? Json() : Json(r.snapshot_id)},
                             {"rolled_back", r.rolled_back},
                             {"failure", r.failure},
                             {"rollback_errors", r.rollback_errors},
                             {"dropins", r.dropins},
                             {"settings", settings}}
                            .dump(2)
                            .c_str());
    return;
  }
  Table t({"SETTING", "BEFORE", "AFTER", "RESULT", "NOTE"});
  for (const auto& s : r.settings) {
    std::vector<std::string> before, after;
    std::size_t refused = 0;
    for (const auto& tg : s.targets) {
      before.push_back(tg.before);
      after.push_back(tg.after);
      refused += tg.outcome == Outcome::kUnsupported ? 1 : 0;
    }
    std::string note = s.message;
    if (refused > 0 && s.outcome != Outcome::kUnsupported)
      note = std::to_string(refused) + " of " + std::to_string(s.targets.size()) +
             " kept by the kernel (managed interrupts)";
    t.add({s.setting.key, values_text(before), values_text(after),
           std::string(to_string(s.outcome)) + targets_text(s.targets.size()),
           note.empty() ? "" : note});
  }
  t.print();
  std::printf("\n");
  if (!r.ok) {
    std::printf("apply failed: %s\n", r.failure.c_str());
    if (r.rollback_errors.empty()) {
      std::printf("everything it had changed was rolled back (snapshot %s)\n",
                  r.snapshot_id.c_str());
    } else {
      std::printf("rollback incomplete:\n");
      for (const auto& e : r.rollback_errors) std::printf("  %s\n", e.c_str());
      std::printf("retry with `aion tune rollback %s`\n", r.snapshot_id.c_str());
    }
    return;
  }
  if (r.snapshot_id.empty()) {
    std::printf("nothing to change: %s is already in effect\n", r.profile.c_str());
    return;
  }
  for (const auto& d : r.dropins) std::printf("persisted in %s\n", d.c_str());
  std::printf("snapshot %s saved in %s\nundo with `aion tune rollback %s`\n", r.snapshot_id.c_str(),
              store.dir().c_str(), r.snapshot_id.c_str());
}

void print_rollback(const RollbackReport& r, bool json) {
  if (json) {
    Json entries = Json::array();
    for (const auto& e : r.entries) {
      entries.push_back({{"setting", e.setting},
                         {"path", e.path},
                         {"kind", e.kind},
                         {"value", e.value},
                         {"ok", e.ok},
                         {"message", e.message}});
    }
    std::printf(
        "%s\n",
        Json{
            {"snapshot", r.snapshot_id}, {"profile", r.profile}, {"ok", r.ok}, {"entries", entries}}
            .dump(2)
            .c_str());
    return;
  }
  Table t({"PATH", "KIND", "RESTORED", "RESULT"});
  for (const auto& e : r.entries) {
    std::string value = e.kind == "attr" ? e.value : "";
    t.add({e.path, e.kind, value.empty() ? "-" : value, e.ok ? "ok" : "failed: " + e.message});
  }
  t.print();
  std::printf("\n%s %s (%s)\n", r.ok ? "rolled back" : "rollback incomplete for",
              r.snapshot_id.c_str(), r.profile.c_str());
}

void print_status(const std::vector<Snapshot>& all, const SnapshotStore& store,
                  const std::string& host_root, bool json) {
  const Snapshot* active = nullptr;
  for (const auto& s : all) {
    if (s.state != "rolled-back" && s.host_root == host_root) active = &s;
  }
  if (json) {
    Json list = Json::array();
    for (const auto& s : all) {
      list.push_back({{"id", s.id},
                      {"profile", s.profile},
                      {"created", s.created},
                      {"state", s.state},
                      {"note", s.note},
                      {"host_root", s.host_root},
                      {"entries", s.entries.size()}});
    }
    std::printf("%s\n", Json{{"active", active ? Json(active->id) : Json()},
                             {"active_profile", active ? Json(active->profile) : Json()},
                             {"snapshot_dir", store.dir().string()},
                             {"snapshots", list}}
                            .dump(2)
                            .c_str());
    return;
  }
  if (active) {
    std::printf("active profile: %s (snapshot %s, %s)\n", active->profile.c_str(),
                active->id.c_str(), active->state.c_str());
  } else {
    std::printf("active profile: none (the machine has the values it had before aion)\n");
  }
  std::printf("snapshots in %s\n\n", store.dir().c_str());
  if (all.empty()) {
    std::printf("  none yet\n");
    return;
  }
  Table t({"SNAPSHOT", "PROFILE", "CREATED", "STATE", "VALUES", "HOST ROOT", "NOTE"});
  for (const auto& s : all) {
    t.add({s.id, s.profile, s.created, s.state, std::to_string(s.entries.size()), s.host_root,
           s.note.empty() ? "" : s.note});
  }
  t.print();
}

// GPU utilisation and jobs over the last day, from aiond when it runs.
TelemetrySummary gather_telemetry(const Context& ctx) {
  TelemetrySummary tel;
  tel.window_hours = 24;
  auto client = try_connect(ctx);
  if (!client) {
    tel.note = "aiond is not reachable, so no job telemetry was used";
    return tel;
  }
  auto gpu = client->get("/v1/metrics/query?q=" + api::url_encode("aion_gpu_utilization_ratio") +
                         "&since=24h&step=5m&agg=avg");
  if (!gpu || !gpu->ok()) {
    tel.note = "aiond did not answer the metrics query: " +
               (gpu ? gpu->error().message() : gpu.error().message());
    return tel;
  }
  std::vector<double> samples;
  Json j = Json::parse(gpu->body, nullptr, false);
  for (const auto& s : j.value("result", Json::array())) {
    for (const auto& p : s.value("points", Json::array())) {
      if (p.is_array() && p.size() == 2 && p[1].is_number()) samples.push_back(p[1].get<double>());
    }
  }
  tel.available = true;
  summarize_gpu_utilization(samples, tel);
  if (samples.empty()) tel.note = "aiond has no GPU utilisation samples from the last 24 h";
  auto jobs = client->get("/v1/metrics/query?q=" + api::url_encode("aion_job_gpus") + "&since=24h");
  if (jobs && jobs->ok()) {
    Json jj = Json::parse(jobs->body, nullptr, false);
    std::set<std::string> ids;
    for (const auto& s : jj.value("result", Json::array())) {
      if (s.contains("labels") && s["labels"].is_object())
        ids.insert(s["labels"].value("job", s.value("series", "")));
    }
    tel.jobs_seen = static_cast<int>(ids.size());
  } else if (jobs && jobs->status >= 400 && jobs->status < 500) {
    tel.jobs_seen = 0;  // no job series kept: no job ran within retention
  }
  return tel;
}

}  // namespace

namespace {

// aion tune list, aion tune show PROFILE
void add_list_and_show(Command& tune, Context& ctx) {
  tune.add("list", "The profiles: shipped ones and those in /etc/aion/profiles").action([&ctx] {
    auto env = load_env(ctx);
    if (!env) return;
    if (auto cat = load_catalog(ctx, *env)) print_list(*cat, ctx.json);
  });

  auto show_name = std::make_shared<std::string>();
  Command show = tune.add("show",
                          "A profile's settings with inheritance applied, "
                          "each with its reason and source");
  show.option("PROFILE", *show_name, "Profile name (see `aion tune list`)").required();
  show.action([&ctx, show_name] {
    auto env = load_env(ctx);
    if (!env) return;
    auto cat = load_catalog(ctx, *env);
    if (!cat) return;
    auto r = cat->resolve(*show_name);
    if (!r) {
      report(ctx, r.error());
      return;
    }
    print_show(*r, ctx.json);
  });
}

// aion tune diff PROFILE, aion tune apply PROFILE
void add_diff_and_apply(Command& tune, Context& ctx) {
  auto diff_name = std::make_shared<std::string>();
  Command diff =
      tune.add("diff", "What applying a profile would change on this machine: current vs target");
  diff.option("PROFILE", *diff_name, "Profile name").required();
  diff.action([&ctx, diff_name] {
    auto env = load_env(ctx);
    if (!env) return;
    if (auto plan = plan_for(ctx, *env, *diff_name)) print_diff(*plan, ctx.json);
  });

  struct ApplyArgs {
    std::string profile;
    bool no_persist = false;
  };
  auto apply_args = std::make_shared<ApplyArgs>();
  Command apply_cmd =
      tune.add("apply",
               "Snapshot every value a profile touches, apply it, verify by reading back; a "
               "failure rolls back what was changed");
  apply_cmd.option("PROFILE", apply_args->profile, "Profile name").required();
  apply_cmd.flag("--no-persist", apply_args->no_persist,
                 "Do not write /etc/sysctl.d and /etc/tmpfiles.d drop-ins (lost at reboot)");
  apply_cmd.action([&ctx, apply_args] {
    auto env = load_env(ctx);
    if (!env || !require_root(ctx, env->host, "aion tune apply")) return;
    auto plan = plan_for(ctx, *env, apply_args->profile);
    if (!plan) return;
    ApplyOptions options;
    options.persist = !apply_args->no_persist;
    auto r = apply(*plan, env->host, env->store, options);
    if (!r) {
      report(ctx, r.error());
      return;
    }
    print_apply(*r, env->store, ctx.json);
    if (!r->ok) ctx.exit_code = kExitFailure;
  });
}

// aion tune rollback [SNAPSHOT]
void add_rollback(Command& tune, Context& ctx) {
  auto rollback_id = std::make_shared<std::string>();
  Command rollback_cmd =
      tune.add("rollback", "Restore every value a snapshot holds (default: the latest active one)");
  rollback_cmd.option("SNAPSHOT", *rollback_id, "Snapshot id (see `aion tune status`)");
  rollback_cmd.action([&ctx, rollback_id] {
    auto env = load_env(ctx);
    if (!env) return;
    std::optional<Snapshot> snap;
    if (rollback_id->empty()) {
      auto latest = env->store.latest_active(env->host.root().string());
      if (!latest) {
        report(ctx, latest.error());
        return;
      }
      if (!*latest) {
        report(ctx, Error(ErrorCode::kNotFound, "no applied profile to roll back (snapshots in " +
                                                    env->store.dir().string() + ")"));
        return;
      }
      snap = **latest;
    } else {
      auto s = env->store.load(*rollback_id);
      if (!s) {
        report(ctx, s.error());
        return;
      }
      snap = *s;
    }
    // The snapshot knows which tree it was taken on.
    HostFs host(snap->host_root);
    if (!require_root(ctx, host, "aion tune rollback")) return;
    auto r = rollback(*snap, host, env->store);
    if (!r) {
      report(ctx, r.error());
      return;
    }
    print_rollback(*r, ctx.json);
    if (!r->ok) ctx.exit_code = kExitFailure;
  });
}

// aion tune status, aion tune recommend
void add_status_and_recommend(Command& tune, Context& ctx) {
  tune.add("status", "The active profile and every snapshot with its state").action([&ctx] {
    auto env = load_env(ctx);
    if (!env) return;
    auto all = env->store.list();
    if (!all) {
      report(ctx, all.error());
      return;
    }
    print_status(*all, env->store, env->host.root().string(), ctx.json);
  });

  tune.add("recommend",
           "Suggest a profile from this node's hardware and, when aiond runs, its "
           "recent GPU and job telemetry")
      .action([&ctx] {
        auto env = load_env(ctx);
        if (!env) return;
        auto inv = inventory(ctx, *env);
        if (!inv) return;
        TelemetrySummary tel = gather_telemetry(ctx);
        Recommendation r = recommend(*inv, tel);
        if (ctx.json) {
          std::printf("%s\n", Json{{"profile", r.profile},
                                   {"reasons", r.reasons},
                                   {"telemetry",
                                    {{"available", tel.available},
                                     {"note", tel.note},
                                     {"window_hours", tel.window_hours},
                                     {"gpu_samples", tel.gpu_samples},
                                     {"gpu_util_mean", tel.gpu_util_mean},
                                     {"gpu_util_p95", tel.gpu_util_p95},
                                     {"jobs_seen", tel.jobs_seen}}}}
                                  .dump(2)
                                  .c_str());
          return;
        }
        std::printf("recommended profile: %s\n\n", r.profile.c_str());
        for (const auto& reason : r.reasons) std::printf("  - %s\n", reason.c_str());
        std::printf("\n`aion tune diff %s` shows what it would change.\n", r.profile.c_str());
      });
}

}  // namespace

void add_tune_commands(Command& app, Context& ctx) {
  Command tune = app.add(
      "tune", "Tuning profiles (sysctl, THP, hugepages, CPU, IRQ, I/O) with snapshot and rollback");
  tune.require_subcommand();

  add_list_and_show(tune, ctx);
  add_diff_and_apply(tune, ctx);
  add_rollback(tune, ctx);
  add_status_and_recommend(tune, ctx);
}

}  // namespace aion::cli
