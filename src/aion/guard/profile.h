// Sandbox profiles: how a job that runs an AI agent or code nobody reviewed is confined,
// loaded from TOML (data/guard/profiles.toml shipped with aion; a site's own *.toml in
// guard.profiles_dir, /etc/aion/guard by default, where a profile of a shipped name replaces
// it). A profile says:
//   - files (Landlock): paths the job may read and execute, only read, or read, write and
//     execute (its working directory: an agent runs what it writes); the
//     placeholders {workdir} (the job's working directory) and {home} (its user's home) are
//     filled in per job. Everything else, other users' homes included, is refused.
//   - system calls (seccomp): names refused with EPERM (ptrace, module loading, bpf, mount,
//     keyctl, kexec, ...), on every architecture libseccomp knows the name for.
//   - no_new_privileges, a private /tmp and /dev/shm (a mount namespace of its own).
//   - network: "host" (unrestricted), "none" (a network namespace with nothing in it),
//     "loopback" (a namespace of its own with only its own loopback), or "allow" (the host's
//     network, but connect() and UDP sends only to the `allow` rules: cgroup BPF hooks).
//   - on_unenforceable: "refuse" (a job whose profile this kernel cannot enforce in full is
//     not started, and says what is missing) or "warn" (it runs with what can be enforced,
//     and the job's record says what was not).
// Every error names the file and line. A catalog is an immutable value once loaded;
// thread-safe to read.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion {
class DataFile;
}

namespace aion::guard {

inline constexpr int kProfileSchemaVersion = 1;

enum class NetworkMode { kHost, kNone, kLoopback, kAllow };
std::string_view to_string(NetworkMode m);

enum class Unenforceable { kRefuse, kWarn };

struct SandboxProfile {
  std::string name;
  std::string summary;
  Unenforceable on_unenforceable = Unenforceable::kRefuse;
  bool no_new_privileges = true;
  bool private_tmp = true;
  std::vector<std::string> read_exec;   // read and execute
  std::vector<std::string> read_only;   // read (directories listed, files read)
  std::vector<std::string> read_write;  // read, write, create, remove
  bool job_devices = true;  // the job's own accelerator nodes (and /dev/null & co) read-write
  std::vector<std::string> deny_syscalls;
  bool deny_new_namespaces = true;  // clone/unshare with namespace flags refused
  NetworkMode network = NetworkMode::kHost;
  std::vector<std::string> allow;  // network = "allow": "HOST[:PORT][/tcp|/udp]", CIDRs
  bool record_egress = true;       // keep the job's egress record (cgroup BPF) where possible
  std::string file;                // where it was defined: "path:line"
};

class ProfileCatalog {
 public:
  // The shipped file, then each *.toml of `site_dir` in name order (missing dir: none).
  static Result<ProfileCatalog> load(const std::filesystem::path& shipped,
                                     const std::filesystem::path& site_dir);
  // Parses one file's text (tests); `file` names it in errors.
  static Result<ProfileCatalog> parse(std::string_view text, const std::string& file);

  const std::vector<SandboxProfile>& profiles() const { return profiles_; }
  // kNotFound naming the profiles there are.
  Result<SandboxProfile> find(std::string_view name) const;

 private:
  Status add_file(const Result<DataFile>& file);
  std::vector<SandboxProfile> profiles_;
};

// The shipped profiles (data/guard/profiles.toml) and the site's (`site_dir`).
Result<ProfileCatalog> load_profiles(const std::filesystem::path& site_dir);

}  // namespace aion::guard
