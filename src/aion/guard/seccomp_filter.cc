#include "aion/guard/seccomp_filter.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "aion/core/fd.h"

namespace aion::guard {

namespace {

using Ctx = std::unique_ptr<void, decltype(&::seccomp_release)>;

constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                             CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                             CLONE_NEWCGROUP};

Status deny_namespaces(void* ctx) {
  for (const char* call : {"clone", "unshare"}) {
    const int nr = ::seccomp_syscall_resolve_name(call);
    if (nr == __NR_SCMP_ERROR) continue;
    for (unsigned long flag : kNamespaceFlags) {
      if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 1,
                                      SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
          rc < 0) {
        return fail(ErrorCode::kInternal,
                    std::string("seccomp rule for ") + call + ": " + std::strerror(-rc));
      }
    }
  }
  if (const int nr = ::seccomp_syscall_resolve_name("clone3"); nr != __NR_SCMP_ERROR) {
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0); rc < 0)
      return fail(ErrorCode::kInternal,
                  std::string("seccomp rule for clone3: ") + std::strerror(-rc));
  }
  return {};
}

Result<std::string> export_program(void* ctx) {
  Fd fd(::memfd_create("aion-seccomp", MFD_CLOEXEC));
  if (!fd.valid())
    return fail(ErrorCode::kIo, std::string("memfd_create: ") + std::strerror(errno));
  if (int rc = ::seccomp_export_bpf(ctx, fd.get()); rc < 0)
    return fail(ErrorCode::kInternal, std::string("seccomp_export_bpf: ") + std::strerror(-rc));
  std::string out;
  ::lseek(fd.get(), 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  if (out.empty() || out.size() % 8 != 0)
    return fail(ErrorCode::kInternal, "libseccomp exported no filter");
  return out;
}

}  // namespace

Result<SeccompFilter> build_seccomp_filter(const std::vector<std::string>& deny,
                                           bool deny_new_namespaces) {
  Ctx ctx(::seccomp_init(SCMP_ACT_ALLOW), ::seccomp_release);
  if (!ctx) return fail(ErrorCode::kInternal, "seccomp_init failed");
  SeccompFilter f;
  std::size_t known = 0;
  for (const auto& name : deny) {
    const int nr = ::seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      f.unknown.push_back(name);
      continue;
    }
    ++known;
    if (int rc = ::seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, nr, 0); rc < 0) {
      return fail(ErrorCode::kInternal, "seccomp rule for " + name + ": " + std::strerror(-rc));
    }
  }
  if (!deny.empty() && known == 0) {
    return fail(ErrorCode::kInvalidArgument,
                "none of the system calls to refuse is known here (first: " + deny.front() + ")");
  }
  if (deny_new_namespaces) {
    if (auto st = deny_namespaces(ctx.get()); !st) return std::unexpected(st.error());
  }
  auto program = export_program(ctx.get());
  if (!program) return std::unexpected(program.error());
  f.program = std::move(*program);
  return f;
}

std::string syscall_name(int number) {
  char* name = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  if (!name) return "";
  std::string out(name);
  std::free(name);
  return out;
}

}  // namespace aion::guard
