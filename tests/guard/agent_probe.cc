// guard_agent_probe ATTEMPT [ARGS]: plays a misbehaving AI agent for the guard's tests. Makes
// one attempt and prints "ATTEMPT: ok" or "ATTEMPT: refused (<errno text>)", exiting 0 or 1:
//   read PATH          open a file for reading
//   write PATH         create a file and write to it
//   ptrace             attach to a child of its own with ptrace
//   module             load a kernel module (an image the kernel rejects as malformed: the
//                      attempt counts as made when the kernel examined it, ENOEXEC, and as
//                      refused on EPERM)
//   connect HOST PORT  a TCP connection to an IPv4 address, sending "hello"
//   dns HOST PORT NAME a DNS query for NAME sent over UDP to a resolver at HOST:PORT (the
//                      name carries the data an agent would leak)
//   later SECONDS ATTEMPT...  the attempt after a pause (a job still running when aiond
//                      restarts); `again SECONDS` after the attempt repeats it after
//                      another pause
//   chat HOST PORT     a chat-completions request to a model endpoint over HTTP; prints
//                      "chat: ok sent=N received=M" (bytes of the request and the reply)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int result(const char* what, bool ok, int err) {
  if (ok)
    std::printf("%s: ok\n", what);
  else
    std::printf("%s: refused (%s)\n", what, std::strerror(err));
  return ok ? 0 : 1;
}

sockaddr_in address(const char* host, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(port)));
  ::inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

int attempt_ptrace() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const long rc = ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
  const int err = errno;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return result("ptrace", rc == 0, err);
}

int attempt_module() {
  char image[64] = {};
  const long rc = ::syscall(SYS_init_module, image, sizeof image, "");
  const int err = errno;
  return result("module", rc == 0 || err != EPERM, err);
}

int attempt_connect(const char* host, const char* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = address(host, port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  const int err = errno;
  if (ok) (void)!::write(fd, "hello", 5);
  ::close(fd);
  return result("connect", ok, err);
}

// A standard query (RFC 1035 section 4.1) for NAME, type A, class IN.
int attempt_dns(const char* host, const char* port, const std::string& name) {
  std::string q = std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::string label = name.substr(start, std::min<std::size_t>(dot - start, 63));
    q += static_cast<char>(label.size());
    q += label;
    start = dot + 1;
  }
  q += std::string("\x00\x00\x01\x00\x01", 5);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in a = address(host, port);
  const bool ok = ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<const sockaddr*>(&a),
                           sizeof a) == static_cast<ssize_t>(q.size());
  const int err = errno;
  ::close(fd);
  return result("dns", ok, err);
}

int attempt_chat(const char* host, const char* port) {
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"which GPUs are free?"}]})";
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + std::string(host) +
                          "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = address(host, port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(fd);
    return result("chat", false, err);
  }
  std::size_t sent = 0;
  while (sent < req.size()) {
    const ssize_t n = ::write(fd, req.data() + sent, req.size() - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::size_t received = 0;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) received += static_cast<std::size_t>(n);
  ::close(fd);
  std::printf("chat: ok sent=%zu received=%zu\n", sent, received);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 3 && std::string(argv[1]) == "later") {
    ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
    argv += 2;
    argc -= 2;
  }
  // "... again SECONDS": the attempt, a pause, the attempt once more.
  if (argc > 3 && std::string(argv[argc - 2]) == "again") {
    const unsigned pause = static_cast<unsigned>(std::atoi(argv[argc - 1]));
    argv[argc - 2] = nullptr;
    const std::vector<char*> args(argv, argv + argc - 2);
    const pid_t first = ::fork();
    if (first == 0) {
      std::vector<char*> a = args;
      a.push_back(nullptr);
      ::execv("/proc/self/exe", a.data());
      ::_exit(127);
    }
    ::waitpid(first, nullptr, 0);
    std::fflush(stdout);
    ::sleep(pause);
    argc -= 2;
  }
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "read" && argc == 3) {
    const int fd = ::open(argv[2], O_RDONLY);
    return result("read", fd >= 0, errno);
  }
  if (what == "write" && argc == 3) {
    const int fd = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = errno;
    if (fd >= 0) (void)!::write(fd, "agent was here\n", 15);
    return result("write", fd >= 0, err);
  }
  if (what == "ptrace") return attempt_ptrace();
  if (what == "module") return attempt_module();
  if (what == "connect" && argc == 4) return attempt_connect(argv[2], argv[3]);
  if (what == "dns" && argc == 5) return attempt_dns(argv[2], argv[3], argv[4]);
  if (what == "chat" && argc == 4) return attempt_chat(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: guard_agent_probe read|write PATH | ptrace | module | connect HOST "
               "PORT | dns HOST PORT NAME\n");
  return 2;
}
