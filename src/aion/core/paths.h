// Default locations of aion's files, shared by aiond and the CLI so both agree.
//
// As root (the packaged service): config /etc/aion/aion.toml, state /var/lib/aion, socket
// /run/aion/aiond.sock. As any other user, so that a newcomer can try aion without sudo:
// state $XDG_STATE_HOME/aion (~/.local/state/aion), socket $XDG_RUNTIME_DIR/aion/aiond.sock
// (falling back to the state directory), config $XDG_CONFIG_HOME/aion/aion.toml when it
// exists, else /etc/aion/aion.toml when that exists. Thread-safe: the functions only read the
// environment and the effective uid (so not while another thread sets the environment, as
// hw::read_cpu_hwloc() does for a recorded host root).
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

namespace aion {

struct DefaultPaths {
  std::filesystem::path state_dir;
  std::filesystem::path socket;
  std::optional<std::filesystem::path> config_file;  // none: built-in defaults
};

// Reads the environment (HOME, XDG_*) and the effective uid.
DefaultPaths default_paths();

// Sockets a client should try, in order, when none was named: the user's own daemon, then
// the system one.
std::vector<std::filesystem::path> candidate_sockets();

// Where data files (signatures, profiles, tables) live: AION_DATA_DIR, else the installed
// share directory, else the source tree's data/ (for runs from a build directory).
std::filesystem::path data_dir();

}  // namespace aion
