#include "aion/core/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "aion/core/version.h"

namespace aion {
namespace fs = std::filesystem;

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

fs::path home_dir() {
  std::string home = env_or_empty("HOME");
  return home.empty() ? fs::path("/tmp") : fs::path(home);
}

fs::path user_runtime_socket() {
  std::string runtime = env_or_empty("XDG_RUNTIME_DIR");
  if (runtime.empty()) return {};
  return fs::path(runtime) / "aion" / "aiond.sock";
}

fs::path user_state_dir() {
  std::string state = env_or_empty("XDG_STATE_HOME");
  fs::path base = state.empty() ? home_dir() / ".local" / "state" : fs::path(state);
  return base / "aion";
}

const fs::path kSystemSocket = "/run/aion/aiond.sock";
const fs::path kSystemConfig = "/etc/aion/aion.toml";

}  // namespace

DefaultPaths default_paths() {
  DefaultPaths p;
  if (::geteuid() == 0) {
    p.state_dir = "/var/lib/aion";
    p.socket = kSystemSocket;
    if (file_exists(kSystemConfig)) p.config_file = kSystemConfig;
    return p;
  }
  p.state_dir = user_state_dir();
  p.socket = user_runtime_socket();
  if (p.socket.empty()) p.socket = p.state_dir / "aiond.sock";
  std::string xdg_config = env_or_empty("XDG_CONFIG_HOME");
  fs::path user_config =
      (xdg_config.empty() ? home_dir() / ".config" : fs::path(xdg_config)) / "aion" / "aion.toml";
  if (file_exists(user_config)) {
    p.config_file = user_config;
  } else if (file_exists(kSystemConfig)) {
    p.config_file = kSystemConfig;
  }
  return p;
}

std::vector<fs::path> candidate_sockets() {
  std::vector<fs::path> out;
  if (::geteuid() != 0) {
    if (auto s = user_runtime_socket(); !s.empty()) out.push_back(s);
    out.push_back(user_state_dir() / "aiond.sock");
  }
  out.push_back(kSystemSocket);
  return out;
}

fs::path data_dir() {
  if (std::string env = env_or_empty("AION_DATA_DIR"); !env.empty()) return env;
  if (file_exists(kInstalledDataDir)) return kInstalledDataDir;
  return kSourceDataDir;
}

}  // namespace aion
