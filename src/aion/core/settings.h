// The configuration keys every aion program shares ([daemon], [log], [api], [store],
// [host]) and a typed view of them. Modules add their own sections by merging their
// schema into base_schema() (see hw_config_schema() and friends).
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
  std::string synchronous;                // "normal" | "full"
  int busy_timeout_ms = 5000;
  std::filesystem::path host_root;
};

// Reads the typed view. Paths left at their schema default ("" for state_dir and socket)
// are filled from default_paths() (root vs. per-user locations).
Settings settings_from(const Config& config);

}  // namespace aion
