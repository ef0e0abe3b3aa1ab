// The seccomp filter of a sandbox, built with libseccomp and exported as the classic BPF
// program the kernel loads (an array of struct sock_filter), so that aion-shim, which links
// nothing but libc, installs it in the job's process right before exec. Refused calls are
// handed to the shim (SECCOMP_RET_USER_NOTIF), which records the caller and answers EPERM;
// clone and unshare with a namespace flag too when asked, and clone3 fails with ENOSYS
// (its flags are out of a filter's reach; C libraries then fall back to clone). A call of
// another architecture's ABI (x32, i386 on x86_64) kills the process, as libseccomp's default
// does. Thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

#include "aion/core/error.h"

namespace aion::guard {

struct SeccompFilter {
  std::string program;               // the sock_filter array, as bytes
  std::vector<std::string> unknown;  // names this architecture has no such call for (skipped)
};

// kInvalidArgument when no name is known at all (a typo list), kInternal when libseccomp
// fails.
Result<SeccompFilter> build_seccomp_filter(const std::vector<std::string>& deny,
                                           bool deny_new_namespaces);

// The name of a system call number on this architecture ("" when unknown), for records.
std::string syscall_name(int number);

}  // namespace aion::guard
