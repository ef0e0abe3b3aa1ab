// ThreadFsIdentity: the calling thread opens files as another user for a while.
//
// aiond runs as root; when it reads paths a user named (a pipeline's inputs and outputs, its
// checkpoint directory), it must read them with that user's rights, or a user could learn the
// size and checksum of a file only root can read. Linux keeps the file-system uid and gid per
// thread (setfsuid/setfsgid, which glibc does not broadcast to the other threads, unlike
// setuid), and a thread whose file-system uid is not 0 loses the capabilities that bypass file
// permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) until it switches back.
// The user's supplementary groups are not taken (they are per process): a file only a
// supplementary group may read is refused, never wrongly granted.
//
// A thread started while the identity is held inherits it (clone copies the creator's
// credentials): worker threads made for the reading act as the user too, threads that existed
// before do not.
// Construct on the thread that will open the files and destroy on the same thread; nothing
// happens for uid 0 or when the process is not root. Not thread-safe by design: it changes
// only the calling thread.
#pragma once

#include <sys/types.h>

namespace aion {

class ThreadFsIdentity {
 public:
  ThreadFsIdentity(uid_t uid, gid_t gid);
  ~ThreadFsIdentity();
  ThreadFsIdentity(const ThreadFsIdentity&) = delete;
  ThreadFsIdentity& operator=(const ThreadFsIdentity&) = delete;
  // Whether the thread now acts as the user (false for uid 0 or a non-root process).
  bool active() const { return active_; }

 private:
  bool active_ = false;
  uid_t old_uid_ = 0;
  gid_t old_gid_ = 0;
};

}  // namespace aion
