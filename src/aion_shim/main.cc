// aion-shim JOBDIR: supervises one job for aiond.
//
// aiond writes JOBDIR/launch (NUL-separated key=value records: exe, arg..., env..., cwd, uid,
// gid, groups, log, log_max, procs... = the cgroup.procs files to join) and starts the shim in a
// session of its own. The shim:
//   0. holds an exclusive flock on JOBDIR/shim.lock for as long as it lives; once it has the
//      lock, a missing JOBDIR/launch means a restarted aiond gave the job up (requeued it)
//      before this shim got going, and it exits without running anything;
//   1. records itself in JOBDIR/shim.pid ("PID STARTTIME"), so a restarted aiond can find it;
//   2. forks the job: it joins the job's cgroups, gets its own process group, stdout+stderr to
//      a pipe the shim reads, stdin from /dev/null, enters the sandbox's namespaces (sb_*
//      records, sandbox.h), drops to the job's uid/gid and groups (the
//      user's own supplementary groups from the group database, as login would give them, plus
//      the launch file's `groups`: a GPU job needs `render`/`video` for /dev/kfd, /dev/dri),
//      enters cwd, checks the files the job declared (verify records: `aion guard verify
//      --sums`, as the job's user), confines itself (no_new_privs, Landlock, seccomp) and
//      execs;
//   3. records the job's pid in JOBDIR/pid, copies the job's output to the log until log_max
//      bytes (0: no cap; the log is root's, so the user's disk quota does not bound it) and
//      drops the rest, saying so in the log, waits for the job, and writes JOBDIR/status
//      atomically (exit=, signal=, cpu_ms=, maxrss_kb=, end_ms=, error=, output_dropped=).
// The shim ignores SIGINT/SIGHUP/SIGQUIT/SIGPIPE and forwards SIGTERM to the job (also one that
// arrives before the job exists): aiond stops a job by signalling the job's cgroup, its process
// group and the shim, and the shim must live to record how it ended. Uses libc only.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox.h"

namespace {

// The supplementary groups `uid`'s user has by the group database (what initgroups() would
// set), primary group `gid` included; empty when the uid has no passwd entry.
std::vector<gid_t> user_groups(uid_t uid, gid_t gid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
  int n = 64;
  std::vector<gid_t> out(static_cast<std::size_t>(n));
  if (::getgrouplist(found->pw_name, gid, out.data(), &n) < 0) {
    out.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(found->pw_name, gid, out.data(), &n) < 0) return {};
  }
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string g_dir;
volatile sig_atomic_t g_term = 0;
volatile pid_t g_child = 0;

// SIGTERM to the shim (aiond stopping the job) goes on to the job: its process group and the
// child itself (it may not have its own group yet). The shim lives on to record the end.
void forward_term() {
  pid_t c = g_child;
  if (c > 0) {
    ::kill(-c, SIGTERM);
    ::kill(c, SIGTERM);
  }
}

void on_term(int) {
  int saved = errno;
  g_term = 1;
  forward_term();
  errno = saved;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "aion-shim: %s\n", what.c_str());
  // Leave a status so aiond reports this rather than "lost".
  std::string tmp = g_dir + "/status.tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "exit=127\nsignal=0\nerror=%s\n", what.c_str());
    std::fclose(f);
    std::rename(tmp.c_str(), (g_dir + "/status").c_str());
  }
  std::exit(127);
}

bool read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

bool write_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  // No fsync: these files must survive aiond crashing, which the page cache gives; a power
  // loss ends the job anyway.
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

long long start_time_of_self() {
  std::string stat;
  if (!read_file("/proc/self/stat", stat)) return 0;
  auto p = stat.rfind(')');
  if (p == std::string::npos) return 0;
  // Fields after the command: state is field 3; starttime is field 22.
  int field = 2;
  for (std::size_t i = p + 1; i < stat.size(); ++i) {
    if (stat[i] == ' ') {
      ++field;
      if (field == 22) return std::atoll(stat.c_str() + i + 1);
    }
  }
  return 0;
}

long long now_ms() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  return static_cast<long long>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

// In the child, before exec: only async-signal-safe calls. Reports "<step>: <errno>" through
// the pipe and exits 127.
[[noreturn]] void child_fail(int fd, const char* step) {
  int e = errno;
  char msg[256];
  int n = std::snprintf(msg, sizeof msg, "%s: %s", step, std::strerror(e));
  if (n > 0) (void)!::write(fd, msg, static_cast<std::size_t>(n));
  ::_exit(127);
}

// As child_fail, with a message of its own (no errno).
[[noreturn]] void child_fail_text(int fd, const char* msg) {
  (void)!::write(fd, msg, std::strlen(msg));
  ::_exit(127);
}

// Writes all of `data` to `fd` (a regular file: short writes only on a full disk).
void write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Copies the job's output from `in` to the log `log_fd` until `cap` bytes (0: no cap), then
// counts and drops the rest; reaps `child` (its status and usage in `status` and `ru`). When
// the job has exited, output still buffered is read, and descendants that kept the pipe open
// are not waited for. Says in the log when the cap is reached and, at the end, how much was
// dropped. Returns the bytes dropped.
unsigned long long copy_output(int in, int log_fd, unsigned long long cap, pid_t child, int& status,
                               rusage& ru, shim::Sandbox& sandbox) {
  unsigned long long written = 0, dropped = 0;
  bool exited = false;
  // After the job's exit, what was already in the pipe (at most its 64 KiB buffer, more if
  // enlarged) is still read; a descendant writing on would otherwise keep the shim here.
  std::size_t after_exit = 1 << 20;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    if (!exited) {
      pid_t r = ::wait4(child, &status, WNOHANG, &ru);
      if (r == child) {
        exited = true;
        ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) | O_NONBLOCK);
      } else if (r < 0 && errno != EINTR) {
        die(std::string("wait4: ") + std::strerror(errno));
      }
    }
    if (!exited) {
      // The output, and the system calls the sandbox refuses (answered at once: the caller
      // waits for the answer).
      pollfd p[2] = {{in, POLLIN, 0}, {sandbox.listener, POLLIN, 0}};
      // A bounded wait: the job may end while a descendant keeps the pipe open and quiet.
      if (::poll(p, sandbox.listener >= 0 ? 2 : 1, 200) <= 0) continue;
      if (p[1].revents & POLLIN) shim::sandbox_answer(sandbox);
      if (p[1].revents & (POLLHUP | POLLERR)) shim::sandbox_close_listener(sandbox);
      if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    }
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (exited && n > 0) {
      if (after_exit < static_cast<std::size_t>(n)) break;
      after_exit -= static_cast<std::size_t>(n);
    }
    if (n <= 0) {
      if (exited) break;
      if (n < 0 && errno != EAGAIN) break;
      if (n == 0) {  // every writer is gone: only the job's exit is left to wait for
        break;
      }
      continue;
    }
    std::size_t take = static_cast<std::size_t>(n);
    if (cap > 0 && written + take > cap) {
      take = static_cast<std::size_t>(cap - written);
      const bool first = dropped == 0;
      dropped += static_cast<std::size_t>(n) - take;
      write_all(log_fd, buf.data(), take);
      written += take;
      if (first) {
        std::string note = "\naion: this job's output reached its cap of " + std::to_string(cap) +
                           " bytes (sched.job_output_max_bytes); further output is dropped\n";
        write_all(log_fd, note.data(), note.size());
      }
      continue;
    }
    write_all(log_fd, buf.data(), take);
    written += take;
  }
  while (!exited && ::wait4(child, &status, 0, &ru) < 0) {
    if (errno != EINTR) die(std::string("wait4: ") + std::strerror(errno));
  }
  if (dropped > 0) {
    std::string note = "aion: output cap of " + std::to_string(cap) +
                       " bytes reached: " + std::to_string(dropped) +
                       " bytes of output were dropped\n";
    write_all(log_fd, note.data(), note.size());
  }
  return dropped;
}

}  // namespace

namespace {

// SIGINT/SIGHUP/SIGPIPE/SIGQUIT ignored; SIGTERM forwarded to the job (on_term), and
// unblocked: aiond starts us with SIGTERM blocked, and a stop sent meanwhile comes now.
void install_signal_handlers() {
  for (int sig : {SIGINT, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_IGN);
  struct sigaction term {};
  term.sa_handler = on_term;
  sigemptyset(&term.sa_mask);
  term.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &term, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGTERM);
  ::sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
}

// What JOBDIR/launch asks for.
struct Launch {
  std::string exe, cwd = "/", log;
  unsigned long long log_max = 0;
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  std::vector<gid_t> groups;
  std::vector<std::string> args, env, procs;
  int held_fds = 0;                 // 3 .. 3+N-1: the job's network policy, kept (not passed on)
  std::string verify_exe;           // aion, which checks the files the job declared
  std::vector<std::string> verify;  // their checksum files
  bool set_groups = false;
  shim::Sandbox sandbox;
};

// The NUL-separated key=value records of the launch file; unknown keys are ignored.
Launch parse_launch(const std::string& launch) {
  Launch l;
  for (std::size_t pos = 0; pos < launch.size();) {
    std::size_t end = launch.find('\0', pos);
    if (end == std::string::npos) end = launch.size();
    std::string rec = launch.substr(pos, end - pos);
    pos = end + 1;
    auto eq = rec.find('=');
    if (eq == std::string::npos) continue;
    std::string k = rec.substr(0, eq), v = rec.substr(eq + 1);
    if (shim::sandbox_record(l.sandbox, k, v)) continue;
    if (k == "exe")
      l.exe = v;
    else if (k == "arg")
      l.args.push_back(v);
    else if (k == "env")
      l.env.push_back(v);
    else if (k == "cwd")
      l.cwd = v;
    else if (k == "log")
      l.log = v;
    else if (k == "log_max")
      l.log_max = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "procs")
      l.procs.push_back(v);
    else if (k == "held_fds")
      l.held_fds = std::atoi(v.c_str());
    else if (k == "verify_exe")
      l.verify_exe = v;
    else if (k == "verify")
      l.verify.push_back(v);
    else if (k == "uid")
      l.uid = static_cast<uid_t>(std::strtoul(v.c_str(), nullptr, 10));
    else if (k == "gid")
      l.gid = static_cast<gid_t>(std::strtoul(v.c_str(), nullptr, 10));
    else if (k == "groups") {
      l.set_groups = true;
      for (std::size_t p = 0; p < v.size();) {
        std::size_t c = v.find(',', p);
        if (c == std::string::npos) c = v.size();
        if (c > p) l.groups.push_back(static_cast<gid_t>(std::strtoul(v.c_str() + p, nullptr, 10)));
        p = c + 1;
      }
    }
  }
  return l;
}

// Takes JOBDIR/shim.lock (held for the shim's life: it tells a restarted aiond that this shim
// is alive even before shim.pid exists; close-on-exec, so the job itself does not hold it) and
// records JOBDIR/shim.pid. False when JOBDIR/launch is gone: aiond requeued the job.
bool claim_job_dir() {
  int lock = ::open((g_dir + "/shim.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) die("cannot open " + g_dir + "/shim.lock: " + std::strerror(errno));
  while (::flock(lock, LOCK_EX) != 0) {
    if (errno != EINTR) die("cannot lock " + g_dir + "/shim.lock: " + std::strerror(errno));
  }
  if (::access((g_dir + "/launch").c_str(), F_OK) != 0 && errno == ENOENT) {
    std::fprintf(stderr, "aion-shim: %s/launch is gone: aiond requeued the job; exiting\n",
                 g_dir.c_str());
    return false;
  }
  if (!write_atomic(g_dir + "/shim.pid", std::to_string(::getpid()) + " " +
                                             std::to_string(start_time_of_self()) + "\n")) {
    die("cannot write " + g_dir + "/shim.pid: " + std::strerror(errno));
  }
  return true;
}

// Adds the job user's own supplementary groups to the launch file's. Looked up before fork:
// NSS is not safe in the child.
void add_user_groups(Launch& l) {
  for (gid_t g : user_groups(l.uid, l.gid)) {
    if (std::find(l.groups.begin(), l.groups.end(), g) == l.groups.end()) l.groups.push_back(g);
  }
}

// In the child, as the job's user: `aion guard verify --sums F...` over the files the job
// declared, its report going to the job's log. Fails the job when any file differs.
void verify_declared_files(const Launch& l, int err_fd) {
  if (l.verify.empty()) return;
  std::vector<std::string> args = {l.verify_exe, "guard", "verify"};
  for (const auto& f : l.verify) {
    args.push_back("--sums");
    args.push_back(f);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char path[] = "PATH=/usr/bin:/bin";
  char* envp[] = {path, nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) child_fail(err_fd, "checking the declared files: fork");
  if (pid == 0) {
    ::execve(l.verify_exe.c_str(), argv.data(), envp);
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    child_fail_text(err_fd,
                    "the job's declared files do not match their checksums, or could not be "
                    "read (the job's log lists them)");
}

// In the forked child: joins the job's cgroups, takes its own process group, restores the
// default signal handling, wires stdin to /dev/null and stdout+stderr to out_fd, drops to
// the job's groups, gid and uid (in that order), enters cwd and execs. A failure is written
// to err_fd (close-on-exec, so exec success closes it) and ends the child.
[[noreturn]] void exec_job(const Launch& l, char* const* cargv, char* const* cenv, bool drop,
                           int err_fd, int out_fd) {
  char pidbuf[24];
  int n = std::snprintf(pidbuf, sizeof pidbuf, "%d", static_cast<int>(::getpid()));
  for (const auto& p : l.procs) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(err_fd, "cannot join the job's cgroup");
    if (::write(fd, pidbuf, static_cast<std::size_t>(n)) != n) {
      child_fail(err_fd, "cannot join the job's cgroup");
    }
    ::close(fd);
  }
  if (::setpgid(0, 0) != 0) child_fail(err_fd, "setpgid");
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // a SIGTERM forwarded already ends it here
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0) child_fail(err_fd, "stdin");
  if (::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
    child_fail(err_fd, "stdout");
  }
  if (const char* step = shim::sandbox_enter_namespaces(l.sandbox)) child_fail(err_fd, step);
  if (drop) {
    if (::setgroups(l.groups.size(), l.groups.data()) != 0) child_fail(err_fd, "setgroups");
    if (::setgid(l.gid) != 0) child_fail(err_fd, "setgid");
    if (::setuid(l.uid) != 0) child_fail(err_fd, "setuid");
  }
  if (::chdir(l.cwd.c_str()) != 0) child_fail(err_fd, "cannot enter the working directory");
  verify_declared_files(l, err_fd);
  if (const char* step = shim::sandbox_restrict(l.sandbox)) child_fail(err_fd, step);
  ::execve(l.exe.c_str(), cargv, cenv);
  child_fail(err_fd, "cannot execute the command");
}

// What the child wrote to the error pipe before exec (empty when exec succeeded).
std::string read_exec_error(int fd) {
  std::string error;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    error.append(buf, static_cast<std::size_t>(n));
  }
  return error;
}

// The JOBDIR/status text: exit=, signal=, cpu_ms=, maxrss_kb=, end_ms=, error=,
// output_dropped=.
std::string status_text(int status, const rusage& ru, std::string error,
                        unsigned long long dropped) {
  long long cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL +
                     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  std::string out;
  out += "exit=" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "\n";
  out += "signal=" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + "\n";
  out += "cpu_ms=" + std::to_string(cpu_ms) + "\n";
  out += "maxrss_kb=" + std::to_string(ru.ru_maxrss) + "\n";
  out += "end_ms=" + std::to_string(now_ms()) + "\n";
  if (!error.empty()) {
    for (char& c : error) c = (c == '\n') ? ' ' : c;
    out += "error=" + error + "\n";
  }
  if (dropped > 0) out += "output_dropped=" + std::to_string(dropped) + "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] != '/') {
    std::fprintf(stderr, "usage: aion-shim /absolute/job/dir (started by aiond, not by hand)\n");
    return 2;
  }
  g_dir = argv[1];
  ::umask(022);
  if (::getsid(0) != ::getpid()) (void)::setsid();
  install_signal_handlers();

  if (!claim_job_dir()) return 0;

  std::string launch_text;
  if (!read_file(g_dir + "/launch", launch_text)) die("cannot read " + g_dir + "/launch");
  Launch launch = parse_launch(launch_text);
  if (launch.exe.empty() || launch.args.empty() || launch.log.empty()) {
    die("incomplete launch file");
  }
  if (std::string e = shim::sandbox_prepare(launch.sandbox); !e.empty()) die(e);
  // The attachments of the job's network policy: held until the shim exits, so the policy
  // holds while aiond restarts; never handed to the job.
  for (int fd = 3; fd < 3 + launch.held_fds && fd < 64; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);

  int log_fd = ::open(launch.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) die("cannot open log " + launch.log + ": " + std::strerror(errno));
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));

  // Everything the child needs, prepared before fork.
  std::vector<char*> cargv, cenv;
  for (auto& a : launch.args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : launch.env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  // A daemon that is not root runs jobs as its own user: it keeps its groups (it could not set
  // them). Root sets the job's user, group and groups.
  const bool same_ids = launch.uid == ::getuid() && launch.gid == ::getgid();
  const bool drop = !same_ids || (launch.set_groups && ::geteuid() == 0);
  if (drop && launch.uid != 0) add_user_groups(launch);

  // SIGTERM stays blocked across fork: the parent learns the child's pid before it forwards
  // one, and the child keeps one pending until it has its default action back.
  sigset_t term_set, old_mask;
  sigemptyset(&term_set);
  sigaddset(&term_set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term_set, &old_mask);
  pid_t child = ::fork();
  if (child < 0) die(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::close(err_pipe[0]);
    ::close(out_pipe[0]);
    exec_job(launch, cargv.data(), cenv.data(), drop, err_pipe[1], out_pipe[1]);
  }
  g_child = child;
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (g_term) forward_term();  // asked to stop before the child existed
  ::close(err_pipe[1]);
  ::close(out_pipe[1]);
  if (!write_atomic(g_dir + "/pid", std::to_string(child) + "\n")) {
    std::fprintf(stderr, "aion-shim: cannot write %s/pid\n", g_dir.c_str());
  }
  std::string error = read_exec_error(err_pipe[0]);
  ::close(err_pipe[0]);
  shim::sandbox_take_listener(launch.sandbox, g_dir + "/guard.log");
  if (!error.empty()) {
    std::string line = "aion: " + error + " (" + launch.exe + ")\n";
    (void)!::write(log_fd, line.data(), line.size());
  }

  int status = 0;
  rusage ru{};
  const unsigned long long dropped =
      copy_output(out_pipe[0], log_fd, launch.log_max, child, status, ru, launch.sandbox);
  shim::sandbox_close_listener(launch.sandbox);
  ::close(out_pipe[0]);
  if (!write_atomic(g_dir + "/status", status_text(status, ru, error, dropped))) {
    die("cannot write the status file");
  }
  return 0;
}
