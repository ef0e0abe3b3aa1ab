// The sandbox a job's launch file asks for (records sb_*, written by aiond from the job's
// guard profile), applied in the job's own process between fork and exec:
//   as root:    a mount namespace with a private /tmp and /dev/shm (tmpfs; the job's own
//               directories under them, sb_keep, are bound back in), a network
//               namespace with nothing ("none") or only its own loopback ("loopback");
//   as the job: no_new_privs, the Landlock ruleset (files read+execute / read / read+write,
//               signal and abstract-socket scoping where the ABI has them, denials logged
//               to the kernel audit after exec), then the seccomp filter aiond built, whose
//               refusals the kernel hands to the shim (SECCOMP_RET_USER_NOTIF): the shim
//               answers EPERM and records each one with the process that asked.
// Uses libc and raw system calls only, like the rest of aion-shim. Not thread-safe: the shim
// is single-threaded, and the child calls these between fork and exec.
#pragma once

#include <string>
#include <vector>

namespace shim {

struct Sandbox {
  bool active = false;
  std::string profile;
  bool no_new_privs = false;
  bool private_tmp = false;
  std::string network;  // "" (the host's), "none", "loopback"
  int landlock_abi = 0;
  std::vector<std::string> read_exec, read_only, read_write;
  std::vector<std::string> keep;  // directories under /tmp or /dev/shm the job needs (its cwd)
  std::string seccomp_path;
  std::string seccomp;  // the filter, read before fork
  // The seccomp listener: the child sends it over `channel` before exec; the shim answers
  // each refused call (EPERM) and records it in the job's guard.log.
  int channel[2] = {-1, -1};
  int listener = -1;
  int guard_log = -1;
  unsigned long recorded = 0, unrecorded = 0;
};

// Takes one launch record; false when it is not a sandbox record.
bool sandbox_record(Sandbox& s, const std::string& key, const std::string& value);

// Before fork: reads the seccomp filter and makes the channel for its listener. "" or what
// went wrong.
std::string sandbox_prepare(Sandbox& s);

// In the child, still root: the namespaces. nullptr, or the failed step (errno says why).
const char* sandbox_enter_namespaces(const Sandbox& s);

// In the child, as the job's user, last before exec. nullptr, or the failed step.
const char* sandbox_restrict(const Sandbox& s);

// In the shim after exec: takes the listener the child sent and opens `guard_log`.
void sandbox_take_listener(Sandbox& s, const std::string& guard_log);
// Answers the refused system calls waiting: EPERM, and a "TIME_MS PID NR COMM" line in guard.log
// (at most 10,000 lines per run; the rest are counted).
void sandbox_answer(Sandbox& s);
// Closes the listener (the job is gone) and notes the calls not recorded.
void sandbox_close_listener(Sandbox& s);

}  // namespace shim
