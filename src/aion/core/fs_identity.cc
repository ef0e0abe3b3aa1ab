#include "aion/core/fs_identity.h"

#include <sys/fsuid.h>
#include <unistd.h>

namespace aion {

ThreadFsIdentity::ThreadFsIdentity(uid_t uid, gid_t gid) {
  if (uid == 0 || ::geteuid() != 0) return;
  // The group first: once the uid is not 0, the thread may no longer change its fsgid.
  old_gid_ = static_cast<gid_t>(::setfsgid(gid));
  old_uid_ = static_cast<uid_t>(::setfsuid(uid));
  active_ = true;
}

ThreadFsIdentity::~ThreadFsIdentity() {
  if (!active_) return;
  ::setfsuid(old_uid_);
  ::setfsgid(old_gid_);
}

}  // namespace aion
