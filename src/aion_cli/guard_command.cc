// aion guard status / profiles / log: the sandboxes of jobs (aion/guard). `status` and
// `profiles` read this machine directly (no daemon); `log` asks aiond for one job's record.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "aion/core/clock.h"
#include "aion/core/json.h"
#include "aion/guard/integrity.h"
#include "aion/guard/mechanisms.h"
#include "aion/guard/profile.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "table.h"

namespace aion::cli {
namespace {

std::string time_text(long long ms) {
  if (ms <= 0) return "-";
  return format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)));
}

void cmd_status(Context& ctx) {
  const guard::Mechanisms m = guard::probe_mechanisms();
  if (ctx.json) {
    std::printf("%s\n", guard::mechanisms_json(m).dump(2).c_str());
    return;
  }
  Table t({"MECHANISM", "AVAILABLE", "DETAIL"});
  for (const auto& r : m.rows) t.add({r.name, r.available ? "yes" : "no", r.detail});
  t.print();
  if (!m.root)
    std::printf(
        "\n(probed as a user; aiond runs jobs as root and may get more: "
        "sudo aion guard status)\n");
  std::printf(
      "\nProfiles refuse to run where a mechanism they need is missing, or warn, as each "
      "says: `aion guard profiles`.\n");
}

std::string list_text(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out.empty() ? "-" : out;
}

Json profile_json(const guard::SandboxProfile& p) {
  return {
      {"name", p.name},
      {"summary", p.summary},
      {"on_unenforceable", p.on_unenforceable == guard::Unenforceable::kRefuse ? "refuse" : "warn"},
      {"no_new_privileges", p.no_new_privileges},
      {"private_tmp", p.private_tmp},
      {"read_exec", p.read_exec},
      {"read_only", p.read_only},
      {"read_write", p.read_write},
      {"deny_syscalls", p.deny_syscalls},
      {"deny_new_namespaces", p.deny_new_namespaces},
      {"network", std::string(guard::to_string(p.network))},
      {"allow", p.allow},
      {"record_egress", p.record_egress},
      {"file", p.file}};
}

void cmd_profiles(Context& ctx, const std::string& name) {
  auto m = load_machine(ctx);
  if (!m) return;
  auto cat = guard::load_profiles(m->config.get_string("guard.profiles_dir"));
  if (!cat) return report(ctx, cat.error());
  std::vector<guard::SandboxProfile> shown;
  for (const auto& p : cat->profiles())
    if (name.empty() || p.name == name) shown.push_back(p);
  if (!name.empty() && shown.empty()) return report(ctx, cat->find(name).error());
  if (ctx.json) {
    Json out = Json::array();
    for (const auto& p : shown) out.push_back(profile_json(p));
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (name.empty()) {
    Table t({"PROFILE", "NETWORK", "SUMMARY"});
    for (const auto& p : shown)
      t.add({p.name, std::string(guard::to_string(p.network)), p.summary});
    t.print();
    std::printf(
        "\n`aion guard profiles NAME` shows one in full; `aion run --sandbox NAME -- CMD` "
        "uses it.\n");
    return;
  }
  const auto& p = shown.front();
  Table t;
  t.add({"profile", p.name + " (" + p.file + ")"});
  t.add({"summary", p.summary});
  t.add({"read+exec", list_text(p.read_exec)});
  t.add({"read", list_text(p.read_only)});
  t.add({"read+write", list_text(p.read_write)});
  t.add({"refused calls", list_text(p.deny_syscalls)});
  t.add({"network", std::string(guard::to_string(p.network)) +
                        (p.allow.empty() ? "" : ": " + list_text(p.allow))});
  t.add({"unenforceable", p.on_unenforceable == guard::Unenforceable::kRefuse
                              ? "refuse to run"
                              : "run with what holds, and say what does not"});
  t.print();
}

void print_log(const Json& j) {
  std::printf("Job %lld: sandbox %s, %s\n", j.value("id", 0LL),
              j.value("sandbox", "").empty() ? "none" : j.value("sandbox", "").c_str(),
              j.value("state", "").c_str());
  const Json& plan = j.contains("plan") ? j["plan"] : Json();
  if (plan.is_object()) {
    for (const auto& u : plan.value("unenforced", Json::array()))
      std::printf("  not enforced here: %s\n", u.get<std::string>().c_str());
    for (const auto& n : plan.value("notes", Json::array()))
      std::printf("  note: %s\n", n.get<std::string>().c_str());
  }
  const Json refusals = j.value("refusals", Json::array());
  std::printf("\n%zu refusal(s)\n", refusals.size());
  if (!refusals.empty()) {
    Table t({"TIME", "KIND", "PID", "PROCESS", "WHAT"});
    for (const auto& r : refusals) {
      t.add({time_text(r.value("time_ms", 0LL)), r.value("kind", ""),
             std::to_string(r.value("pid", 0)), r.value("comm", ""), r.value("what", "")});
    }
    t.print();
  }
  const Json egress = j.value("egress", Json());
  if (egress.is_object()) {
    const Json flows = egress.value("flows", Json::array());
    std::printf("\n%zu endpoint(s) reached\n", flows.size());
    if (!flows.empty()) {
      Table t({"ENDPOINT", "NAME", "PROTO", "SENT", "RECEIVED", "FIRST", "LAST"});
      for (const auto& f : flows) {
        t.add({f.value("address", "") + ":" + std::to_string(f.value("port", 0)),
               f.value("name", "-"), f.value("protocol", ""),
               std::to_string(f.value("bytes_out", 0ULL)),
               std::to_string(f.value("bytes_in", 0ULL)), time_text(f.value("first_ms", 0LL)),
               time_text(f.value("last_ms", 0LL))});
      }
      t.print();
    }
  }
}

void cmd_log(Context& ctx, long long id) {
  auto client = connect_daemon(ctx);
  if (!client) return;
  auto body = call(ctx, *client, "GET", "/v1/jobs/" + std::to_string(id) + "/guard");
  if (!body) return;
  if (ctx.json) {
    std::printf("%s\n", body->c_str());
    return;
  }
  const Json j = Json::parse(*body, nullptr, false);
  if (!j.is_object()) return report(ctx, Error(ErrorCode::kParse, "aiond sent invalid JSON"));
  print_log(j);
}

struct VerifyArgs {
  std::string root = "/";
  std::string manifest;
  std::vector<std::string> sums;
};

// Progress on a terminal for long checks (model weights): every GiB read.
std::function<void(std::uint64_t)> verify_progress() {
  if (!::isatty(2)) return {};
  auto total = std::make_shared<std::uint64_t>(0);
  return [total](std::uint64_t n) {
    const std::uint64_t before = *total >> 30;
    *total += n;
    if ((*total >> 30) != before)
      std::fprintf(stderr, "\r  %llu GiB checked", static_cast<unsigned long long>(*total >> 30));
  };
}

void print_verify(Context& ctx, const std::string& what, const guard::VerifyReport& r) {
  if (ctx.json) {
    Json files = Json::array();
    for (const auto& f : r.files)
      files.push_back({{"path", f.path},
                       {"state", std::string(guard::to_string(f.state))},
                       {"detail", f.detail}});
    std::printf("%s\n",
                Json{{"checked", what}, {"ok", r.ok()}, {"bytes", r.bytes}, {"files", files}}
                    .dump(2)
                    .c_str());
  } else {
    std::size_t bad = 0;
    Table t({"FILE", "STATE", "DETAIL"});
    for (const auto& f : r.files) {
      if (f.state == guard::FileVerdict::kOk) continue;
      ++bad;
      t.add({f.path, std::string(guard::to_string(f.state)), f.detail});
    }
    if (bad > 0) t.print();
    std::printf("%s: %zu file(s), %.1f MB read: %s\n", what.c_str(), r.files.size(),
                static_cast<double>(r.bytes) / 1e6,
                bad == 0 ? "every file matches its checksum"
                         : (std::to_string(bad) + " do not match").c_str());
  }
  if (!r.ok()) ctx.exit_code = kExitFailure;
}

void cmd_verify(Context& ctx, const VerifyArgs& a) {
  const auto progress = verify_progress();
  if (!a.sums.empty()) {
    guard::VerifyReport all;
    for (const auto& file : a.sums) {
      std::ifstream in(file);
      if (!in) return report(ctx, Error(ErrorCode::kNotFound, "cannot read " + file));
      std::stringstream text;
      text << in.rdbuf();
      auto entries = guard::parse_sums(text.str(), file);
      if (!entries) return report(ctx, entries.error());
      auto r =
          guard::verify_sums(*entries, std::filesystem::absolute(file).parent_path(), progress);
      all.bytes += r.bytes;
      all.files.insert(all.files.end(), r.files.begin(), r.files.end());
    }
    if (progress) std::fprintf(stderr, "\r");
    return print_verify(ctx, "declared files", all);
  }
  const std::string manifest = a.manifest.empty() ? std::string(guard::kManifestPath) : a.manifest;
  auto r = guard::verify_package(a.root, manifest);
  if (!r) return report(ctx, r.error());
  print_verify(ctx, "aion package", *r);
}

}  // namespace

void add_guard_commands(Command& app, Context& ctx) {
  Command guard = app.add("guard",
                          "Sandboxes of jobs that run AI agents or untrusted code: what this "
                          "kernel can enforce, the profiles, and what a job's sandbox refused");
  guard.require_subcommand();
  guard
      .add("status",
           "Which confinement mechanisms this machine offers (Landlock, seccomp, namespaces, "
           "cgroup BPF, kernel audit), probed live")
      .action([&ctx] { cmd_status(ctx); });
  auto name = std::make_shared<std::string>();
  Command profiles =
      guard.add("profiles", "The sandbox profiles (shipped and the site's), or one in full");
  profiles.option("NAME", *name, "A profile to show in full");
  profiles.action([&ctx, name] { cmd_profiles(ctx, *name); });
  auto id = std::make_shared<long long>(0);
  Command log = guard.add("log",
                          "What a job's sandbox refused (files, system calls, connections) and "
                          "the endpoints it reached, with bytes each way");
  log.option("JOB", *id, "Job id").required().positive();
  log.action([&ctx, id] { cmd_log(ctx, *id); });
  auto verify_args = std::make_shared<VerifyArgs>();
  Command verify = guard.add(
      "verify",
      "Check aion's own programs and data against the package's manifest, or files (model "
      "weights, datasets) against a checksum list (--sums, as sha256sum writes it); exit 1 on "
      "any difference");
  verify.option("--sums", verify_args->sums,
                "A checksum file (\"<sha256>  <path>\" lines, paths relative to it); repeat for "
                "more");
  verify.option("--manifest", verify_args->manifest,
                "The package manifest (default /usr/lib/aion/manifest.sha256)");
  verify.option("--root", verify_args->root,
                "Where the package is installed (default /; an unpacked .deb to check it)");
  verify.action([&ctx, verify_args] { cmd_verify(ctx, *verify_args); });
}

}  // namespace aion::cli
