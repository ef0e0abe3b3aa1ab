#include "aion/sched/launch_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "aion/core/fs_identity.h"

namespace aion::sched {

namespace {

Result<std::string> check_paths(const JobSpec& spec) {
  std::string who = spec.user.empty() ? "uid " + std::to_string(spec.uid) : spec.user;
  // "<cwd>/." walks into the directory, so the open needs search permission on it, as chdir
  // does; O_PATH needs no read permission.
  std::string probe = spec.cwd == "/" ? "/." : spec.cwd + "/.";
  int fd = ::open(probe.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorCode::kNotFound, "working directory " + spec.cwd + " does not exist or " +
                                          who + " cannot enter it; pass a directory " + who +
                                          " can reach (--cwd)");
  }
  ::close(fd);
  return resolve_command(spec);
}

}  // namespace

Result<std::string> check_launch_paths(const JobSpec& spec) {
  if (::geteuid() != 0 || spec.uid == 0) return check_paths(spec);
  Result<std::string> out = fail(ErrorCode::kInternal, "unset");
  // A thread of its own, ended right after: nothing else runs with the user's rights.
  std::thread checker([&] {
    ThreadFsIdentity as_user(spec.uid, spec.gid);
    if (!as_user.active()) {
      out = fail(ErrorCode::kInternal,
                 "cannot take uid " + std::to_string(spec.uid) +
                     "'s filesystem rights to check the job's paths; is aiond running as root?");
      return;
    }
    out = check_paths(spec);
  });
  checker.join();
  return out;
}

}  // namespace aion::sched
