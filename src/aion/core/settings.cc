#include "aion/core/settings.h"

#include "aion/core/paths.h"

namespace aion {

ConfigSchema base_schema() {
  ConfigSchema s;
  s.string("daemon.state_dir", "",
           "State directory (SQLite database, lock). Empty: /var/lib/aion as root, "
           "$XDG_STATE_HOME/aion otherwise")
      .string("daemon.socket", "",
              "Unix socket of the API. Empty: /run/aion/aiond.sock as root, "
              "$XDG_RUNTIME_DIR/aion/aiond.sock otherwise")
      .string("daemon.socket_group", "aion", "Group whose members are API admins; owns the socket")
      .string("daemon.socket_mode", "0660", "Permissions of the socket (octal)",
              {"0600", "0660", "0666"})
      .integer("daemon.shutdown_grace_ms", 5000, "How long SIGTERM waits for requests in flight", 0,
               600000)
      .string("log.level", "info", "Log level", {"trace", "debug", "info", "warn", "error"})
      .integer("api.threads", 2, "Threads serving the API", 1, 64)
      .integer("api.max_body_bytes", 1 << 20, "Largest request body accepted (bytes)", 1024,
               256 << 20)
      .integer("api.workers", 4,
               "Threads that run requests which may block (disk, database, NVML); the I/O "
               "threads answer GET /v1/status themselves",
               1, 256)
      .integer("api.max_queued", 256,
               "Requests that may wait for a worker; more are answered 503 with Retry-After", 1,
               1 << 20)
      .integer("api.max_connections_per_peer", 32,
               "Connections one peer may hold (per uid on the unix socket, per IP address on "
               "TCP); more are answered 429 and closed",
               1, 1 << 20)
      .integer("api.max_streams_per_peer", 4,
               "Event streams (server-sent events) one peer may hold open", 1, 1 << 20)
      .integer("api.idle_timeout_ms", 60000,
               "How long a connection may wait between requests (and for a request body)", 100,
               3600000)
      .integer("api.header_timeout_ms", 10000,
               "How long a request header may take from its first byte (slow clients are closed)",
               100, 600000)
      .integer("api.write_timeout_ms", 30000,
               "How long a client may take to accept one response or event (then it is dropped)",
               100, 600000)
      .boolean("api.dashboard", true,
               "Serve the web dashboard (at / on the API's listeners; log in with a token over "
               "TCP)")
      .string("api.web_root", "",
              "Serve the dashboard's files from this directory instead of the copy built into "
              "aiond (for working on the dashboard)")
      .integer("api.session_idle_timeout_s", 28800,
               "A dashboard login ends after this many seconds without a request", 60, 2592000)
      .boolean("api.tcp.enabled", false, "Also listen on TCP (bearer tokens required)")
      .string("api.tcp.listen", "127.0.0.1:7070", "TCP address host:port when enabled")
      .string("api.tcp.tls_cert", "",
              "PEM certificate chain for TLS on the TCP listener (with tls_key; empty: plain HTTP)")
      .string("api.tcp.tls_key", "", "PEM private key of tls_cert")
      .boolean("api.tcp.allow_plaintext_tokens", false,
               "Accept bearer tokens over plain HTTP on a non-loopback address (false: aiond "
               "refuses to start with such a listener unless TLS is set)")
      .string("store.synchronous", "normal",
              "SQLite synchronous mode: normal survives a daemon crash, full also a power loss",
              {"normal", "full"})
      .integer("store.busy_timeout_ms", 5000, "How long a write waits for a lock (ms)", 0, 600000)
      .integer("store.prune_interval_s", 3600,
               "Seconds between prunings of old jobs, events and incidents (also done at start)",
               60, 7 * 86400)
      .integer("store.jobs_keep_days", 30, "Days a finished job is kept (0: no age limit)", 0,
               36500)
      .integer("store.jobs_max_rows", 100000,
               "Finished jobs kept at most, newest first (0: no limit)", 0, 100000000)
      .integer("store.events_keep_days", 90, "Days an event is kept (0: no age limit)", 0, 36500)
      .integer("store.events_max_rows", 1000000, "Events kept at most, newest first (0: no limit)",
               0, 1000000000)
      .integer("store.incidents_keep_days", 180,
               "Days an incident without new evidence is kept (0: no age limit)", 0, 36500)
      .integer("store.incidents_max_rows", 10000,
               "Incidents kept at most, the most recently updated first (0: no limit)", 0,
               100000000)
      .string("host.root", "/",
              "Root under which /proc, /sys, /dev and /etc are read (a recorded tree for tests)");
  return s;
}

Settings settings_from(const Config& c) {
  DefaultPaths d = default_paths();
  Settings s;
  s.state_dir = c.get_string("daemon.state_dir").empty()
                    ? d.state_dir
                    : std::filesystem::path(c.get_string("daemon.state_dir"));
  s.socket = c.get_string("daemon.socket").empty()
                 ? d.socket
                 : std::filesystem::path(c.get_string("daemon.socket"));
  s.socket_group = c.get_string("daemon.socket_group");
  s.socket_mode = static_cast<unsigned>(std::stoul(c.get_string("daemon.socket_mode"), nullptr, 8));
  s.shutdown_grace = std::chrono::milliseconds(c.get_int("daemon.shutdown_grace_ms"));
  s.log_level = c.get_string("log.level");
  s.api_threads = static_cast<int>(c.get_int("api.threads"));
  s.max_body_bytes = static_cast<std::size_t>(c.get_int("api.max_body_bytes"));
  if (c.get_bool("api.tcp.enabled")) s.tcp_listen = c.get_string("api.tcp.listen");
  s.api_workers = static_cast<int>(c.get_int("api.workers"));
  s.api_max_queued = static_cast<std::size_t>(c.get_int("api.max_queued"));
  s.max_connections_per_peer = static_cast<int>(c.get_int("api.max_connections_per_peer"));
  s.max_streams_per_peer = static_cast<int>(c.get_int("api.max_streams_per_peer"));
  s.idle_timeout = std::chrono::milliseconds(c.get_int("api.idle_timeout_ms"));
  s.header_timeout = std::chrono::milliseconds(c.get_int("api.header_timeout_ms"));
  s.write_timeout = std::chrono::milliseconds(c.get_int("api.write_timeout_ms"));
  s.dashboard = c.get_bool("api.dashboard");
  s.web_root = c.get_string("api.web_root");
  s.session_idle_timeout = std::chrono::seconds(c.get_int("api.session_idle_timeout_s"));
  s.tls_cert = c.get_string("api.tcp.tls_cert");
  s.tls_key = c.get_string("api.tcp.tls_key");
  s.allow_plaintext_tokens = c.get_bool("api.tcp.allow_plaintext_tokens");
  s.synchronous = c.get_string("store.synchronous");
  s.busy_timeout_ms = static_cast<int>(c.get_int("store.busy_timeout_ms"));
  s.host_root = c.get_string("host.root").empty() ? "/" : c.get_string("host.root");
  return s;
}

}  // namespace aion
