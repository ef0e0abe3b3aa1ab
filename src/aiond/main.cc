// aiond: the aion node daemon. Wiring only: flags and config, the state lock, the store,
// the API server, signals and systemd notification. Domain logic lives in the modules.
#include <fcntl.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "aion/api/diagnose_routes.h"
#include "aion/api/env_routes.h"
#include "aion/api/hw_watch.h"
#include "aion/api/job_routes.h"
#include "aion/api/logs_routes.h"
#include "aion/api/metrics_routes.h"
#include "aion/api/node_schema.h"
#include "aion/api/pipeline_routes.h"
#include "aion/api/routes.h"
#include "aion/api/server.h"
#include "aion/api/tokens.h"
#include "aion/api/web_routes.h"
#include "aion/core/config.h"
#include "aion/core/log.h"
#include "aion/core/paths.h"
#include "aion/core/settings.h"
#include "aion/core/version.h"
#include "aion/diagnose/incident_store.h"
#include "aion/diagnose/service.h"
#include "aion/hw/discovery.h"
#include "aion/logs/service.h"
#include "aion/privacy/policy.h"
#include "aion/sched/job_store.h"
#include "aion/sched/runner.h"
#include "aion/store/database.h"
#include "aion/store/event_log.h"
#include "aion/store/retention.h"
#include "aion/store/store.h"
#include "aion/telemetry/job_metrics.h"
#include "copilot_routes.h"
#include "state_lock.h"

namespace {

namespace fs = std::filesystem;
using aion::Error;
using aion::ErrorCode;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

struct Flags {
  bool foreground = false;
  bool check_config = false;
  bool print_default_config = false;
  std::string config;
  std::string host_root;
  std::string state_dir;
  std::string socket;
  std::string log_level;
};

// Reads the config file named by the flags, AION_CONFIG or the defaults; flags override it.
aion::Result<aion::Config> load_config(const Flags& f) {
  std::string path = f.config;
  if (path.empty()) {
    if (const char* env = std::getenv("AION_CONFIG")) path = env;
  }
  if (path.empty()) {
    if (auto d = aion::default_paths().config_file) path = d->string();
  }
  aion::Result<aion::Config> cfg = path.empty()
                                       ? aion::Config::defaults(aion::api::node_config_schema())
                                       : aion::Config::load(path, aion::api::node_config_schema());
  if (!cfg) return cfg;
  auto absolute = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
  std::string host_root = f.host_root;
  if (host_root.empty()) {
    if (const char* env = std::getenv("AION_HOST_ROOT")) host_root = env;
  }
  if (!host_root.empty()) cfg->set_string("host.root", absolute(host_root));
  if (!f.state_dir.empty()) cfg->set_string("daemon.state_dir", absolute(f.state_dir));
  if (!f.socket.empty()) cfg->set_string("daemon.socket", absolute(f.socket));
  if (!f.log_level.empty()) {
    if (!aion::log::valid_level(f.log_level)) {
      return aion::fail(
          ErrorCode::kConfig,
          "--log-level: expected trace, debug, info, warn or error, found '" + f.log_level + "'");
    }
    cfg->set_string("log.level", f.log_level);
  }
  return cfg;
}

int exit_code_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kConfig:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kConflict:
    case ErrorCode::kPermissionDenied: return kExitConfig;
    default: return kExitFailure;
  }
}

// In background mode the parent waits on this pipe for the child's first words: "ok\n"
// plus the banner, or "<exit code>\n<error>".
int g_ready_fd = -1;

void report_start_failure(const Error& e) {
  int code = exit_code_for(e);
  if (g_ready_fd >= 0) {
    std::string msg = std::to_string(code) + "\n" + e.message() + "\n";
    (void)!::write(g_ready_fd, msg.data(), msg.size());
    ::close(g_ready_fd);
    g_ready_fd = -1;
  }
  std::fprintf(stderr, "aiond: %s\n", e.message().c_str());
}

// Forks; the parent waits for the child to be ready and exits with its verdict.
void daemonize() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("aiond: pipe");
    std::exit(kExitFailure);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("aiond: fork");
    std::exit(kExitFailure);
  }
  if (pid > 0) {
    ::close(fds[1]);
    std::string msg;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<std::size_t>(n));
    if (msg.rfind("ok\n", 0) == 0) {
      std::fputs(msg.c_str() + 3, stdout);
      std::exit(kExitOk);
    }
    auto nl = msg.find('\n');
    if (nl == std::string::npos) {
      std::fprintf(stderr, "aiond: the daemon exited during start-up (see its log)\n");
      std::exit(kExitFailure);
    }
    std::fprintf(stderr, "aiond: %s", msg.c_str() + nl + 1);
    std::exit(std::atoi(msg.substr(0, nl).c_str()));
  }
  ::close(fds[0]);
  g_ready_fd = fds[1];
  ::setsid();
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
  }
}

std::string banner(const aion::Settings& s, const aion::Config& cfg,
                   const aion::api::Server& server) {
  std::string out = "aiond " + std::string(aion::kVersion) + " is ready (pid " +
                    std::to_string(::getpid()) + ")\n";
  for (const auto& l : server.listeners()) {
    const char* note = l.kind != "tcp"      ? ""
                       : s.tls_cert.empty() ? "  (bearer tokens)"
                                            : "  (TLS, bearer tokens)";
    out += "  api     " + l.kind + " " + l.address + note + "\n";
  }
  for (const auto& l : server.listeners()) {
    if (l.kind != "tcp" || !s.dashboard) continue;
    out += "  web     " + std::string(s.tls_cert.empty() ? "http" : "https") + "://" + l.address +
           "/  (dashboard: log in with a token from `aion admin token create`)\n";
  }
  if (!s.tcp_listen)
    out +=
        "  tcp     off (enable [api.tcp] in the config to serve Prometheus and remote clients)\n";
  out += "  state   " + (s.state_dir / "aion.db").string() + "\n";
  out += "  config  " +
         (cfg.source() == "<defaults>" ? std::string("built-in defaults") : cfg.source()) + "\n";
  if (s.host_root != "/") out += "  host    " + s.host_root.string() + " (recorded machine)\n";
  std::string sock = s.socket.string();
  bool default_socket = false;
  for (const auto& c : aion::candidate_sockets()) default_socket = default_socket || c == s.socket;
  std::string flag = default_socket ? "" : " --socket " + sock;
  out += "Next, in another terminal: `aion" + flag + " status`, then `aion" + flag +
         " hw`, then `aion" + flag + " run -- echo hello`. Stop with Ctrl-C or SIGTERM.\n";
  return out;
}

// The daemon's services, started in order by run() and stopped in reverse by shut_down();
// each start step fails with the error to report. The members are declared in start order,
// so that they are destroyed in reverse, the state lock last.
class Daemon {
 public:
  Daemon(aion::Config config, const Flags& flags) : config_(std::move(config)), flags_(flags) {}

  int run() {
    s_ = aion::settings_from(config_);
    auto lock = aiond::StateLock::acquire(s_.state_dir);
    if (!lock) return fail_start(lock.error());
    lock_.emplace(std::move(*lock));
    for (auto step : {&Daemon::open_store, &Daemon::start_hardware, &Daemon::start_scheduler,
                      &Daemon::start_pipelines, &Daemon::start_diagnosis, &Daemon::start_retention,
                      &Daemon::start_telemetry, &Daemon::start_logs, &Daemon::start_api}) {
      if (auto st = (this->*step)(); !st) return fail_start(st.error());
    }
    announce_ready();
    wait_for_signals();
    shut_down();
    return kExitOk;
  }

 private:
  aion::Status open_store() {
    std::vector<aion::store::Migration> migrations;
    for (auto span : {aion::store::EventLog::migrations(), aion::api::TokenStore::migrations(),
                      aion::api::HwWatch::migrations(), aion::sched::JobManager::migrations(),
                      aion::diagnose::IncidentStore::migrations(),
                      aion::pipeline::PipelineService::migrations()}) {
      migrations.insert(migrations.end(), span.begin(), span.end());
    }
    auto db = aion::store::Database::open({.path = s_.state_dir / "aion.db",
                                           .busy_timeout_ms = s_.busy_timeout_ms,
                                           .synchronous = s_.synchronous},
                                          migrations);
    if (!db) return std::unexpected(db.error());
    store_.emplace(std::move(*db));
    events_.emplace(*store_, aion::Clock::system());
    if (auto st = events_->load(); !st) return st;
    tokens_.emplace(*store_, aion::Clock::system());

    info_.pid = ::getpid();
    info_.started_at = aion::Clock::system().wall();
    info_.state_dir = s_.state_dir;
    info_.config_source = config_.source() == "<defaults>" ? "built-in defaults" : config_.source();
    info_.host_root = s_.host_root;
    info_.state = [this] { return std::string(draining_ ? "draining" : "running"); };
    info_.reload = [this] { return reload(); };
    return {};
  }

  // The hardware snapshot: changes since the last run become events before the API answers,
  // so that the snapshot exists as soon as anyone can ask for it.
  aion::Status start_hardware() {
    auto hw_options = aion::hw::discovery_options(config_);
    if (!hw_options) return std::unexpected(hw_options.error());
    hw_options_ = std::move(*hw_options);
    hw_watch_.emplace(*store_, *events_, aion::HostFs(s_.host_root), hw_options_);
    if (auto changes = hw_watch_->check(); !changes) {
      spdlog::error("event=hw_check_failed reason=\"{}\"", changes.error().message());
    }
    hw_watch_->start(std::chrono::seconds(config_.get_int("hw.rescan_interval_s")));
    return {};
  }

  // The scheduler: recovers the jobs of the previous run before the API answers.
  aion::Status start_scheduler() {
    auto runner_config = aion::sched::runner_config(config_, s_.state_dir);
    if (!runner_config) return std::unexpected(runner_config.error());
    inventory_ = aion::hw::discover(aion::HostFs(s_.host_root), hw_options_);
    jobs_.emplace(*store_, *events_, aion::HostFs(s_.host_root), inventory_,
                  std::move(*runner_config));
    return jobs_->start();
  }

  // Pipelines: their stages are jobs of the scheduler; unfinished runs continue where they
  // were (a finished stage is never run again) before the API answers.
  aion::Status start_pipelines() {
    launcher_.emplace(*jobs_);
    pipelines_.emplace(*store_, *launcher_, aion::api::catalog_datasets(s_.state_dir),
                       aion::Clock::system());
    return pipelines_->start();
  }

  // What the diagnosis engine's remediation may do to the scheduler.
  aion::diagnose::RemediationHooks remediation_hooks() {
    aion::diagnose::RemediationHooks hooks;
    hooks.drain_gpu = [this](int gpu, const std::string& why) -> aion::Status {
      for (const auto& a : inventory_.accelerators) {
        if (a.index == gpu) return jobs_->set_gpu_drained(a.pci.address, true, why);
      }
      return aion::fail(ErrorCode::kNotFound, "no GPU " + std::to_string(gpu) + " on this node");
    };
    hooks.requeue_job = [this](std::int64_t id) -> aion::Result<std::int64_t> {
      auto j = jobs_->requeue(id);
      if (!j) return std::unexpected(j.error());
      return j->id;
    };
    return hooks;
  }

  // Diagnosis: fault signatures -> incidents. Follows the event log (NVML Xids, anomalies,
  // failed jobs, hardware changes) from here on, so it starts before telemetry, whose first
  // collection may already see an Xid. The log sources feed it with
  // diagnosis->on_log_line(source, time, text) from any thread.
  aion::Status start_diagnosis() {
    auto diagnose_options = aion::diagnose::diagnose_options(config_, s_.state_dir);
    if (!diagnose_options) return std::unexpected(diagnose_options.error());
    if (!diagnose_options->enabled) return {};
    std::map<std::string, int> gpu_by_pci;
    for (const auto& a : inventory_.accelerators) gpu_by_pci.emplace(a.pci.address, a.index);
    // A job named by a kernel line (an OOM kill's cgroup path) is this scheduler's only if it
    // ran then: the ring buffer also holds other schedulers' job-N cgroups and old boots.
    auto job_ran_at = [this](std::int64_t id, std::int64_t t_ms) {
      auto j = jobs_->get(id);
      if (!j || j->start_ms <= 0) return false;
      constexpr std::int64_t kSlackMs = 60'000;  // kill lines trail the job's end a little
      const bool ended = j->end_ms > 0;
      return t_ms >= j->start_ms - kSlackMs && (!ended || t_ms <= j->end_ms + kSlackMs);
    };
    auto d = aion::diagnose::DiagnoseService::create(*diagnose_options, *store_, *events_,
                                                     std::move(gpu_by_pci), remediation_hooks(),
                                                     job_ran_at);
    if (!d) return std::unexpected(d.error());
    diagnosis_ = std::move(*d);
    diagnosis_->start();
    return {};
  }

  // Retention: finished jobs (and their directories), events and quiet incidents beyond the
  // [store] limits go now and every store.prune_interval_s.
  aion::Status start_retention() {
    job_rows_.emplace(*store_);
    incident_rows_.emplace(*store_, aion::Clock::system());
    pruner_.emplace(aion::Clock::system());
    pruner_->add("jobs",
                 [this, r = aion::store::retention_from(config_, "jobs"),
                  dir = s_.state_dir / "jobs"](std::int64_t now) -> aion::Result<std::int64_t> {
                   auto ids = job_rows_->prune(r, now);
                   if (!ids) return std::unexpected(ids.error());
                   for (std::int64_t id : *ids) {
                     std::error_code ec;
                     std::filesystem::remove_all(dir / std::to_string(id), ec);
                   }
                   return static_cast<std::int64_t>(ids->size());
                 });
    pruner_->add("events", [this, r = aion::store::retention_from(config_, "events")](
                               std::int64_t now) { return events_->prune(r, now); });
    pruner_->add("incidents", [this, r = aion::store::retention_from(config_, "incidents")](
                                  std::int64_t now) { return incident_rows_->prune(r, now); });
    pruner_->run_once();
    pruner_->start(std::chrono::seconds(config_.get_int("store.prune_interval_s")));
    return {};
  }

  // An event sink for a module's service: its events go to the event log as `source`.
  aion::telemetry::Telemetry::EventSink event_sink(std::string source) {
    return [this, source = std::move(source)](const std::string& kind, const std::string& severity,
                                              const std::string& message, const std::string& data) {
      events_->record({.kind = kind,
                       .severity = severity,
                       .source = source,
                       .message = message,
                       .data_json = data});
    };
  }

  // Telemetry: a store damaged by a crash is reported (events), never fatal.
  aion::Status start_telemetry() {
    auto telemetry_options = aion::telemetry::telemetry_options(config_, s_.state_dir);
    if (!telemetry_options) return std::unexpected(telemetry_options.error());
    metrics_public_ = telemetry_options->metrics_public;
    const auto gpu_interval = telemetry_options->gpu_interval;
    telemetry_.emplace(std::move(*telemetry_options), aion::HostFs(s_.host_root),
                       inventory_.accelerators, event_sink("telemetry"));
    telemetry_->add_source({"jobs", gpu_interval,
                            [this] { return aion::telemetry::job_metrics(jobs_->usage_now()); }});
    return telemetry_->start();
  }

  // Logs: kmsg, journal and files -> template miner -> on_line subscribers. A new template is
  // a `log_template` event; the diagnosis engine subscribes to parsed lines before start().
  aion::Status start_logs() {
    auto logs_options = aion::logs::logs_options(config_, s_.state_dir, aion::HostFs(s_.host_root));
    if (!logs_options) return std::unexpected(logs_options.error());
    logs_.emplace(*logs_options, aion::HostFs(s_.host_root), event_sink("logs"));
    if (diagnosis_) {
      // Every parsed line goes through the fault signature catalog; file sources are named
      // "file:PATH" as the diagnosis expects.
      logs_->on_line([d = diagnosis_.get()](const aion::logs::LogLine& l) {
        const std::string source =
            l.source == "kmsg" || l.source == "journal" ? l.source : "file:" + l.source;
        // The origin, not the source, says who wrote the line: a journal entry of
        // _TRANSPORT=kernel is the kernel's, a `logger` line that looks like one is not.
        const auto origin = l.origin == aion::logs::LineOrigin::kUser
                                ? std::string_view("file")
                                : aion::logs::to_string(l.origin);
        d->on_log_line(source, aion::Clock::Wall(std::chrono::milliseconds(l.time_ms)), l.content,
                       origin);
      });
    }
    return logs_->start();
  }

  aion::Status start_api() {
    ctx_.emplace(
        aion::api::RouteContext{info_, *store_, *events_, *tokens_, aion::Clock::system()});
    aion::api::add_daemon_routes(router_, *ctx_);
    aion::api::add_hw_routes(router_, *hw_watch_);
    aion::api::add_job_routes(router_, *jobs_, aion::HostFs(s_.host_root));
    aion::api::add_metrics_routes(router_, *telemetry_);
    aion::api::add_logs_routes(router_, *logs_);
    aion::api::add_diagnose_routes(router_, diagnosis_.get());
    aion::api::add_env_routes(router_, *hw_watch_, aion::HostFs(s_.host_root));
    aion::api::add_pipeline_routes(router_, *pipelines_, *jobs_, aion::HostFs(s_.host_root));
    auth_ = [this](std::string_view t) { return tokens_->verify(t); };
    if (s_.dashboard) {
      sessions_ = std::make_shared<aion::api::SessionStore>(s_.session_idle_timeout);
      aion::api::add_web_routes(router_, sessions_, auth_,
                                {.web_root = s_.web_root, .secure_cookies = !s_.tls_cert.empty()});
    }
    copilot_.emplace(router_, hw_watch_ ? &*hw_watch_ : nullptr,
                     aiond::CopilotRouteOptions{aion::HostFs(s_.host_root), s_.state_dir, config_});
    server_.emplace(
        aion::api::ServerOptions{.unix_socket = s_.socket,
                                 .socket_mode = s_.socket_mode,
                                 .socket_group = s_.socket_group,
                                 .tcp_listen = s_.tcp_listen,
                                 .threads = s_.api_threads,
                                 .max_body_bytes = s_.max_body_bytes,
                                 .idle_timeout = s_.idle_timeout,
                                 .public_paths = metrics_public_
                                                     ? std::vector<std::string>{"/metrics"}
                                                     : std::vector<std::string>{},
                                 .max_connections_per_peer = s_.max_connections_per_peer,
                                 .max_streams_per_peer = s_.max_streams_per_peer,
                                 .header_timeout = s_.header_timeout,
                                 .write_timeout = s_.write_timeout,
                                 .workers = s_.api_workers,
                                 .max_queued = s_.api_max_queued,
                                 .tls_cert = s_.tls_cert,
                                 .tls_key = s_.tls_key,
                                 .allow_plaintext_tokens = s_.allow_plaintext_tokens,
                                 .sessions = sessions_},
        router_, auth_);
    info_.listeners = [this] { return server_->listeners(); };
    return server_->start();
  }

  // The daemon_started event, the banner (to the waiting parent in background mode, which
  // then sends our stderr to the state directory's log) and systemd's READY=1.
  void announce_ready() {
    events_->record({.kind = "daemon_started",
                     .source = "aiond",
                     .message = "aiond " + std::string(aion::kVersion) + " started (pid " +
                                std::to_string(::getpid()) + ")"});
    spdlog::info("event=ready version={} socket={} state_dir={} tcp={}", aion::kVersion,
                 s_.socket.string(), s_.state_dir.string(), s_.tcp_listen.value_or("off"));
    std::string text;
    {
      std::lock_guard lock(reload_mu_);  // the API already serves: a reload may run meanwhile
      text = banner(s_, config_, *server_);
    }
    if (g_ready_fd >= 0) {
      std::string msg = "ok\n" + text;
      (void)!::write(g_ready_fd, msg.data(), msg.size());
      ::close(g_ready_fd);
      g_ready_fd = -1;
      // From here on, log lines go to the state directory's log file.
      int logfd = ::open((s_.state_dir / "aiond.log").c_str(),
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if (logfd >= 0) ::dup2(logfd, STDERR_FILENO);
    } else {
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    }
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%ld", s_.socket.c_str(),
               static_cast<long>(::getpid()));
  }

  void shut_down() {
    draining_ = true;
    sd_notify(0, "STOPPING=1\nSTATUS=draining requests");
    spdlog::info("event=stopping in_flight={} grace_ms={}", server_->in_flight(),
                 s_.shutdown_grace.count());
    server_->stop(s_.shutdown_grace);
    copilot_->stop();    // model answers still streaming are cancelled
    pipelines_->stop();  // their jobs and services go on; the next aiond follows them
    jobs_->stop();       // the jobs themselves go on; the next aiond adopts them
    telemetry_->stop();  // writes what is not yet on disk
    logs_->stop();       // saves templates and read positions
    if (diagnosis_) diagnosis_->stop();
    pruner_->stop();
    hw_watch_->stop();
    events_->record(
        {.kind = "daemon_stopped", .source = "aiond", .message = "aiond stopped cleanly"});
    spdlog::info("event=stopped");
  }

  int fail_start(const Error& e) {
    report_start_failure(e);
    return exit_code_for(e);
  }

  void wait_for_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    std::uint64_t watchdog_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
    timespec tick{};
    if (watchdog) {
      std::uint64_t half = watchdog_usec / 2;
      tick.tv_sec = static_cast<time_t>(half / 1'000'000);
      tick.tv_nsec = static_cast<long>((half % 1'000'000) * 1000);
    } else {
      tick.tv_sec = 3600;
    }
    while (true) {
      siginfo_t info{};
      int sig = ::sigtimedwait(&set, &info, &tick);
      if (sig < 0) {
        if (watchdog) sd_notify(0, "WATCHDOG=1");
        continue;
      }
      if (sig == SIGHUP) {
        if (auto st = reload(); !st)
          spdlog::error("event=reload_rejected reason=\"{}\"", st.error().message());
        continue;
      }
      spdlog::info("event=signal signal={} sender_pid={}", ::strsignal(sig),
                   static_cast<long>(info.si_pid));
      return;
    }
  }

  // Re-reads the config. An invalid file is rejected and the running config kept. Keys that
  // need a restart (paths, listeners) are reported, not applied.
  aion::Status reload() {
    std::lock_guard lock(reload_mu_);
    sd_notify(0, "RELOADING=1");
    auto next = load_config(flags_);
    if (!next) {
      sd_notify(0, "READY=1\nSTATUS=config reload rejected; running with the previous config");
      return aion::fail(ErrorCode::kConfig, "config reload rejected, keeping the running config: " +
                                                next.error().message());
    }
    aion::Settings before = aion::settings_from(config_);
    aion::Settings after = aion::settings_from(*next);
    if (auto st = aion::log::set_level(after.log_level); !st) return st;
    std::vector<std::string> restart;
    if (before.state_dir != after.state_dir) restart.push_back("daemon.state_dir");
    if (before.socket != after.socket) restart.push_back("daemon.socket");
    if (before.tcp_listen != after.tcp_listen || before.tls_cert != after.tls_cert ||
        before.tls_key != after.tls_key ||
        before.allow_plaintext_tokens != after.allow_plaintext_tokens) {
      restart.push_back("api.tcp");
    }
    if (before.api_threads != after.api_threads) restart.push_back("api.threads");
    if (before.dashboard != after.dashboard || before.web_root != after.web_root ||
        before.session_idle_timeout != after.session_idle_timeout) {
      restart.push_back("api.dashboard");
    }
    config_ = std::move(*next);
    std::string pending;
    for (const auto& k : restart) pending += (pending.empty() ? "" : ",") + k;
    spdlog::info("event=reloaded config=\"{}\" log_level={} needs_restart=\"{}\"", config_.source(),
                 after.log_level, pending);
    sd_notify(0, "READY=1\nSTATUS=config reloaded");
    return {};
  }

  aion::Config config_;
  const Flags& flags_;
  std::mutex reload_mu_;  // guards config_ once started: reload() runs on the signal thread
                          // (SIGHUP) and on API workers (POST /v1/admin/reload)
  std::atomic<bool> draining_{false};

  // In start order (see the class comment).
  aion::Settings s_;
  std::optional<aiond::StateLock> lock_;
  std::optional<aion::store::Store> store_;
  std::optional<aion::store::EventLog> events_;
  std::optional<aion::api::TokenStore> tokens_;
  aion::api::DaemonInfo info_;
  aion::hw::DiscoveryOptions hw_options_;
  std::optional<aion::api::HwWatch> hw_watch_;
  aion::hw::Inventory inventory_;
  std::optional<aion::sched::JobManager> jobs_;
  std::optional<aion::api::SchedLauncher> launcher_;
  std::optional<aion::pipeline::PipelineService> pipelines_;  // after jobs_: destroyed first
  std::unique_ptr<aion::diagnose::DiagnoseService> diagnosis_;
  std::optional<aion::sched::JobStore> job_rows_;
  std::optional<aion::diagnose::IncidentStore> incident_rows_;
  std::optional<aion::store::Pruner> pruner_;
  bool metrics_public_ = false;
  std::optional<aion::telemetry::Telemetry> telemetry_;
  std::optional<aion::logs::LogService> logs_;
  aion::api::Router router_;
  aion::api::Authenticator auth_;
  std::shared_ptr<aion::api::SessionStore> sessions_;  // null: api.dashboard = false
  std::optional<aiond::CopilotService> copilot_;       // after router_, which it dispatches to
  std::optional<aion::api::RouteContext> ctx_;
  std::optional<aion::api::Server> server_;
};

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "aiond: the aion node daemon. It serves the aion API on a unix socket (and optionally TCP), "
      "keeps "
      "state in SQLite, and runs the node's jobs, telemetry and diagnosis."};
  app.name("aiond");
  app.add_flag("--foreground", f.foreground,
               "Stay in the foreground, logging to stderr (what systemd runs)");
  app.add_option("--config", f.config,
                 "Configuration file (default: /etc/aion/aion.toml as root, "
                 "~/.config/aion/aion.toml otherwise; AION_CONFIG)");
  app.add_option("--host-root", f.host_root,
                 "Read /proc, /sys, /dev below this directory (AION_HOST_ROOT)");
  app.add_option("--state-dir", f.state_dir, "State directory (overrides daemon.state_dir)");
  app.add_option("--socket", f.socket, "API unix socket (overrides daemon.socket)");
  app.add_option("--log-level", f.log_level,
                 "trace, debug, info, warn or error (overrides log.level)");
  app.add_flag("--check-config", f.check_config,
               "Validate the configuration and exit (0 valid, 2 invalid)");
  app.add_flag("--print-default-config", f.print_default_config,
               "Print every configuration key with its default");
  app.set_version_flag("--version", std::string("aiond ") + aion::kVersion);
  app.footer(
      "Signals: SIGTERM/SIGINT drain requests in flight and stop; SIGHUP re-reads the config\n"
      "(an invalid file is rejected and the running config kept).\n"
      "Exit codes: 0 ok, 1 failure, 2 configuration error (bad config, state directory not\n"
      "writable, another aiond on the same state).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitConfig;
  }
  if (f.print_default_config) {
    std::fputs(aion::api::node_config_schema().render_defaults().c_str(), stdout);
    return kExitOk;
  }
  auto cfg = load_config(f);
  if (!cfg) {
    std::fprintf(stderr, "aiond: %s\n", cfg.error().message().c_str());
    return kExitConfig;
  }
  if (f.check_config) {
    std::printf("%s: configuration is valid\n",
                cfg->source() == "<defaults>" ? "built-in defaults" : cfg->source().c_str());
    return kExitOk;
  }
  if (auto st = aion::log::init(cfg->get_string("log.level")); !st) {
    std::fprintf(stderr, "aiond: %s\n", st.error().message().c_str());
    return kExitConfig;
  }
  if (!f.foreground) daemonize();

  // Signals are taken synchronously by the main thread; block them before any thread starts
  // so that no worker receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Daemon daemon(std::move(*cfg), f);
  return daemon.run();
}
