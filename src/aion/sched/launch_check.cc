#include "aion/sched/launch_check.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace aion::sched {

namespace {

std::vector<gid_t> groups_of(const JobSpec& spec) {
  std::vector<gid_t> out;
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(spec.uid, &pw, buf.data(), buf.size(), &found) == 0 && found) {
    int n = 64;
    out.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(found->pw_name, spec.gid, out.data(), &n) < 0) {
      out.resize(static_cast<std::size_t>(n));
      if (::getgrouplist(found->pw_name, spec.gid, out.data(), &n) < 0) n = 0;
    }
    out.resize(static_cast<std::size_t>(n));
  }
  if (out.empty()) out.push_back(spec.gid);
  return out;
}

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
  std::vector<gid_t> groups = groups_of(spec);
  Result<std::string> out = fail(ErrorCode::kInternal, "unset");
  // Raw syscalls: glibc's wrappers for setgroups would apply to every thread of the daemon;
  // the kernel's calls change only this one, which ends right after.
  std::thread checker([&] {
    long g = ::syscall(SYS_setgroups, groups.size(), groups.data());
    ::syscall(SYS_setfsgid, spec.gid);
    ::syscall(SYS_setfsuid, spec.uid);
    bool fs_gid_ok = ::syscall(SYS_setfsgid, static_cast<gid_t>(-1)) == spec.gid;
    bool fs_uid_ok = ::syscall(SYS_setfsuid, static_cast<uid_t>(-1)) == spec.uid;
    if (g != 0 || !fs_gid_ok || !fs_uid_ok) {
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
