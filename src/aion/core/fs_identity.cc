#include "aion/core/fs_identity.h"

#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace aion {
namespace {

// The calling thread's groups (raw system call: glibc's view is the process's).
std::vector<gid_t> thread_groups() {
  long n = ::syscall(SYS_getgroups, 0, nullptr);
  if (n <= 0) return {};
  std::vector<gid_t> out(static_cast<std::size_t>(n));
  n = ::syscall(SYS_getgroups, n, out.data());
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

bool set_thread_groups(const std::vector<gid_t>& groups) {
  return ::syscall(SYS_setgroups, groups.size(), groups.data()) == 0;
}

// setfsuid/setfsgid answer the previous value whatever happened: -1 asks without changing.
bool fs_ids_are(uid_t uid, gid_t gid) {
  return ::syscall(SYS_setfsuid, static_cast<uid_t>(-1)) == static_cast<long>(uid) &&
         ::syscall(SYS_setfsgid, static_cast<gid_t>(-1)) == static_cast<long>(gid);
}

}  // namespace

std::vector<gid_t> user_groups(uid_t uid, gid_t gid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  std::vector<gid_t> out;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) {
    int n = 64;
    out.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(found->pw_name, gid, out.data(), &n) < 0) {
      out.resize(static_cast<std::size_t>(n));
      if (::getgrouplist(found->pw_name, gid, out.data(), &n) < 0) n = 0;
    }
    out.resize(static_cast<std::size_t>(n));
  }
  if (out.empty()) out.push_back(gid);
  return out;
}

ThreadFsIdentity::ThreadFsIdentity(uid_t uid, gid_t gid) {
  if (uid == 0 || ::geteuid() != 0) return;
  const std::vector<gid_t> groups = user_groups(uid, gid);
  old_groups_ = thread_groups();
  old_gid_ = static_cast<gid_t>(::syscall(SYS_setfsgid, static_cast<gid_t>(-1)));
  old_uid_ = static_cast<uid_t>(::syscall(SYS_setfsuid, static_cast<uid_t>(-1)));
  changed_ = true;
  // Groups and gid first: once the file-system uid is not 0 the thread may still change them
  // (CAP_SETGID stays), but a failure is then simpler to undo.
  if (!set_thread_groups(groups)) {
    restore();
    failed_ = true;
    return;
  }
  ::syscall(SYS_setfsgid, gid);
  ::syscall(SYS_setfsuid, uid);
  if (!fs_ids_are(uid, gid)) {
    restore();
    failed_ = true;
    return;
  }
  active_ = true;
}

void ThreadFsIdentity::restore() {
  ::syscall(SYS_setfsuid, old_uid_);
  ::syscall(SYS_setfsgid, old_gid_);
  set_thread_groups(old_groups_);
  changed_ = false;
  active_ = false;
}

ThreadFsIdentity::~ThreadFsIdentity() {
  if (changed_) restore();
}

}  // namespace aion
