// The floors of bs_bench; see bare.hpp.
#include "bare.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "bench_util.hpp"

extern char** environ;

namespace bsbench {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

void make_pipe(int fds[2], bool nonblocking) {
  if (pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) != 0) throw_errno(errno, "pipe2");
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads what is there; returns false at EOF (or a hard error).
bool drain_some(int fd) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (static_cast<std::size_t>(n) < sizeof buf) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno(errno, "waitpid");
  }
  return status;
}

}  // namespace

BareChild bare_spawn(const std::vector<std::string>& argv, const BareSpawn& how) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (how.stdin_pipe) {
    make_pipe(in, false);  // the child's end must be blocking
    if (how.nonblocking) fcntl(in[1], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (how.out_pipes) {
    make_pipe(out, false);
    make_pipe(err, false);
    if (how.nonblocking) {
      fcntl(out[0], F_SETFL, O_NONBLOCK);
      fcntl(err[0], F_SETFL, O_NONBLOCK);
    }
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (how.setsid) posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  if (rc != 0) {
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
    throw_errno(rc, "posix_spawnp " + argv[0]);
  }
  BareChild c;
  c.pid = pid;
  c.in = in[1];
  c.out = out[0];
  c.err = err[0];
  if (how.pidfd) {
    // glibc 2.36's <sys/pidfd.h> lacks extern "C"; use the system call.
    c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (c.pidfd < 0) {
      const int e = errno;
      ::kill(pid, SIGKILL);
      wait_status(pid);
      bare_close(c);
      throw_errno(e, "pidfd_open");
    }
    fcntl(c.pidfd, F_SETFD, FD_CLOEXEC);
  }
  return c;
}

void bare_close(BareChild& c) {
  close_fd(c.pidfd);
  close_fd(c.in);
  close_fd(c.out);
  close_fd(c.err);
}

int bare_run_drain(const std::vector<std::string>& argv) {
  BareChild c = bare_spawn(argv, {});
  pollfd fds[2] = {{c.out, POLLIN, 0}, {c.err, POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "poll");
    }
    for (auto& p : fds) {
      if (p.fd >= 0 && p.revents != 0 && !drain_some(p.fd)) {
        p.fd = -1;
        --open;
      }
    }
  }
  bare_close(c);
  return wait_status(c.pid);
}

double bare_timeout_late_ms(const std::vector<std::string>& argv, double timeout_s) {
  const auto t0 = Clock::now();
  const auto deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  BareChild c = bare_spawn(argv, {.pidfd = true, .nonblocking = true});
  pollfd fds[3] = {{c.pidfd, POLLIN, 0}, {c.out, POLLIN, 0}, {c.err, POLLIN, 0}};
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    timespec ts{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
    const int n = ::ppoll(fds, 3, &ts, nullptr);
    if (n < 0 && errno != EINTR) throw_errno(errno, "ppoll");
    if (n > 0 && fds[0].revents != 0) break;  // exited early
    for (int i = 1; i < 3; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents != 0 && !drain_some(fds[i].fd)) fds[i].fd = -1;
    }
  }
  ::kill(-c.pid, SIGKILL);  // the group, as the library does
  wait_status(c.pid);
  bare_close(c);
  return std::chrono::duration<double, std::milli>(Clock::now() - deadline).count();
}

double bare_many_ms(const std::vector<std::string>& argv, int n) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw_errno(errno, "epoll_create1");
  // Each registered fd maps to the index of its child; pidfd events reap.
  std::vector<BareChild> kids;
  kids.reserve(static_cast<std::size_t>(n));
  std::unordered_map<int, std::size_t> owner;
  const auto t0 = Clock::now();
  auto add = [&](int fd, std::size_t idx) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    owner[fd] = idx;
  };
  for (int i = 0; i < n; ++i) {
    kids.push_back(bare_spawn(argv, {.pidfd = true, .nonblocking = true}));
    const std::size_t idx = kids.size() - 1;
    add(kids[idx].pidfd, idx);
    add(kids[idx].out, idx);
    add(kids[idx].err, idx);
  }
  int left = n;
  epoll_event evs[256];
  while (left > 0) {
    const int k = epoll_wait(ep, evs, 256, -1);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "epoll_wait");
    }
    for (int i = 0; i < k; ++i) {
      const int fd = evs[i].data.fd;
      auto it = owner.find(fd);
      if (it == owner.end()) continue;
      BareChild& c = kids[it->second];
      if (fd == c.pidfd) {
        // Exited: read what is left in its pipes, then reap and close all.
        if (c.out >= 0) drain_some(c.out);
        if (c.err >= 0) drain_some(c.err);
        for (int* f : {&c.pidfd, &c.out, &c.err}) {
          if (*f >= 0) {
            epoll_ctl(ep, EPOLL_CTL_DEL, *f, nullptr);
            owner.erase(*f);
            close_fd(*f);
          }
        }
        wait_status(c.pid);
        --left;
      } else if (!drain_some(fd)) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        owner.erase(fd);
        close_fd(fd == c.out ? c.out : c.err);
      }
    }
  }
  const double ms = ms_since(t0);
  ::close(ep);
  return ms;
}

BareCat::BareCat() {
  child_ = bare_spawn({"cat"}, {.stdin_pipe = true, .out_pipes = true});
}

BareCat::~BareCat() {
  bare_close(child_);  // cat sees EOF and exits
  wait_status(child_.pid);
}

bool BareCat::round_trip(const std::string& line) {
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(child_.in, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  char buf[4096];
  for (;;) {
    const auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      const bool ok = pending_.compare(0, nl + 1, line) == 0;
      pending_.erase(0, nl + 1);
      return ok;
    }
    const ssize_t n = ::read(child_.out, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace bsbench
