// aion support-bundle [-o FILE]: what a vendor needs to debug this node, redacted by the
// privacy gate, as one .tar.gz with a manifest; and aion audit: what left the node through
// the gate. The bundle is collected by the CLI itself (hardware and topology from discovery,
// the system's identity, the kernel log, aion's config) plus, when aiond answers, its status,
// events, incidents, jobs, recent log lines and metric names. Every part passes one Gate
// (one placeholder map for the whole bundle), the archive is written to a .partial file and
// renamed, and the exit is recorded in the audit log.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "aion/core/archive.h"
#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/core/process.h"
#include "aion/core/settings.h"
#include "aion/core/version.h"
#include "aion/hw/inventory_json.h"
#include "aion/hw/topology.h"
#include "aion/privacy/gate.h"
#include "cli.h"
#include "command.h"
#include "daemon_client.h"
#include "machine.h"
#include "privacy_cli.h"
#include "table.h"

namespace aion::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kKernelLogLines = 2000;
constexpr std::size_t kMaxPartBytes = 16 << 20;  // a part larger than this is cut at its end
constexpr std::size_t kJobLogBytes = 64 << 10;   // of each job's output

struct BundleArgs {
  std::string output;
  std::string policy;
  bool no_daemon = false;
};

// One part of the bundle before the gate: its name in the archive, where it came from, and
// its text; or why it is missing.
struct Part {
  std::string name;
  std::string source;
  std::string text;
  std::string missing;  // "" when collected
};

// The last `n` lines of `text`.
std::string tail_lines(const std::string& text, std::size_t n) {
  std::size_t pos = text.size(), seen = 0;
  while (pos > 0) {
    const std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (nl + 1 < text.size() && ++seen > n) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

std::string cut(std::string text) {
  if (text.size() > kMaxPartBytes) text.erase(0, text.size() - kMaxPartBytes);
  return text;
}

Part system_part(const HostFs& fs) {
  std::string out;
  for (const char* f : {"/proc/version", "/etc/os-release", "/proc/cmdline", "/proc/uptime",
                        "/proc/loadavg", "/proc/meminfo", "/proc/sys/kernel/tainted"}) {
    if (auto t = fs.read(f)) out += "==> " + std::string(f) + " <==\n" + *t + "\n";
  }
  return {"system.txt", "/proc, /etc/os-release", out, out.empty() ? "nothing readable" : ""};
}

// The kernel log: the syslog file where there is one, else the journal's kernel messages
// (live root only).
Part kernel_part(const HostFs& fs) {
  for (const char* f : {"/var/log/kern.log", "/var/log/messages", "/var/log/syslog"}) {
    if (auto t = fs.read(f)) return {"kernel.log", f, cut(tail_lines(*t, kKernelLogLines)), ""};
  }
  if (fs.is_live()) {
    ProcessOptions o;
    o.argv = {"journalctl", "-k", "-n", std::to_string(kKernelLogLines), "--no-pager"};
    o.timeout = std::chrono::milliseconds(10000);
    if (auto r = run_process(o); r && r->ok() && !r->out.empty())
      return {"kernel.log", "journalctl -k", cut(r->out), ""};
  }
  return {"kernel.log", "", "", "no kernel log file and no journal readable"};
}

Part config_part(const Context& ctx) {
  std::optional<fs::path> file;
  if (!ctx.config.empty()) file = fs::path(ctx.config);
  if (!file) file = default_paths().config_file;
  if (!file) return {"aion.toml", "", "", "no config file (built-in defaults)"};
  std::ifstream in(*file, std::ios::binary);
  if (!in) return {"aion.toml", file->string(), "", "cannot read " + file->string()};
  std::stringstream ss;
  ss << in.rdbuf();
  return {"aion.toml", file->string(), cut(ss.str()), ""};
}

std::vector<Part> hardware_parts(Context& ctx) {
  auto m = load_machine(ctx);
  if (!m) return {{"hw.json", "", "", "the config could not be read"}};
  hw::Inventory inv = discover(ctx, *m);
  return {
      {"hw.json", "discovery (aion hw --json)", hw::to_json(inv), ""},
      {"hw-topo.json", "topology (aion hw topo --json)", hw::to_json(hw::build_topology(inv)), ""},
      system_part(m->fs),
      kernel_part(m->fs)};
}

// The newest jobs in full (spec, resources, state, exit, usage) as GET /v1/jobs/<id> gives
// them, and the start of each one's output.
void add_job_details(api::Client& client, std::vector<Part>& out) {
  constexpr std::size_t kJobs = 20;
  const auto list = std::find_if(out.begin(), out.end(),
                                 [](const Part& p) { return p.name == "daemon/jobs.json"; });
  if (list == out.end() || list->text.empty()) return;
  Json jobs = Json::parse(list->text, nullptr, false);
  if (!jobs.is_object() || !jobs.contains("jobs") || !jobs["jobs"].is_array()) return;
  std::size_t n = 0;
  for (const auto& j : jobs["jobs"]) {
    if (n++ == kJobs) break;
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer()) continue;
    const std::string id = std::to_string(j["id"].get<std::int64_t>());
    const std::string target = "/v1/jobs/" + id;
    Part p{"daemon/jobs/" + id + ".json", "aiond GET " + target, "", ""};
    if (auto r = client.get(target); r && r->ok()) {
      p.text = cut(r->body);
    } else {
      p.missing = r ? "aiond answered " + std::to_string(r->status) : r.error().message();
    }
    out.push_back(std::move(p));
    // The start of its output (what it printed is where its failure shows).
    const std::string logs = target + "/logs?offset=0&max=" + std::to_string(kJobLogBytes);
    Part log{"daemon/jobs/" + id + ".log", "aiond GET " + logs, "", ""};
    if (auto r = client.get(logs); r && r->ok()) {
      Json j = Json::parse(r->body, nullptr, false);
      log.text = j.is_object() ? j.value("data", "") : "";
    } else {
      log.missing = r ? "aiond answered " + std::to_string(r->status) : r.error().message();
    }
    out.push_back(std::move(log));
  }
}

// What aiond knows, when it answers.
std::vector<Part> daemon_parts(const Context& ctx, bool skip) {
  const std::pair<const char*, const char*> wanted[] = {
      {"daemon/status.json", "/v1/status"},
      {"daemon/events.json", "/v1/events?limit=500"},
      {"daemon/incidents.json", "/v1/incidents?limit=50"},
      {"daemon/jobs.json", "/v1/jobs?limit=200"},
      {"daemon/logs-recent.json", "/v1/logs/recent?limit=500"},
      {"daemon/metrics.json", "/v1/metrics"}};
  std::vector<Part> out;
  auto client = skip ? std::nullopt : try_connect(ctx);
  for (const auto& [name, target] : wanted) {
    Part p{name, std::string("aiond GET ") + target, "", ""};
    if (skip) {
      p.missing = "--no-daemon";
    } else if (!client) {
      p.missing = "aiond not reachable";
    } else if (auto r = client->get(target); !r || !r->ok()) {
      p.missing = r ? "aiond answered " + std::to_string(r->status) : r.error().message();
    } else {
      p.text = cut(r->body);
    }
    out.push_back(std::move(p));
  }
  if (client) add_job_details(*client, out);
  return out;
}

std::string utc_stamp(std::time_t t, const char* format) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// Every part through the gate, into the archive; the manifest last.
Status write_bundle(TarGzWriter& tar, privacy::Gate& gate, const std::vector<Part>& parts,
                    std::time_t now, Json& manifest) {
  Json files = Json::array(), missing = Json::array();
  for (const auto& p : parts) {
    const std::string source = gate.pass(p.source);
    if (!p.missing.empty()) {
      missing.push_back({{"name", p.name}, {"source", source}, {"why", gate.pass(p.missing)}});
      continue;
    }
    const std::string text = gate.pass(p.text);
    if (auto st = tar.add(p.name, text, now); !st) return st;
    files.push_back({{"name", p.name},
                     {"source", source},
                     {"bytes", text.size()},
                     {"sha256", privacy::sha256_hex(text)}});
  }
  Json replaced = Json::object();
  for (int c = 0; c < privacy::kCategoryCount; ++c)
    replaced[std::string(privacy::category_name(static_cast<privacy::Category>(c)))] =
        gate.replaced()[c];
  manifest = {{"aion_version", kVersion},
              {"created", utc_stamp(now, "%Y-%m-%dT%H:%M:%SZ")},
              {"files", files},
              {"not_included", missing},
              {"replaced", replaced},
              {"note",
               "every file passed aion's privacy gate: secrets and personal data are "
               "placeholders such as <EMAIL_1>, the same value the same placeholder throughout "
               "the bundle; the values never left the node"}};
  return tar.add("manifest.json", manifest.dump(2, ' ', false, Json::error_handler_t::replace),
                 now);
}

// The audit log of the configured state directory (daemon.state_dir).
std::optional<fs::path> audit_log(Context& ctx) {
  auto cfg = load_config(ctx);
  if (!cfg) return std::nullopt;
  return privacy::audit_log_path(settings_from(*cfg).state_dir);
}

void run_bundle(Context& ctx, const BundleArgs& a) {
  auto log = audit_log(ctx);
  if (!log) return;
  auto redactor = load_redactor(ctx, a.policy);
  if (!redactor) return;
  const std::time_t now = std::time(nullptr);
  const fs::path out = a.output.empty()
                           ? fs::path("aion-support-" + utc_stamp(now, "%Y%m%d-%H%M%S") + ".tar.gz")
                           : fs::path(a.output);
  std::vector<Part> parts = hardware_parts(ctx);
  if (ctx.exit_code != 0) return;
  parts.push_back(config_part(ctx));
  for (auto& p : daemon_parts(ctx, a.no_daemon)) parts.push_back(std::move(p));
  privacy::Gate gate(*redactor, "support-bundle");
  auto tar = TarGzWriter::create(out);
  if (!tar) return report(ctx, tar.error());
  Json manifest;
  if (auto st = write_bundle(*tar, gate, parts, now, manifest); !st) return report(ctx, st.error());
  if (auto st = tar->finish(); !st) return report(ctx, st.error());
  std::ifstream in(out, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const fs::path dest = fs::absolute(out);
  if (auto st = gate.record(*log, dest.string(), bytes.str()); !st) return report(ctx, st.error());
  if (ctx.json) {
    std::printf(
        "%s\n",
        Json{{"bundle", dest.string()}, {"bytes", bytes.str().size()}, {"manifest", manifest}}
            .dump(2, ' ', false, Json::error_handler_t::replace)
            .c_str());
    return;
  }
  std::printf("wrote %s (%zu bytes, %zu files)\n", dest.c_str(), bytes.str().size(),
              manifest["files"].size() + 1);
  std::string counts;
  for (const auto& [cat, n] : manifest["replaced"].items())
    if (n.get<int>() > 0) counts += (counts.empty() ? "" : ", ") + cat + " " + n.dump();
  std::printf("replaced: %s\n", counts.empty() ? "nothing" : counts.c_str());
  for (const auto& m : manifest["not_included"])
    std::printf("not included: %s (%s)\n", m["name"].get<std::string>().c_str(),
                m["why"].get<std::string>().c_str());
  std::printf("recorded in the audit log (%s); `aion audit` lists it\n", log->c_str());
}

void run_audit(Context& ctx, std::size_t last) {
  auto path = audit_log(ctx);
  if (!path) return;
  const fs::path log = *path;
  auto r = privacy::read_audit(log, last);
  if (!r) return report(ctx, r.error());
  if (ctx.json) {
    Json rows = Json::array();
    for (const auto& a : r->records) rows.push_back(Json::parse(privacy::audit_record_json(a)));
    std::printf("%s\n", Json{{"log", log.string()}, {"records", rows}, {"skipped", r->skipped}}
                            .dump(2, ' ', false, Json::error_handler_t::replace)
                            .c_str());
    return;
  }
  if (r->records.empty()) {
    std::printf("nothing has left this node through aion (%s is empty)\n", log.c_str());
    return;
  }
  Table t({"TIME (UTC)", "CALLER", "BYTES", "REPLACED", "SHA-256", "DESTINATION"});
  for (const auto& a : r->records) {
    int replaced = 0;
    for (int n : a.replaced) replaced += n;
    t.add({utc_stamp(static_cast<std::time_t>(a.time_ms / 1000), "%Y-%m-%d %H:%M:%S"), a.caller,
           std::to_string(a.bytes), std::to_string(replaced), a.sha256.substr(0, 12),
           a.destination});
  }
  t.print();
  if (r->skipped > 0) std::printf("(%zu unreadable lines skipped)\n", r->skipped);
}

}  // namespace

void add_support_commands(Command& app, Context& ctx) {
  auto args = std::make_shared<BundleArgs>();
  Command bundle =
      app.add("support-bundle",
              "Collect what a vendor needs to debug this node, redacted, into one .tar.gz");
  bundle.option("-o,--output", args->output,
                "The archive to write (default aion-support-<UTC time>.tar.gz here)");
  bundle.option("--policy", args->policy,
                "TOML file with a [privacy] section used instead of the config's");
  bundle.flag("--no-daemon", args->no_daemon, "Do not ask aiond (events, jobs, incidents...)");
  bundle.footer(
      "Includes: hardware and topology, kernel and OS identity, the kernel log (last 2000\n"
      "lines), aion's config, and from aiond when it answers: status, events, incidents,\n"
      "jobs (the newest 20 in full, with the start of their output), recent log lines and\n"
      "metric names. Every file passes the privacy gate: secrets and personal data become\n"
      "placeholders, the same value the same one throughout. manifest.json says what was\n"
      "included, what was not and why, and how many values of each category were replaced.\n"
      "The exit is recorded in the audit log (`aion audit`).");
  bundle.action([&ctx, args] { run_bundle(ctx, *args); });

  auto last = std::make_shared<int>(50);
  Command audit =
      app.add("audit", "What left this node through aion's privacy gate (the audit log)");
  audit.option("-n,--last", *last, "How many of the newest records (default 50)");
  audit.action([&ctx, last] { run_audit(ctx, static_cast<std::size_t>(std::max(*last, 1))); });
}

}  // namespace aion::cli
