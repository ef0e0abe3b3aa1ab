// ThreadFsIdentity: the calling thread opens files as another user for a while.
//
// aiond runs as root; when it reads paths a user named (a pipeline's inputs and outputs, its
// checkpoint directory), it must read them with that user's rights, or a user could learn the
// size and checksum of a file only root can read. Linux keeps the file-system uid and gid per
// thread (setfsuid/setfsgid, which glibc does not broadcast to the other threads, unlike
// setuid), and a thread whose file-system uid is not 0 loses the capabilities that bypass file
// permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) until it switches back.
// The thread takes the user's supplementary groups too, from the group database as
// initgroups() would (the kernel keeps them per thread as well; the raw system call changes
// only the caller, where glibc's setgroups() would change every thread): a file the user
// reads through a group, as the user's jobs can, reads the same here.
//
// A thread started while the identity is held inherits it (clone copies the creator's
// credentials): worker threads made for the reading act as the user too, threads that existed
// before do not.
// Construct on the thread that will open the files and destroy on the same thread; nothing
// happens for uid 0 or when the process is not root. Not thread-safe by design: it changes
// only the calling thread.
#pragma once

#include <sys/types.h>

#include <vector>

namespace aion {

// The groups of user `uid` by the group database: `gid` first, then the supplementary ones
// (getgrouplist). Just {gid} for a uid the password database does not know.
std::vector<gid_t> user_groups(uid_t uid, gid_t gid);

class ThreadFsIdentity {
 public:
  ThreadFsIdentity(uid_t uid, gid_t gid);
  ~ThreadFsIdentity();
  ThreadFsIdentity(const ThreadFsIdentity&) = delete;
  ThreadFsIdentity& operator=(const ThreadFsIdentity&) = delete;
  // Whether the thread now acts as the user: its file-system uid and gid are the user's and
  // so are its groups (false for uid 0, a non-root process, or when a change did not take;
  // then the thread is back to what it was).
  bool active() const { return active_; }
  // Whether the thread should act as the user and could not: read nothing for the user then
  // (the thread has root's reach).
  bool failed() const { return failed_; }

 private:
  void restore();

  bool active_ = false;
  bool changed_ = false;
  bool failed_ = false;
  uid_t old_uid_ = 0;
  gid_t old_gid_ = 0;
  std::vector<gid_t> old_groups_;
};

}  // namespace aion
