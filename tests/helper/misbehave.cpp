// bs_misbehave: one small program that misbehaves on demand, for the tests.
//
// Usage: bs_misbehave MODE [ARGS...]. Exit status 2 for a usage error.
// "PATTERN" below means the deterministic byte stream of `pattern_byte`:
// byte i is '\n' when i % 64 == 63, else 'a' + i % 26 (the tests recompute it,
// see tests/support/leak_check.hpp: misbehave_pattern()).
//
// Output and exit:
//   out-err OUT ERR            write OUT to stdout and ERR to stderr, exit 0
//   exit CODE                  exit with CODE at once
//   exit-after-ms MS CODE      sleep MS milliseconds, then exit CODE
//   kill-self SIGNUM           raise signal SIGNUM (default disposition)
//   flood-out N|forever        write N bytes of PATTERN to stdout (or forever)
//   flood-err N|forever        the same on stderr
//   flood-both N               N bytes of PATTERN on stdout and on stderr
//   write-forever-no-newline   write 'x' to stdout forever, no newline ever
//   long-line N                one line of N 'x' bytes, then '\n'
//   binary-out                 the 256 byte values 0..255, twice (512 bytes)
//   print-args                 each argument after MODE on its own line
//   print-env NAME             the value of NAME and '\n'; exit 3 when unset
//   print-env-count            the number of environment entries
//   print-cwd                  the working directory and '\n'
//   print-ids                  "pid P pgid G sid S ppid Q\n"
//   count-fds                  the number of fds open in this process (0,1,2
//                              give "3"), then the fd numbers on a 2nd line
//   spin-ms MS                 busy CPU loop for MS milliseconds, exit 0
//   spin-cpu-ms MS             busy loop until this process has used MS ms
//                              of CPU time (however long that takes), exit 0
//   log-interval FILE MS TAG   append "TAG start NS" to FILE (NS: CLOCK_
//                              MONOTONIC nanoseconds), sleep MS ms, append
//                              "TAG end NS", exit 0 (one write per line)
// stdin:
//   read-stdin-count           read stdin to EOF, print the byte count
//   echo-stdin                 copy stdin to stdout until EOF
//   read-line-then-sleep       read one line, echo it, then sleep forever
//   ignore-stdin-flood-out N   never read stdin; write N bytes of PATTERN
//   close-stdin-sleep          close fd 0, print "closed", sleep forever
//   read-stdin-late MS         wait until the writer of stdin has closed it
//                              (POLLHUP) or MS milliseconds have passed,
//                              whichever comes first; then read stdin to EOF
//                              and print the byte count (a child that only a
//                              stdin write bound can make a write fail)
//   echo-ignore-eof            ignore SIGTERM, SIGHUP, SIGINT and SIGPIPE;
//                              fork a grandchild that ignores them too and
//                              sleeps; print "grandchild PID"; echo stdin
//                              lines to stdout until EOF, then sleep forever
//                              (closing its pipes never ends it)
// Hanging and descendants (the pids of forked processes are printed so that
// tests can check they are gone):
//   sleep-forever              block in pause() forever (no CPU)
//   ignore-sigterm-sleep       ignore SIGTERM, print "ready", sleep forever
//   close-outputs-spin         print "closing", close stdout and stderr, spin
//   out-close-sleep N MS       write N bytes of PATTERN to stdout and to
//                              stderr, close both, sleep MS milliseconds
//                              (no CPU), exit 0
//   fork-grandchild-sleep      print "pgid G pid P", fork a grandchild that sleeps
//                              forever holding stdout/stderr; print
//                              "grandchild PID", exit 0
//   fork-grandchild-flood      like fork-grandchild-sleep, but the grandchild
//                              writes PATTERN to stdout forever
//   fork-storm N               print "pgid G", fork N children that sleep
//                              forever, print "child PID" for each, then
//                              "forked N"; sleep forever
//   fork-bomb [setsid]         a fork storm: ignore SIGCHLD, print "storm",
//                              then fork in a loop forever; every child
//                              loops too (with `setsid`, each calls setsid
//                              before each fork, leaving the group). Run it
//                              only as an unprivileged user under
//                              `prlimit --nproc=N`
// Escapes: a descendant that leaves the process group, as a hostile program
// would; the direct child waits until it has, prints "escaped PID", then
// THEN is `exit` (exit 0) or `sleep` (sleep forever):
//   escape setsid THEN         a grandchild in a session of its own
//   escape setpgid THEN        a grandchild in a process group of its own
//   escape daemon THEN         a double-forked daemon (setsid between)
//   escape hold-stdout THEN    a setsid grandchild writing to stdout forever
//   escape stop THEN           a setsid grandchild that stops itself
//   escape block-signals THEN  a setsid grandchild that ignores and blocks
//                              every signal it can
//   escape alloc-mb N THEN     a setsid grandchild that allocates N MiB
//   escape loop N THEN         N setsid grandchildren, one after the other
// Memory:
//   alloc-mb N                 allocate and touch N MiB, print "allocated",
//                              sleep forever
//   alloc-mb-exit N            allocate and touch N MiB, print "allocated",
//                              exit 0
//   fork-alloc-mb N            a forked child does alloc-mb N; the parent
//                              prints "child PID" and waits for it
// Handshakes through files, so that a test can order events exactly:
//   exit-then-grandchild-writes DIR N [announce]
//                              write DIR/pid (own pid); fork a grandchild;
//                              with `announce`, print "pid P" on stdout;
//                              wait for DIR/exit to exist, then exit 0. The
//                              grandchild waits for DIR/write, writes N bytes
//                              of PATTERN to stdout and then to stderr,
//                              writes DIR/written (its pid) and sleeps
//                              forever, holding both pipes open.
//                              (Files appear whole: written, then renamed.)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "misbehave_io.hpp"

namespace {

using namespace bs_misbehave;

unsigned long long count_or_forever(const char* s) {
  if (s != nullptr && std::string_view(s) == "forever") return ~0ULL;
  return parse_count(s);
}

// Returns the block, so that a mode that exits can free it (LeakSanitizer
// would turn exit 0 into exit 1 otherwise).
char* alloc_and_touch(unsigned long long mib) {
  std::size_t bytes = static_cast<std::size_t>(mib) * 1024 * 1024;
  auto* p = static_cast<char*>(std::malloc(bytes));
  if (p == nullptr) std::_Exit(5);
  for (std::size_t i = 0; i < bytes; i += 4096) p[i] = static_cast<char>(i);
  // Keep the memory observably in use.
  volatile char sink = p[bytes / 2];
  (void)sink;
  return p;
}

int count_fds(std::string* list) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int own = ::dirfd(dir);
  int count = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd == own) continue;
    ++count;
    *list += std::to_string(fd) + " ";
  }
  ::closedir(dir);
  return count;
}

// The escapee's side of `escape`: leaves the group, tells the parent, then
// does what KIND says. Never returns.
[[noreturn]] void escapee(std::string_view kind, unsigned long long n, int ready) {
  if (kind == "setpgid") {
    ::setpgid(0, 0);
  } else {
    ::setsid();
  }
  if (kind == "daemon") {
    // The classic double fork: the daemon is an orphan in its own session.
    if (::fork() != 0) std::_Exit(0);
  }
  if (kind == "block-signals") {
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_IGN);
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, nullptr);
  }
  char* block = kind == "alloc-mb" ? alloc_and_touch(n) : nullptr;
  const std::string line = std::to_string(::getpid()) + "\n";
  write_all(ready, line.data(), line.size());
  ::close(ready);
  if (kind == "stop") ::raise(SIGSTOP);
  if (kind == "hold-stdout") {
    ::signal(SIGPIPE, SIG_IGN);
    for (;;) {
      if (::write(1, "x", 1) < 0 && errno != EINTR) {
      }
      ::usleep(10000);
    }
  }
  (void)block;
  sleep_forever();
}

int escape(int argc, char** argv) {
  if (argc < 4) usage("escape KIND [N] THEN");
  const std::string_view kind = argv[2];
  const bool counted = kind == "alloc-mb" || kind == "loop";
  if (counted && argc < 5) usage("escape KIND N THEN");
  const unsigned long long n = counted ? parse_count(argv[3]) : 0;
  const std::string_view then = argv[counted ? 4 : 3];
  const unsigned long long escapees = kind == "loop" ? n : 1;
  for (unsigned long long i = 0; i < escapees; ++i) {
    int fds[2];
    if (::pipe(fds) != 0) std::_Exit(6);
    const pid_t pid = fork_or_die();
    if (pid == 0) {
      ::close(fds[0]);
      escapee(kind == "loop" ? "setsid" : kind, n, fds[1]);
    }
    ::close(fds[1]);
    char buf[32] = {};
    ssize_t got;
    do {
      got = ::read(fds[0], buf, sizeof buf - 1);
    } while (got < 0 && errno == EINTR);
    ::close(fds[0]);
    if (kind == "daemon") ::waitpid(pid, nullptr, 0);  // its first fork exits
    write_str(1, "escaped " + std::string(buf, got > 0 ? static_cast<std::size_t>(got) : 0));
  }
  if (then == "exit") return 0;
  sleep_forever();
}

int run_mode(std::string_view mode, int argc, char** argv) {
  const char* a1 = argc > 2 ? argv[2] : nullptr;
  const char* a2 = argc > 3 ? argv[3] : nullptr;

  if (mode == "out-err") {
    if (a1 == nullptr || a2 == nullptr) usage("out-err OUT ERR");
    write_str(1, a1);
    write_str(2, a2);
    return 0;
  }
  if (mode == "exit") return static_cast<int>(parse_count(a1));
  if (mode == "exit-after-ms") {
    unsigned long long ms = parse_count(a1);
    int code = static_cast<int>(parse_count(a2));
    ::usleep(static_cast<useconds_t>(ms * 1000));
    return code;
  }
  if (mode == "kill-self") {
    int sig = static_cast<int>(parse_count(a1));
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return 7;  // the signal was not fatal
  }
  if (mode == "flood-out") {
    flood(1, count_or_forever(a1));
    return 0;
  }
  if (mode == "flood-err") {
    flood(2, count_or_forever(a1));
    return 0;
  }
  if (mode == "flood-both") {
    unsigned long long n = parse_count(a1);
    flood(1, n);
    flood(2, n);
    return 0;
  }
  if (mode == "write-forever-no-newline") {
    std::string chunk(64 * 1024, 'x');
    for (;;) write_str(1, chunk);
  }
  if (mode == "long-line") {
    std::string line(static_cast<std::size_t>(parse_count(a1)), 'x');
    line += '\n';
    write_str(1, line);
    return 0;
  }
  if (mode == "binary-out") {
    char bytes[512];
    for (int i = 0; i < 512; ++i) bytes[i] = static_cast<char>(i % 256);
    write_all(1, bytes, sizeof bytes);
    return 0;
  }
  if (mode == "print-args") {
    for (int i = 2; i < argc; ++i) {
      write_str(1, argv[i]);
      write_str(1, "\n");
    }
    return 0;
  }
  if (mode == "print-env") {
    if (a1 == nullptr) usage("print-env NAME");
    const char* v = std::getenv(a1);
    if (v == nullptr) return 3;
    write_str(1, std::string(v) + "\n");
    return 0;
  }
  if (mode == "print-env-count") {
    int n = 0;
    for (char** e = environ; *e != nullptr; ++e) ++n;
    write_str(1, std::to_string(n) + "\n");
    return 0;
  }
  if (mode == "print-cwd") {
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr) return 8;
    write_str(1, std::string(buf) + "\n");
    return 0;
  }
  if (mode == "print-ids") {
    write_str(1, "pid " + std::to_string(::getpid()) + " pgid " + std::to_string(::getpgrp()) + " sid " +
                     std::to_string(::getsid(0)) + " ppid " + std::to_string(::getppid()) + "\n");
    return 0;
  }
  if (mode == "count-fds") {
    std::string list;
    int n = count_fds(&list);
    write_str(1, std::to_string(n) + "\n" + list + "\n");
    return 0;
  }
  if (mode == "spin-ms") {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(parse_count(a1));
    volatile unsigned long long x = 0;
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 10000; ++i) x = x + static_cast<unsigned long long>(i);
    }
    return 0;
  }
  if (mode == "read-stdin-count") {
    write_str(1, std::to_string(count_stdin()) + "\n");
    return 0;
  }
  if (mode == "echo-stdin") {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      write_all(1, buf, static_cast<std::size_t>(n));
    }
    return 0;
  }
  if (mode == "read-line-then-sleep") {
    std::string line;
    char c;
    while (::read(0, &c, 1) == 1) {
      line += c;
      if (c == '\n') break;
    }
    write_str(1, line);
    sleep_forever();
  }
  if (mode == "ignore-stdin-flood-out") {
    flood(1, parse_count(a1));
    return 0;
  }
  if (mode == "close-stdin-sleep") {
    ::close(0);
    write_str(1, "closed\n");
    sleep_forever();
  }
  if (mode == "sleep-forever") sleep_forever();
  if (mode == "ignore-sigterm-sleep") {
    ::signal(SIGTERM, SIG_IGN);
    write_str(1, "ready\n");
    sleep_forever();
  }
  if (mode == "close-outputs-spin") {
    write_str(1, "closing\n");
    ::close(1);
    ::close(2);
    for (;;) {
    }
  }
  if (mode == "fork-grandchild-sleep" || mode == "fork-grandchild-flood") {
    write_str(1, "pgid " + std::to_string(::getpgrp()) + " pid " + std::to_string(::getpid()) + "\n");
    pid_t pid = fork_or_die();
    if (pid == 0) {
      if (mode == "fork-grandchild-flood") flood(1, ~0ULL);
      sleep_forever();
    }
    write_str(1, "grandchild " + std::to_string(pid) + "\n");
    return 0;
  }
  if (mode == "fork-storm") {
    unsigned long long n = parse_count(a1);
    write_str(1, "pgid " + std::to_string(::getpgrp()) + "\n");
    for (unsigned long long i = 0; i < n; ++i) {
      pid_t pid = fork_or_die();
      if (pid == 0) sleep_forever();
      write_str(1, "child " + std::to_string(pid) + "\n");
    }
    write_str(1, "forked " + std::to_string(n) + "\n");
    sleep_forever();
  }
  if (mode == "fork-bomb") {
    const bool leave = a1 != nullptr && std::string_view(a1) == "setsid";
    if (a1 != nullptr && !leave) usage("fork-bomb [setsid]");
    ::signal(SIGCHLD, SIG_IGN);
    write_str(1, "storm\n");
    for (;;) {
      if (leave) ::setsid();
      ::fork();
    }
  }
  if (mode == "alloc-mb") {
    alloc_and_touch(parse_count(a1));
    write_str(1, "allocated\n");
    sleep_forever();
  }
  if (mode == "alloc-mb-exit") {
    char* p = alloc_and_touch(parse_count(a1));
    write_str(1, "allocated\n");
    std::free(p);
    return 0;
  }
  if (mode == "fork-alloc-mb") {
    unsigned long long n = parse_count(a1);
    pid_t pid = fork_or_die();
    if (pid == 0) {
      alloc_and_touch(n);
      sleep_forever();
    }
    write_str(1, "child " + std::to_string(pid) + "\n");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return 0;
  }
  if (mode == "escape") return escape(argc, argv);
  if (int code = run_handshake_mode(mode, argc, argv); code >= 0) return code;
  if (mode == "spin-cpu-ms") {
    const long long want_ns = static_cast<long long>(parse_count(a1)) * 1000000LL;
    volatile unsigned long long x = 0;
    for (;;) {
      timespec ts{};
      ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      if (ts.tv_sec * 1000000000LL + ts.tv_nsec >= want_ns) return 0;
      for (int i = 0; i < 10000; ++i) x = x + static_cast<unsigned long long>(i);
    }
  }
  if (mode == "log-interval") {
    const char* tag = argc > 4 ? argv[4] : nullptr;
    if (a1 == nullptr || tag == nullptr) usage("log-interval FILE MS TAG");
    const unsigned long long ms = parse_count(a2);
    const int fd = ::open(a1, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return 9;
    auto log = [&](const char* what) {
      timespec ts{};
      ::clock_gettime(CLOCK_MONOTONIC, &ts);
      write_str(fd, std::string(tag) + " " + what + " " +
                        std::to_string(ts.tv_sec * 1000000000LL + ts.tv_nsec) + "\n");
    };
    log("start");
    ::usleep(static_cast<useconds_t>(ms * 1000));
    log("end");
    ::close(fd);
    return 0;
  }
  usage("unknown mode");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("usage: bs_misbehave MODE [ARGS...]");
  return run_mode(argv[1], argc, argv);
}
