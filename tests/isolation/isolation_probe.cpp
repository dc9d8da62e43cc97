// bs_isolation_probe: what an isolated program tries, for the isolation
// tests. Usage: bs_isolation_probe MODE [ARGS...]; exit 2 for a usage error.
//
//   connect PORT        connect to 127.0.0.1:PORT: print "connected" and exit
//                       0, or "refused ERRNO" and exit 1
//   self-loopback       listen on 127.0.0.1 and connect to it: exit 0 if it
//                       works (the loopback is up), 1 otherwise
//   create PATH         create (or truncate) PATH and write "x": exit 0, or
//                       print "failed ERRNO" and exit 1
//   read PATH           print PATH's content; exit 1 when it cannot be read
//   fill PATH           write 64 KiB blocks to PATH until a write fails:
//                       print "wrote BYTES errno ERRNO", exit 0
//   write-mb PATH N     write N MiB to PATH (SIGXFSZ left at its default):
//                       print "wrote BYTES" and exit 0, or "failed ERRNO", 1
//   fork N              fork up to N children that sleep; print "forked K
//                       errno E" (E: the first fork's failure), then sleep
//                       until killed
//   fork-bomb           every process forks forever, ignoring failures
//   spin PROCS          PROCS processes (this one among them) spin forever
//   alloc-mb N          allocate and touch N MiB, print "allocated", sleep
//   status FIELD        print the value of FIELD in /proc/self/status
//   sleep               sleep until killed
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void sleep_forever() {
  for (;;) ::pause();
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int e = r == 0 ? 0 : errno;
  ::close(fd);
  return e;
}

int self_loopback() {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::printf("listen failed %d\n", errno);
    return 1;
  }
  const int e = connect_to(ntohs(a.sin_port));
  std::printf(e == 0 ? "loopback works\n" : "loopback failed %d\n", e);
  return e == 0 ? 0 : 1;
}

bool write_all(int fd, const char* p, std::size_t n, int& err) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string_view mode = argv[1];
  const char* a1 = argc > 2 ? argv[2] : nullptr;
  const char* a2 = argc > 3 ? argv[3] : nullptr;
  if (mode == "connect" && a1 != nullptr) {
    const int e = connect_to(std::atoi(a1));
    if (e == 0) {
      std::printf("connected\n");
      return 0;
    }
    std::printf("refused %d\n", e);
    return 1;
  }
  if (mode == "self-loopback") return self_loopback();
  if (mode == "create" && a1 != nullptr) {
    const int fd = ::open(a1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = 0;
    if (fd < 0 || !write_all(fd, "x", 1, e)) {
      std::printf("failed %d\n", fd < 0 ? errno : e);
      return 1;
    }
    ::close(fd);
    std::printf("created\n");
    return 0;
  }
  if (mode == "read" && a1 != nullptr) {
    std::ifstream f(a1);
    if (!f) return 1;
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::fwrite(s.data(), 1, s.size(), stdout);
    return 0;
  }
  if (mode == "fill" && a1 != nullptr) {
    const int fd = ::open(a1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      std::printf("failed %d\n", errno);
      return 1;
    }
    std::vector<char> block(64 * 1024, 'f');
    unsigned long long total = 0;
    int e = 0;
    for (;;) {
      const ssize_t w = ::write(fd, block.data(), block.size());
      if (w <= 0) {
        e = w < 0 ? errno : 0;
        if (e == EINTR) continue;
        break;
      }
      total += static_cast<unsigned long long>(w);
    }
    std::printf("wrote %llu errno %d\n", total, e);
    return 0;
  }
  if (mode == "write-mb" && a1 != nullptr && a2 != nullptr) {
    const int fd = ::open(a1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      std::printf("failed %d\n", errno);
      return 1;
    }
    std::vector<char> mib(1 << 20, 'w');
    int e = 0;
    for (int i = 0; i < std::atoi(a2); ++i) {
      if (!write_all(fd, mib.data(), mib.size(), e)) {
        std::printf("failed %d\n", e);
        return 1;
      }
    }
    std::printf("wrote %d MiB\n", std::atoi(a2));
    return 0;
  }
  if (mode == "fork" && a1 != nullptr) {
    const int n = std::atoi(a1);
    int forked = 0;
    int e = 0;
    for (int i = 0; i < n; ++i) {
      const pid_t p = ::fork();
      if (p == 0) sleep_forever();
      if (p < 0) {
        e = errno;
        break;
      }
      ++forked;
    }
    std::printf("forked %d errno %d\n", forked, e);
    std::fflush(stdout);
    sleep_forever();
  }
  if (mode == "fork-bomb") {
    std::printf("bombing\n");
    std::fflush(stdout);
    for (;;) ::fork();
  }
  if (mode == "spin" && a1 != nullptr) {
    for (int i = 1; i < std::atoi(a1); ++i)
      if (::fork() == 0) break;
    for (;;) __asm__ volatile("" ::: "memory");
  }
  if (mode == "alloc-mb" && a1 != nullptr) {
    const std::size_t bytes = static_cast<std::size_t>(std::atoll(a1)) << 20;
    char* p = static_cast<char*>(std::malloc(bytes));
    if (p == nullptr) {
      std::printf("malloc failed\n");
      return 1;
    }
    for (std::size_t i = 0; i < bytes; i += 4096) p[i] = 1;
    std::printf("allocated\n");
    std::fflush(stdout);
    sleep_forever();
  }
  if (mode == "status" && a1 != nullptr) {
    std::ifstream f("/proc/self/status");
    const std::string key = std::string(a1) + ":";
    for (std::string line; std::getline(f, line);) {
      if (line.compare(0, key.size(), key) != 0) continue;
      std::string value = line.substr(key.size());
      value.erase(0, value.find_first_not_of(" \t"));
      std::printf("%s\n", value.c_str());
      return 0;
    }
    return 1;
  }
  if (mode == "sleep") sleep_forever();
  return 2;
}
