#include "aion/sched/device_bpf.h"
#include "aion/core/fd.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace aion::sched {
namespace {

// The name every program aion attaches carries, so that re-installing replaces only ours.
constexpr std::string_view kProgName = "aion_devices";

long sys_bpf(int cmd, union bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

std::uint64_t ptr(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

// The few instruction forms the program needs (the kernel's BPF_* helper macros are not part
// of the UAPI headers).
bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
bpf_insn alu32_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
  return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov64_reg(std::uint8_t dst, std::uint8_t src) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn mov64_imm(std::uint8_t dst, std::int32_t imm) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
bpf_insn jne_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) {
  return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
bpf_insn jne_reg(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
  return insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0);
}
bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

std::int32_t access_bits(const std::string& access) {
  std::int32_t bits = 0;
  for (char c : access) {
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

bpf_insn jeq_imm(std::uint8_t dst, std::int32_t imm, std::int16_t off) {
  return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
}

constexpr std::int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

// One block per rule: falls through to "return verdict" when the rule matches and jumps to
// the next block on the first mismatch. r2 = device type, r3 = requested access, r4 = major,
// r5 = minor; r1 is scratch. An allow rule matches when the requested access is a subset of
// its letters, a deny rule when the two share a letter.
void emit_rule(std::vector<bpf_insn>& prog, const DeviceRule& rule, bool deny) {
  std::int32_t bits = access_bits(rule.access);
  bool check_access = bits != kAllAccess;
  std::int16_t len =
      1 + (check_access ? 3 : 0) + (rule.major >= 0 ? 1 : 0) + (rule.minor >= 0 ? 1 : 0) + 2;
  std::int16_t at = 0;  // index within the block of the instruction being emitted
  auto emit = [&](bpf_insn i) {
    prog.push_back(i);
    ++at;
  };
  auto to_next = [&] { return static_cast<std::int16_t>(len - (at + 1)); };
  emit(jne_imm(2, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, to_next()));
  if (check_access) {
    emit(mov64_reg(1, 3));
    emit(alu32_imm(BPF_AND, 1, bits));
    emit(deny ? jeq_imm(1, 0, to_next()) : jne_reg(1, 3, to_next()));
  }
  if (rule.major >= 0) emit(jne_imm(4, rule.major, to_next()));
  if (rule.minor >= 0) emit(jne_imm(5, rule.minor, to_next()));
  emit(mov64_imm(0, deny ? 0 : 1));
  emit(exit_insn());
}

// Deny rules first, then allow rules, then the default: allow only without an allow-list.
std::vector<bpf_insn> assemble(const std::optional<std::vector<DeviceRule>>& allow,
                               const std::vector<DeviceRule>& deny) {
  std::vector<bpf_insn> prog = {
      load_u32(2, 1, offsetof(bpf_cgroup_dev_ctx, access_type)),
      alu32_imm(BPF_AND, 2, 0xffff),
      load_u32(3, 1, offsetof(bpf_cgroup_dev_ctx, access_type)),
      alu32_imm(BPF_RSH, 3, 16),
      load_u32(4, 1, offsetof(bpf_cgroup_dev_ctx, major)),
      load_u32(5, 1, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  for (const DeviceRule& rule : deny) emit_rule(prog, rule, true);
  if (allow) {
    for (const DeviceRule& rule : *allow) emit_rule(prog, rule, false);
  }
  prog.push_back(mov64_imm(0, allow ? 0 : 1));
  prog.push_back(exit_insn());
  return prog;
}

// Returns the program fd; on failure the error carries the verifier's log when it has one.
Result<int> load(const std::vector<bpf_insn>& prog) {
  static constexpr char kLicense[] = "GPL";
  auto attempt = [&](char* log, std::uint32_t log_size) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = ptr(prog.data());
    attr.insn_cnt = static_cast<std::uint32_t>(prog.size());
    attr.license = ptr(kLicense);
    std::memcpy(attr.prog_name, kProgName.data(), kProgName.size());
    if (log != nullptr) {
      attr.log_buf = ptr(log);
      attr.log_size = log_size;
      attr.log_level = 1;
    }
    return static_cast<int>(sys_bpf(BPF_PROG_LOAD, &attr));
  };
  int fd = attempt(nullptr, 0);
  if (fd >= 0) return fd;
  int err = errno;
  Error error = errno_error(err, "bpf(BPF_PROG_LOAD) of a cgroup device program");
  if (err == EINVAL || err == EACCES) {
    std::string log(64 * 1024, '\0');
    int retry = attempt(log.data(), static_cast<std::uint32_t>(log.size()));
    if (retry >= 0) return retry;  // loaded the second time: nothing to report
    log.resize(std::strlen(log.c_str()));
    if (!log.empty())
      return std::unexpected(Error(error.code(), error.message() + "; verifier: " + log));
  }
  return std::unexpected(error);
}

// Ids of the programs named kProgName attached directly to the cgroup.
Result<std::vector<std::uint32_t>> our_programs(int cgroup_fd, const std::string& dir) {
  std::vector<std::uint32_t> ids(64);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = static_cast<std::uint32_t>(cgroup_fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = ptr(ids.data());
  attr.query.prog_cnt = static_cast<std::uint32_t>(ids.size());
  if (sys_bpf(BPF_PROG_QUERY, &attr) != 0) {
    return std::unexpected(errno_error(errno, "bpf(BPF_PROG_QUERY) on " + dir));
  }
  ids.resize(attr.query.prog_cnt);
  std::vector<std::uint32_t> ours;
  for (std::uint32_t id : ids) {
    std::memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    Fd prog(static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr)));
    if (prog.get() < 0) continue;  // detached meanwhile
    bpf_prog_info info;
    std::memset(&info, 0, sizeof(info));
    std::memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = static_cast<std::uint32_t>(prog.get());
    attr.info.info_len = sizeof(info);
    attr.info.info = ptr(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) != 0) continue;
    if (std::string_view(info.name, strnlen(info.name, sizeof(info.name))) == kProgName) {
      ours.push_back(id);
    }
  }
  return ours;
}

Status detach(int cgroup_fd, const std::string& dir, const std::vector<std::uint32_t>& ids) {
  for (std::uint32_t id : ids) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    Fd prog(static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr)));
    if (prog.get() < 0) continue;
    std::memset(&attr, 0, sizeof(attr));
    attr.target_fd = static_cast<std::uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<std::uint32_t>(prog.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &attr) != 0 && errno != ENOENT) {
      return std::unexpected(errno_error(
          errno, "bpf(BPF_PROG_DETACH) of program " + std::to_string(id) + " from " + dir));
    }
  }
  return {};
}

Result<int> open_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(errno_error(errno, "cannot open cgroup " + dir));
  return fd;
}

}  // namespace

Status probe_device_filter() {
  auto fd = load({mov64_imm(0, 1), exit_insn()});
  if (!fd) return std::unexpected(fd.error());
  ::close(*fd);
  return {};
}

Status install_device_filter(const std::string& cgroup_dir,
                             const std::optional<std::vector<DeviceRule>>& allow,
                             const std::vector<DeviceRule>& deny) {
  auto dir_fd = open_dir(cgroup_dir);
  if (!dir_fd) return std::unexpected(dir_fd.error());
  Fd dir(*dir_fd);
  // Listed before attaching so that the new program is never among those detached.
  auto old = our_programs(dir.get(), cgroup_dir);
  if (!old) return std::unexpected(old.error());
  auto prog_fd = load(assemble(allow, deny));
  if (!prog_fd) return std::unexpected(prog_fd.error().context("device filter for " + cgroup_dir));
  Fd prog(*prog_fd);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<std::uint32_t>(dir.get());
  attr.attach_bpf_fd = static_cast<std::uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &attr) != 0) {
    return std::unexpected(errno_error(errno, "bpf(BPF_PROG_ATTACH) to " + cgroup_dir));
  }
  // Both programs must allow an access while both are attached, so the switch never widens.
  return detach(dir.get(), cgroup_dir, *old);
}

Status remove_device_filter(const std::string& cgroup_dir) {
  auto dir_fd = open_dir(cgroup_dir);
  if (!dir_fd) return std::unexpected(dir_fd.error());
  Fd dir(*dir_fd);
  auto ours = our_programs(dir.get(), cgroup_dir);
  if (!ours) return std::unexpected(ours.error());
  return detach(dir.get(), cgroup_dir, *ours);
}

}  // namespace aion::sched
