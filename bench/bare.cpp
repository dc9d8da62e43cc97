// The floors of bs_bench; see bare.hpp.
#include "bare.hpp"

#include <fcntl.h>
#include <linux/sched.h>  // struct clone_args, CLONE_INTO_CGROUP
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "bench_util.hpp"

extern char** environ;

// The library's clone trampolines (src/spawn/clone.S, built into bs_bench
// too): glibc has no clone3 wrapper, and a C function cannot run on a stack
// that clone3 changes under it.
extern "C" long bs_clone(unsigned long flags, void* stack_top, int* parent_tid, int (*fn)(void*), void* arg);
extern "C" long bs_clone3(void* args, unsigned long size, int (*fn)(void*), void* arg);

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

namespace {

// Reads both (blocking) pipes until EOF on each, with poll.
void drain_to_eof(int out, int err) {
  pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
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
}

}  // namespace

int bare_run_drain(const std::vector<std::string>& argv) {
  BareChild c = bare_spawn(argv, {});
  drain_to_eof(c.out, c.err);
  bare_close(c);
  return wait_status(c.pid);
}

namespace {

constexpr std::size_t kFloorStack = 65536;

// What a floor run's init and program share with us (CLONE_VM; the init
// writes `status` before it exits). They share our thread's errno too,
// which syscall() writes only when a call fails: not in a working run.
struct FloorRun {
  char* const* argv = nullptr;
  int out_w = -1, err_w = -1;
  int cgroup_dir = -1;  // -1: no cgroup
  char* program_stack = nullptr;
  int status = -1;
};

int floor_program(void* p) {
  auto* r = static_cast<FloorRun*>(p);
  if (r->cgroup_dir >= 0) ::syscall(SYS_unshare, CLONE_NEWCGROUP);  // as the library's cgroup run
  const long in = ::syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
  if (in < 0 || ::syscall(SYS_dup2, in, 0) != 0 || ::syscall(SYS_dup2, r->out_w, 1) != 1 ||
      ::syscall(SYS_dup2, r->err_w, 2) != 2)
    return 126;
  ::syscall(SYS_execve, r->argv[0], r->argv, environ);
  return 127;
}

int floor_init(void* p) {
  auto* r = static_cast<FloorRun*>(p);
  // Our copy of the mounts must not propagate back; then a fresh /proc.
  if (::syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return 1;
  if (::syscall(SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) return 2;
  long pid;
  if (r->cgroup_dir >= 0) {
    clone_args args{};
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.stack = reinterpret_cast<unsigned long>(r->program_stack);
    args.stack_size = kFloorStack;
    args.cgroup = static_cast<unsigned long>(r->cgroup_dir);
    pid = bs_clone3(&args, sizeof args, floor_program, r);
  } else {
    pid =
        bs_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, r->program_stack + kFloorStack, nullptr, floor_program, r);
  }
  if (pid < 0) return 3;
  ::syscall(SYS_close, r->out_w);
  ::syscall(SYS_close, r->err_w);
  for (;;) {  // reap until none is left (ECHILD; no handler of ours can interrupt)
    int status = 0;
    const long w = ::syscall(SYS_wait4, -1, &status, __WALL, nullptr);
    if (w < 0) break;
    if (w == pid) r->status = status;
  }
  return 0;
}

// Our cgroup v2 folder: /proc/self/cgroup's "0::" path under the cgroup2
// mount of /proc/self/mountinfo. Empty when there is none.
std::string own_cgroup_v2_dir() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return "";
  std::ifstream mi("/proc/self/mountinfo");
  while (std::getline(mi, line)) {
    const auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (root != "/" && path.rfind(root, 0) != 0) continue;
    return mount_point + (root == "/" ? path : path.substr(root.size()));
  }
  return "";
}

}  // namespace

struct BareContained::Slot {
  FloorRun run;
  std::string cgroup_name;
};

BareContained::BareContained(bool cgroup, int slots) : slot_count_(slots) {
  if (::geteuid() != 0) throw std::runtime_error("needs root (it maps no ids into a user namespace)");
  if (cgroup) {
    const std::string dir = own_cgroup_v2_dir();
    if (dir.empty()) throw std::runtime_error("no cgroup v2 folder of ours");
    cgroup_parent_ = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_parent_ < 0) throw std::runtime_error("cannot open " + dir);
  }
  // Only the pages the stacks touch are ever backed.
  stacks_ = ::mmap(nullptr, 2 * kFloorStack * static_cast<std::size_t>(slots), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stacks_ == MAP_FAILED) {
    if (cgroup_parent_ >= 0) ::close(cgroup_parent_);
    throw std::runtime_error("cannot map the stacks");
  }
  slots_ = new Slot[static_cast<std::size_t>(slots)];
}

BareContained::~BareContained() {
  delete[] slots_;
  ::munmap(stacks_, 2 * kFloorStack * static_cast<std::size_t>(slot_count_));
  if (cgroup_parent_ >= 0) ::close(cgroup_parent_);
}

BareChild BareContained::start(int slot, char* const* argv) {
  Slot& s = slots_[slot];
  FloorRun& r = s.run;
  r = FloorRun{};
  r.argv = argv;
  char* const stacks = static_cast<char*>(stacks_) + 2 * kFloorStack * static_cast<std::size_t>(slot);
  r.program_stack = stacks + kFloorStack;
  // Named as the library names its runs' cgroups, so that its clean-up of
  // dead processes' folders covers ours too; and locked as the library
  // locks them (a shared flock for the folder's life), so that the clean-up
  // of another process never removes one in use.
  auto remove_cgroup = [&] {
    if (r.cgroup_dir < 0) return;
    close_fd(r.cgroup_dir);
    ::unlinkat(cgroup_parent_, s.cgroup_name.c_str(), AT_REMOVEDIR);
  };
  while (cgroup_parent_ >= 0) {
    s.cgroup_name = "bounded_subprocess." + std::to_string(::getpid()) + ".floor" + std::to_string(++runs_);
    if (::mkdirat(cgroup_parent_, s.cgroup_name.c_str(), 0755) != 0)
      throw_errno(errno, "mkdir " + s.cgroup_name);
    r.cgroup_dir = ::openat(cgroup_parent_, s.cgroup_name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st {};
    if (r.cgroup_dir >= 0 && ::flock(r.cgroup_dir, LOCK_SH) == 0 &&
        ::fstatat(r.cgroup_dir, "cgroup.procs", &st, 0) == 0)
      break;
    const int e = errno;
    close_fd(r.cgroup_dir);
    if (e == ENOENT) continue;  // swept before or while it was locked: the next name
    ::unlinkat(cgroup_parent_, s.cgroup_name.c_str(), AT_REMOVEDIR);
    throw_errno(e, "open " + s.cgroup_name);
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  try {
    make_pipe(out, false);
    make_pipe(err, false);
  } catch (...) {
    for (int* fd : {&out[0], &out[1]}) close_fd(*fd);
    remove_cgroup();
    throw;
  }
  r.out_w = out[1];
  r.err_w = err[1];
  int pidfd = -1;
  const long init = bs_clone(CLONE_VM | CLONE_NEWPID | CLONE_NEWNS | CLONE_PIDFD | SIGCHLD,
                             stacks + kFloorStack, &pidfd, floor_init, &r);
  close_fd(out[1]);
  close_fd(err[1]);
  if (init < 0) {
    close_fd(out[0]);
    close_fd(err[0]);
    remove_cgroup();
    throw_errno(static_cast<int>(-init), "clone of the floor's init");
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  BareChild c;
  c.pid = static_cast<pid_t>(init);
  c.pidfd = pidfd;
  c.out = out[0];
  c.err = err[0];
  return c;
}

int BareContained::finish(int slot, BareChild& c) {
  Slot& s = slots_[slot];
  bare_close(c);
  const int init_status = wait_status(c.pid);
  if (s.run.cgroup_dir >= 0) {
    close_fd(s.run.cgroup_dir);
    if (::unlinkat(cgroup_parent_, s.cgroup_name.c_str(), AT_REMOVEDIR) != 0)
      throw_errno(errno, "rmdir " + s.cgroup_name);
  }
  if (!WIFEXITED(init_status) || WEXITSTATUS(init_status) != 0)
    throw std::runtime_error("the floor's init failed: status " + std::to_string(init_status));
  return s.run.status;
}

int BareContained::run_drain(char* const* argv) {
  BareChild c = start(0, argv);
  // The init holds the write ends until the program has them: EOF on both
  // means the program is gone (or never started).
  drain_to_eof(c.out, c.err);
  return finish(0, c);
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

namespace {

// Starts `n` children with `start(i)` (pipes + pidfd, O_NONBLOCK), then one
// epoll loop drains the pipes and, when a child's pidfd fires, drains what
// is left and calls `finish(i, child)`, which closes and reaps (and must not
// throw: it also ends the children started before a `start` that threw).
// Returns the wall time in milliseconds from the first start to the last
// finish.
double many_ms(int n, const std::function<BareChild(int)>& start,
               const std::function<void(int, BareChild&)>& finish) {
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
  auto remove = [&](int& fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    owner.erase(fd);
    close_fd(fd);
  };
  try {
    for (int i = 0; i < n; ++i) {
      kids.push_back(start(i));
      const std::size_t idx = kids.size() - 1;
      add(kids[idx].pidfd, idx);
      add(kids[idx].out, idx);
      add(kids[idx].err, idx);
    }
  } catch (...) {
    for (std::size_t i = 0; i < kids.size(); ++i) {  // leave nothing behind
      ::kill(kids[i].pid, SIGKILL);
      finish(static_cast<int>(i), kids[i]);
    }
    ::close(ep);
    throw;
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
      const auto it = owner.find(fd);
      if (it == owner.end()) continue;
      const std::size_t idx = it->second;  // `it` goes with the erases below
      BareChild& c = kids[idx];
      if (fd == c.pidfd) {
        // Exited: read what is left in its pipes, then reap and close all.
        for (int* f : {&c.out, &c.err}) {
          if (*f < 0) continue;
          drain_some(*f);
          remove(*f);
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, c.pidfd, nullptr);
        owner.erase(c.pidfd);
        finish(static_cast<int>(idx), c);
        --left;
      } else if (!drain_some(fd)) {
        remove(fd == c.out ? c.out : c.err);
      }
    }
  }
  const double ms = ms_since(t0);
  ::close(ep);
  return ms;
}

}  // namespace

double bare_many_ms(const std::vector<std::string>& argv, int n) {
  return many_ms(
      n, [&](int) { return bare_spawn(argv, {.pidfd = true, .nonblocking = true}); },
      [](int, BareChild& c) {
        bare_close(c);
        wait_status(c.pid);
      });
}

double bare_many_contained_ms(BareContained& bare, char* const* argv, int n) {
  return many_ms(
      n, [&](int i) { return bare.start(i, argv); },
      [&](int i, BareChild& c) {
        try {
          const int status = bare.finish(i, c);
          if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail("a contained floor run failed: status " + std::to_string(status));
        } catch (const std::exception& e) {
          fail(std::string("a contained floor run failed: ") + e.what());
        }
      });
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

BusyLoops::BusyLoops(long n) {
  for (long i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      volatile unsigned long x = 0;
      for (;;) x = x + 1;
    }
    if (pid > 0) pids_.push_back(pid);
  }
}

BusyLoops::~BusyLoops() {
  for (pid_t pid : pids_) ::kill(pid, SIGKILL);
  for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
}

}  // namespace bsbench
