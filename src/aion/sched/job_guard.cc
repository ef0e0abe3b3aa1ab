// JobManager's part of the guard: the kernel's audit records of what sandboxes refused,
// turned into "guard" events of the jobs they came from (runner.h).
#include <netinet/in.h>

#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "aion/core/json.h"
#include "aion/guard/seccomp_filter.h"
#include "aion/sched/runner.h"

namespace aion::sched {

namespace {

// Refusals recorded per job and minute; a job that loops on a refused call is summed up.
constexpr int kGuardEventsPerMinute = 60;

std::int64_t wall_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
      .count();
}

std::string protocol_name(int protocol) {
  return protocol == IPPROTO_TCP   ? "tcp"
         : protocol == IPPROTO_UDP ? "udp"
                                   : std::to_string(protocol);
}

std::string endpoint_text(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string proc_cgroup(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Complete lines of `file` from `offset` on (at most 64 KiB per call); `offset` moves past them.
std::vector<std::string> read_guard_lines(const std::filesystem::path& file,
                                          std::uint64_t& offset) {
  std::vector<std::string> out;
  std::ifstream f(file, std::ios::binary);
  if (!f) return out;
  f.seekg(static_cast<std::streamoff>(offset));
  std::string chunk(64 * 1024, '\0');
  f.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<std::size_t>(f.gcount()));
  std::size_t start = 0;
  for (std::size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(chunk.substr(start, nl - start));
  offset += start;
  return out;
}

// A guard.log line of aion-shim ("TIME_MS PID NR COMM", or "unrecorded N") as a denial.
std::optional<guard::Denial> guard_log_denial(const std::string& line, std::int64_t now_ms) {
  std::istringstream in(line);
  guard::Denial d;
  d.kind = "syscall";
  std::string first;
  if (!(in >> first)) return std::nullopt;
  if (first == "unrecorded") {
    long long n = 0;
    in >> n;
    d.time_ms = now_ms;
    d.what = std::to_string(n) + " more refused system calls (the shim's record is full)";
    return d;
  }
  int nr = -1;
  d.time_ms = std::atoll(first.c_str());
  if (!(in >> d.pid >> nr) || d.time_ms <= 0 || nr < 0) return std::nullopt;
  const std::string name = guard::syscall_name(nr);
  d.what = "syscall " + (name.empty() ? std::to_string(nr) : name);
  in >> d.comm;  // the shim's reading of /proc/PID/comm (the job sets it): may be missing
  for (char& c : d.comm)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return d;
}

}  // namespace

void JobManager::start_guard() {
  const guard::Mechanisms& m = guard_.mechanisms;
  if (!m.root || (m.landlock_abi == 0 && !m.seccomp)) return;
  if (m.landlock_abi >= 7 && !m.audit_enabled && config_.guard_enable_audit) {
    if (auto st = guard::enable_kernel_audit(); st) {
      spdlog::info(
          "event=guard_kernel_audit_enabled reason=\"Landlock reports refused accesses "
          "through the audit subsystem (guard.kernel_audit = enable)\"");
    } else {
      spdlog::warn("event=guard_kernel_audit_unavailable error=\"{}\"", st.error().message());
    }
  }
  auto watch = guard::AuditWatch::start([this](const guard::Denial& d) { on_guard_denial(d); });
  if (!watch) {
    spdlog::warn(
        "event=guard_audit_unavailable error=\"{}\" effect=\"sandboxes still enforce; "
        "what they refuse is not recorded\"",
        watch.error().message());
    return;
  }
  audit_ = std::move(*watch);
}

std::optional<std::int64_t> JobManager::job_of_process(pid_t pid, pid_t creator) {
  const std::string cgroup = pid > 0 ? proc_cgroup(pid) : "";
  const auto stat = pid > 0 ? proc_stat(pid) : std::nullopt;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, job] : running_) {
      if (job.spec.sandbox.empty()) continue;
      pid_t command = job.pid;
      if (command <= 0) {  // not read yet: the shim wrote it when it started the command
        std::ifstream f(dir_of(id) / "pid");
        f >> command;
      }
      if (command > 0 && (command == pid || command == creator || (stat && stat->pgrp == command)))
        return id;
      auto live = live_.find(id);
      if (live != live_.end() && live->second->cgroup() && !cgroup.empty() &&
          live->second->cgroup()->holds(cgroup))
        return id;
    }
  }
  std::lock_guard lock(guard_mu_);
  for (pid_t p : {pid, creator}) {
    if (auto it = ended_sandboxes_.find(p); p > 0 && it != ended_sandboxes_.end())
      return it->second;
  }
  return std::nullopt;
}

void JobManager::on_guard_denial(const guard::Denial& d) {
  const auto id = job_of_process(d.pid, d.domain_creator);
  if (!id) return;  // another program's sandbox, or a job that is gone
  std::lock_guard lock(guard_mu_);
  record_guard(*id, d);
}

void JobManager::record_guard(std::int64_t id, const guard::Denial& d) {
  ++refusals_[id];
  if (refusals_.size() > 4096) refusals_.clear();
  GuardBudget& b = guard_budget_[id];
  const std::int64_t minute = d.time_ms / 60000;
  if (b.minute != minute) {
    b.minute = minute;
    b.recorded = 0;
  }
  if (b.recorded >= kGuardEventsPerMinute) {
    ++b.dropped;
    return;
  }
  ++b.recorded;
  const long long dropped = std::exchange(b.dropped, 0);
  Json data = {{"job", id},      {"kind", d.kind}, {"what", d.what},     {"pid", d.pid},
               {"comm", d.comm}, {"exe", d.exe},   {"domain", d.domain}, {"time_ms", d.time_ms}};
  if (dropped > 0) data["unrecorded_before"] = dropped;
  // The job's owner: the API shows what its sandbox refused to it and to admins only.
  if (auto job = jobs_.get(id); job && *job) {
    data["uid"] = (*job)->spec.uid;
    data["user"] = (*job)->spec.user;
  }
  std::string message = "job " + std::to_string(id) + ": sandbox refused " + d.what + " (pid " +
                        std::to_string(d.pid) + (d.comm.empty() ? "" : " " + d.comm) + ")";
  if (dropped > 0) message += "; " + std::to_string(dropped) + " more refusals not recorded";
  if (auto r =
          events_.append({.time_ms = d.time_ms,
                          .kind = "guard",
                          .severity = "warning",
                          .source = "guard",
                          .message = message,
                          .data_json = data.dump(-1, ' ', false, Json::error_handler_t::replace)});
      !r) {
    spdlog::warn("event=guard_record_failed job={} error=\"{}\"", id, r.error().message());
  }
}

Result<JobManager::GuardRecord> JobManager::guard_record(std::int64_t id) {
  GuardRecord out;
  auto slurp = [](const std::filesystem::path& f) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  out.plan_json = slurp(dir_of(id) / "sandbox.json");
  out.egress_json = slurp(dir_of(id) / "egress.json");
  collect_guard_logs();  // what the shim wrote a moment ago counts too
  // The guard events, page by page; those of other jobs are skipped.
  std::int64_t since = 0;
  for (int page = 0; page < 50 && out.refusals.size() < 1000; ++page) {
    auto events = events_.list({.since_id = since, .limit = 1000, .kind = "guard"});
    if (!events) return std::unexpected(events.error());
    if (events->empty()) break;
    for (auto& e : *events) {
      since = e.id;
      const Json d = Json::parse(e.data_json, nullptr, false);
      if (d.is_object() && d.contains("job") && d["job"].is_number_integer() &&
          d["job"].get<std::int64_t>() == id && out.refusals.size() < 1000)
        out.refusals.push_back(std::move(e));
    }
  }
  return out;
}

void JobManager::collect_egress() {
  std::vector<std::pair<std::int64_t, guard::EgressMonitor*>> monitors;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, live] : live_)
      if (live->egress()) monitors.emplace_back(id, live->egress().get());
  }
  // The loop thread is the only one that ends jobs, so the monitors outlive this.
  for (auto& [id, m] : monitors) {
    auto events = m->drain();
    std::lock_guard lock(guard_mu_);
    write_egress(id, *m, std::move(events), false);
  }
}

void JobManager::reattach_egress(const Job& job, Live& live) {
  if (job.spec.sandbox.empty() || !live.cgroup()) return;
  std::ifstream f(dir_of(job.id) / "sandbox.json");
  const Json saved = Json::parse(f, nullptr, false);
  if (!saved.is_object()) return;
  guard::SandboxPlan plan;
  plan.profile = saved.value("profile", job.spec.sandbox);
  const std::string network = saved.value("network", "host");
  plan.network = network == "allow" ? guard::NetworkMode::kAllow : guard::NetworkMode::kHost;
  for (const auto& a : saved.value("allow", Json::array()))
    if (a.is_string()) plan.allow.push_back(a.get<std::string>());
  plan.record_egress = saved.value("record_egress", false);
  plan.egress_bpf = plan.network == guard::NetworkMode::kAllow || plan.record_egress;
  auto monitor = attach_egress(plan, live.cgroup()->unified_dir());
  if (!monitor) {
    spdlog::warn("event=guard_egress_reattach_failed id={} error=\"{}\"", job.id,
                 monitor.error().message());
    return;
  }
  live.egress() = std::move(*monitor);
  if (live.egress()) spdlog::info("event=guard_egress_reattached id={}", job.id);
}

void JobManager::finish_egress(std::int64_t id, Live& live) {
  if (!live.egress()) return;
  auto events = live.egress()->drain();
  std::lock_guard lock(guard_mu_);
  write_egress(id, *live.egress(), std::move(events), true);
  egress_.erase(id);
  refusals_.erase(id);
}

void JobManager::write_egress(std::int64_t id, guard::EgressMonitor& m,
                              std::vector<guard::EgressEvent> events, bool force) {
  EgressState& st = egress_[id];
  const std::int64_t now = wall_ms(clock_);
  for (const auto& e : events) {
    const std::string proto = protocol_name(e.protocol);
    const std::string name = guard_.endpoints.name(e.address, e.port, e.server_name);
    if (e.denied) {
      guard::Denial d;
      d.time_ms = e.time_ms;
      d.pid = e.pid;
      d.comm = e.comm;
      d.kind = "network";
      d.what = std::string(e.kind == guard::EgressEvent::kSend ? "send " : "connect ") + proto +
               " " + endpoint_text(e.address, e.port) + (name.empty() ? "" : " (" + name + ")");
      record_guard(id, d);
    }
    ++st.events;
    st.recent.push_back(Json{
        {"time_ms", e.time_ms},
        {"kind", e.kind == guard::EgressEvent::kServerName ? "server_name"
                 : e.kind == guard::EgressEvent::kSend     ? "send"
                                                           : "connect"},
        {"denied", e.denied},
        {"pid", e.pid},
        {"comm", e.comm},
        {"protocol", proto},
        {"address", e.address},
        {"port", e.port},
        {"server_name", e.server_name},
        {"name", name}}.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  constexpr std::size_t kEgressKept = 1000;
  if (st.recent.size() > kEgressKept)
    st.recent.erase(st.recent.begin(), st.recent.begin() + static_cast<std::ptrdiff_t>(
                                                               st.recent.size() - kEgressKept));
  if (!force && events.empty() && now - st.written_ms < 5000) return;
  st.written_ms = now;
  Json flows = Json::array();
  for (const auto& f : m.flows()) {
    flows.push_back({{"protocol", protocol_name(f.protocol)},
                     {"address", f.address},
                     {"port", f.port},
                     {"bytes_out", f.bytes_out},
                     {"bytes_in", f.bytes_in},
                     {"packets_out", f.packets_out},
                     {"packets_in", f.packets_in},
                     {"first_ms", f.first_ms},
                     {"last_ms", f.last_ms},
                     {"server_name", f.server_name},
                     {"name", guard_.endpoints.name(f.address, f.port, f.server_name)}});
  }
  Json recent = Json::array();
  for (const auto& r : st.recent) recent.push_back(Json::parse(r, nullptr, false));
  const Json out = {{"updated_ms", now},
                    {"flows", flows},
                    {"events", recent},
                    {"events_total", st.events},
                    {"events_lost", m.lost_events()}};
  const auto file = dir_of(id) / "egress.json";
  {
    std::ofstream f(file.string() + ".tmp");
    f << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(file.string() + ".tmp", file, ec);
}

void JobManager::collect_guard_logs() {
  std::set<std::int64_t> sandboxed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, job] : running_)
      if (!job.spec.sandbox.empty()) sandboxed.insert(id);
  }
  std::lock_guard lock(guard_mu_);
  for (auto id : sandboxed) guard_logs_.try_emplace(id, 0);
  for (auto it = guard_logs_.begin(); it != guard_logs_.end();) {
    const std::int64_t id = it->first;
    for (const auto& line : read_guard_lines(dir_of(id) / "guard.log", it->second)) {
      if (auto d = guard_log_denial(line, wall_ms(clock_))) record_guard(id, *d);
    }
    // A job that ended had its last lines read just now.
    it = sandboxed.contains(id) ? std::next(it) : guard_logs_.erase(it);
  }
  if (guard_budget_.size() > 4096) guard_budget_.clear();
}

}  // namespace aion::sched
