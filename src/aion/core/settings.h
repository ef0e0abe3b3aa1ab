// The configuration keys every aion program shares ([daemon], [log], [api], [store],
// [host]) and a typed view of them. Modules add their own sections by merging their
// schema into base_schema() (see hw_config_schema() and friends). Pure functions over values
// (settings_from() also reads the environment through default_paths()); thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "aion/core/config.h"

namespace aion {

ConfigSchema base_schema();

struct Settings {
  std::filesystem::path state_dir;
  std::filesystem::path socket;
  std::string socket_group;
  unsigned socket_mode = 0660;
  std::chrono::milliseconds shutdown_grace{5000};
  std::string log_level;
  int api_threads = 2;
  std::size_t max_body_bytes = 1 << 20;
  std::optional<std::string> tcp_listen;  // set when api.tcp.enabled
  int api_workers = 4;
  std::size_t api_max_queued = 256;
  int max_connections_per_peer = 32;
  int max_streams_per_peer = 4;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds write_timeout{30000};
  bool dashboard = true;
  std::filesystem::path web_root;  // "": the dashboard built into aiond
  std::chrono::seconds session_idle_timeout{28800};
  std::filesystem::path tls_cert;  // api.tcp.tls_cert ("" with tls_key "": plain HTTP)
  std::filesystem::path tls_key;
  bool allow_plaintext_tokens = false;
  std::string synchronous;  // "normal" | "full"
  int busy_timeout_ms = 5000;
  std::filesystem::path host_root;
};

// Reads the typed view. Paths left at their schema default ("" for state_dir and socket)
// are filled from default_paths() (root vs. per-user locations).
Settings settings_from(const Config& config);

}  // namespace aion
