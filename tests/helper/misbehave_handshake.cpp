// The modes of bs_misbehave that order their steps through handshake
// files, or that wait on the state of their stdin, and the children that
// only a kill ends (see the list of modes at the top of misbehave.cpp).
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "misbehave_io.hpp"

namespace bs_misbehave {

namespace {

// Creates `path` holding `text`, atomically (a temporary file, renamed).
void put_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) std::_Exit(9);
  std::fputs(text.c_str(), f);
  if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) std::_Exit(9);
}

// Waits (checking every millisecond) until `path` exists.
void wait_for_file(const std::string& path) {
  struct stat st;
  while (::stat(path.c_str(), &st) != 0) sleep_ms(1);
}

void ignore_signals() {
  for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGPIPE}) ::signal(sig, SIG_IGN);
}

}  // namespace

int run_handshake_mode(std::string_view mode, int argc, char** argv) {
  const char* a1 = argc > 2 ? argv[2] : nullptr;
  const char* a2 = argc > 3 ? argv[3] : nullptr;
  if (mode == "read-stdin-late") {
    pollfd p{0, 0, 0};  // no events asked: only POLLHUP (the writer closed) wakes it
    const auto ms = parse_count(a1);
    while (::poll(&p, 1, static_cast<int>(ms)) < 0 && errno == EINTR) {
    }
    write_str(1, std::to_string(count_stdin()) + "\n");
    return 0;
  }
  if (mode == "echo-ignore-eof") {
    ignore_signals();
    pid_t pid = fork_or_die();
    if (pid == 0) sleep_forever();
    write_str(1, "grandchild " + std::to_string(pid) + "\n");
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      (void)!::write(1, buf, static_cast<std::size_t>(n));  // EPIPE is ignored too
    }
    sleep_forever();
  }
  if (mode == "out-close-sleep") {
    flood(1, parse_count(a1));
    flood(2, parse_count(a1));
    ::close(1);
    ::close(2);
    sleep_ms(parse_count(a2));
    return 0;
  }
  if (mode == "exit-then-grandchild-writes") {
    if (a1 == nullptr) usage("exit-then-grandchild-writes DIR N [announce]");
    const std::string dir = a1;
    const unsigned long long n = parse_count(a2);
    const bool announce = argc > 4 && std::string_view(argv[4]) == "announce";
    put_file(dir + "/pid", std::to_string(::getpid()) + "\n");
    if (fork_or_die() == 0) {
      wait_for_file(dir + "/write");
      flood(1, n);
      flood(2, n);
      put_file(dir + "/written", std::to_string(::getpid()) + "\n");
      sleep_forever();
    }
    if (announce) write_str(1, "pid " + std::to_string(::getpid()) + "\n");
    wait_for_file(dir + "/exit");
    return 0;
  }
  return -1;
}

}  // namespace bs_misbehave
