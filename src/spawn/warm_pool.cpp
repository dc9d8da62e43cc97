// The pool of warm sandboxes (see warm_pool.hpp).
#include "spawn/warm_pool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spawn/isolation.hpp"
#include "spawn/launch.hpp"
#include "spawn/machine.hpp"
#include "spawn/mount_views.hpp"
#include "spawn/raw_syscall.hpp"

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kMaxIdle = 8;
constexpr long long kIdleMs = 10'000;
constexpr int kMaxDeclines = 3;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kStack = 64 * 1024;
constexpr std::size_t kRegion = kPage + kStack + kPage;  // guard, stack, plan (and its cgroup's name)
static_assert(sizeof(InitPlan) + 256 <= kPage);

long long now_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A retired sandbox's init, killed, to be reaped (it is our child) before
// its stack goes and its cgroup is removed (empty once the init is gone:
// the kernel ends every process of the namespace before its init).
struct Dying {
  pid_t pid;
  int pidfd;
  void* stack;
  int cgroup_dir;           ///< -1: none; held (its lock) until removed
  std::string cgroup_name;  ///< under the machine's cgroup parent
};

struct Pool {
  std::mutex mu;
  std::vector<WarmSandbox*> idle;
  std::vector<Dying> dying;
  pid_t owner = ::getpid();
  std::size_t leased = 0;  ///< sandboxes of this pool in use by a run
  bool ran_cold = false;   ///< the process's first run went cold
  int declines = 0;
  bool off = false;
  /// One inotify instance for the cgroups of all the pool's sandboxes (a
  /// user has 128 instances in all), and whose each watch is.
  int watch_fd = -1;
  std::vector<WarmSandbox*> watched;
};

std::atomic<Pool*> the_pool{nullptr};

bool owned_here(const WarmSandbox* s) noexcept {
  return s->pid > 0 && s->stack != nullptr && ::getpid() == s->owner;
}

// Our copies of a sandbox that belongs to another process (we are a child
// of fork): closed, never signalled, never used.
void drop_foreign(WarmSandbox* s) noexcept {
  delete s;  // closes our copies; the folder's lock stays with the parent's
}

// In the child of fork(), single-threaded: the parent's sandboxes are not
// ours. The lock may have been held by a thread that does not exist here.
void forget_after_fork() noexcept {
  Pool* p = the_pool.load();
  if (p == nullptr) return;
  new (&p->mu) std::mutex;
  for (WarmSandbox* s : p->idle) drop_foreign(s);
  p->idle.clear();
  for (const Dying& d : p->dying) {
    ::close(d.pidfd);
    if (d.cgroup_dir >= 0) ::close(d.cgroup_dir);
  }
  p->dying.clear();
  p->watched.clear();  // the leased ones are dropped when their runs end
  if (p->watch_fd >= 0) ::close(std::exchange(p->watch_fd, -1));
  p->leased = 0;
  p->owner = ::getpid();
}

Pool& pool() {
  Pool* p = the_pool.load(std::memory_order_acquire);
  if (p != nullptr && p->owner == ::getpid()) return *p;
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, forget_after_fork); });
  // First use, or a child of a fork that bypassed pthread_atfork (a raw
  // clone): a pool of its own; the old one is not touched (its lock may be
  // held by a thread that does not exist here).
  auto* fresh = new Pool;
  Pool* expected = p;
  if (the_pool.compare_exchange_strong(expected, fresh)) return *fresh;
  delete fresh;
  return *expected;
}

// Removes a cgroup folder and any its runs made in it (empty ones: the
// kernel refuses the others, which the next process's sweep takes once
// their lock is gone). Best effort.
void remove_cgroup_tree(int parent_fd, const char* name, int depth = 0) noexcept {
  if (::unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno != EBUSY || depth > 8) return;
  const int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      remove_cgroup_tree(fd, e->d_name, depth + 1);
  }
  ::closedir(dir);
  ::unlinkat(parent_fd, name, AT_REMOVEDIR);
}

// The init is reaped: its stack and its cgroup go.
void bury(const Dying& d) noexcept {
  ::close(d.pidfd);
  ::munmap(d.stack, kRegion);
  if (d.cgroup_dir >= 0) {
    const int parent = machine().cgroup_parent_fd.load();
    if (parent >= 0) remove_cgroup_tree(parent, d.cgroup_name.c_str());
    ::close(d.cgroup_dir);
  }
}

void reap_dying(Pool& p) noexcept {
  for (std::size_t i = 0; i < p.dying.size();) {
    siginfo_t info{};
    const pid_t pid = p.dying[i].pid;
    const int r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | __WALL);
    // ECHILD: the host reaped it itself (a waitpid(-1) of its own).
    if ((r == 0 && info.si_pid == pid) || (r != 0 && errno == ECHILD)) {
      bury(p.dying[i]);
      p.dying[i] = std::move(p.dying.back());
      p.dying.pop_back();
    } else {
      ++i;
    }
  }
}

// Names of the cgroup files whose inotify events are no setting of a run:
// the kernel's notifications (*.events, *.events.local) and the files
// whose writes leave nothing (cgroup.kill; cgroup.procs and
// cgroup.threads move a process in, which the run's end kills).
bool harmless_cgroup_event(const char* name) noexcept {
  const std::string_view n = name;
  auto ends_with = [&](std::string_view tail) {
    return n.size() >= tail.size() && n.substr(n.size() - tail.size()) == tail;
  };
  return ends_with(".events") || ends_with(".events.local") || n == "cgroup.kill" || n == "cgroup.procs" ||
         n == "cgroup.threads";
}

// Reads the pool's inotify events and marks the sandboxes whose cgroup
// changed (a write to one of its files, a folder made in it, its attributes
// or itself gone; a lost event marks them all).
void read_cgroup_events(Pool& p) noexcept {
  if (p.watch_fd < 0) return;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    const ssize_t n = ::read(p.watch_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      const bool harmless =
          (e->mask & ~(IN_MODIFY | IN_ISDIR)) == 0 && e->len > 0 && harmless_cgroup_event(e->name);
      if (harmless) continue;
      for (WarmSandbox* s : p.watched)
        if ((e->mask & IN_Q_OVERFLOW) != 0 || s->cgroup_watch == e->wd) s->cgroup_changed = true;
    }
  }
}

// Watches a new sandbox's cgroup (false: it cannot be watched, and is not
// used as one).
bool watch_cgroup(Pool& p, WarmSandbox& s) noexcept {
  if (p.watch_fd < 0) return false;
  try {
    p.watched.reserve(p.watched.size() + 1);
    const std::string path = machine().cgroup_parent + "/" + s.cgroup_name;
    s.cgroup_watch = ::inotify_add_watch(p.watch_fd, path.c_str(),
                                         IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                             IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
  } catch (...) {
    return false;
  }
  if (s.cgroup_watch < 0) return false;
  p.watched.push_back(&s);
  return true;
}

void retire_locked(Pool& p, WarmSandbox* s) noexcept {
  // SIGKILL ends its namespace: the kernel kills whatever is in it. Nobody
  // waits for that here; the zombie is reaped at a later use of the pool.
  ::syscall(SYS_pidfd_send_signal, s->pidfd.get(), SIGKILL, nullptr, 0);
  if (s->cgroup_watch >= 0) {
    ::inotify_rm_watch(p.watch_fd, s->cgroup_watch);
    for (WarmSandbox*& w : p.watched)
      if (w == s) {
        w = p.watched.back();
        p.watched.pop_back();
        break;
      }
    // No sandbox left to watch: the pool holds no fd (made again when needed).
    if (p.watched.empty()) ::close(std::exchange(p.watch_fd, -1));
  }
  Dying d{s->pid, s->pidfd.release(), s->stack, s->cgroup_dir.release(), {}};
  try {
    d.cgroup_name = std::move(s->cgroup_name);
    p.dying.push_back(std::move(d));
  } catch (...) {
    // Out of memory: wait for it now rather than leak it.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(d.pid), &info, WEXITED | __WALL) != 0 && errno == EINTR) {
    }
    bury(d);
  }
  delete s;
}

// poll(2) of `fd` for `events`, without waiting: 1 (one of them, or an
// error condition), 0, or -1 when poll failed.
int poll_now(int fd, short events) noexcept {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r;
}

bool is_readable_now(int fd, short events) noexcept {
  return poll_now(fd, events) > 0;
}

// The folder of a new sandbox's cgroup, locked; removed unless released.
struct SandboxCgroup {
  int parent = -1;
  int dir = -1;
  std::string name;
  ~SandboxCgroup() {
    if (dir < 0) return;
    ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
    ::close(dir);
  }
  void make(const Machine& m) noexcept {
    parent = m.cgroup_parent_fd.load();
    if (parent < 0) return;
    try {
      dir = create_locked_cgroup(parent, "bounded_subprocess." + std::to_string(::getpid()) + ".", name);
    } catch (...) {
      dir = -1;
    }
  }
};

// A new sandbox: its init cloned into new PID, mount (and user) namespaces,
// set up, and ready; with a cgroup of its own when asked and possible.
// nullptr when that fails (nothing is left).
WarmSandbox* make_sandbox(Pool& p, const Machine& m, bool with_cgroup) noexcept {
  SandboxCgroup cgroup;
  if (with_cgroup) cgroup.make(m);
  void* mem = ::mmap(nullptr, kRegion, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  char* base = static_cast<char*>(mem);
  // A guard page below the stack. MADV_GUARD_INSTALL (Linux 6.13) keeps the
  // region one mapping that merges with its neighbours (every exit of a
  // process that shares our memory walks our mappings); else mprotect.
  constexpr int kMadvGuardInstall = 102;
  if (::madvise(base, kPage, kMadvGuardInstall) != 0) ::mprotect(base, kPage, PROT_NONE);
  auto* plan = new (base + kPage + kStack) InitPlan;
  plan->kind = InitKind::warm_sandbox;
  plan->reset_signals = SignalReset::all;
  plan->proc_fd = m.proc_fd;
  plan->map_ids = m.user_namespace;
  plan->uid = ::geteuid();
  plan->gid = ::getegid();
  plan->mount_proc = true;
  UniqueFd watch_copy;
  if (cgroup.dir >= 0) {
    // The init holds a copy of the pool's inotify fd (see InitPlan), made
    // now if there is none.
    {
      std::lock_guard lock(p.mu);
      if (p.watch_fd < 0) p.watch_fd = keep_above_stdio(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
      if (p.watch_fd >= 0) watch_copy = UniqueFd(::fcntl(p.watch_fd, F_DUPFD_CLOEXEC, 3));  // above 2
    }
    plan->warm_keep_fd = watch_copy.get();
    // Its init removes it once the host is gone (the host does otherwise).
    char* name = base + kPage + kStack + sizeof(InitPlan);
    std::memcpy(name, cgroup.name.c_str(), cgroup.name.size() + 1);
    plan->cgroup_dir_fd = cgroup.dir;
    plan->cgroup_parent_fd = cgroup.parent;
    plan->cgroup_name = name;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    ::munmap(mem, kRegion);
    return nullptr;
  }
  const int host_end = keep_above_stdio(pair[0]);
  const int init_end = keep_above_stdio(pair[1]);
  if (host_end < 0 || init_end < 0) {
    if (host_end >= 0) ::close(host_end);
    if (init_end >= 0) ::close(init_end);
    ::munmap(mem, kRegion);
    return nullptr;
  }
  plan->channel_fd = init_end;
  int pidfd = -1;
  long pid;
  {
    // Every signal blocked while the clone starts (it must not run a host
    // handler); the init keeps them blocked and reads SIGCHLD from a
    // signalfd. No exit signal: see Child::spawn.
    const unsigned long all = ~0UL;
    unsigned long old = 0;
    raw::call(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof old);
    pid = bs_clone(init_clone_flags(Containment::pid_namespace, m) | CLONE_PIDFD, base + kPage + kStack,
                   &pidfd, bs_run_init, plan);
    raw::call(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof old);
  }
  ::close(init_end);
  watch_copy.reset();  // the init has its own
  if (pid < 0) {
    ::close(host_end);
    ::munmap(mem, kRegion);
    return nullptr;
  }
  auto fail = [&]() -> WarmSandbox* {
    ::close(host_end);
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | __WALL) != 0 && errno == EINTR) {
    }
    ::close(pidfd);
    ::munmap(mem, kRegion);
    return nullptr;
  };
  char ready = 0;
  ssize_t n;
  do {
    n = ::recv(host_end, &ready, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || ready != kWarmReady) return fail();
  // Opened once its /proc is mounted: POLLPRI from now on means a change.
  const std::string mounts_path = std::to_string(pid) + "/mounts";
  const int mounts = keep_above_stdio(::openat(m.proc_fd, mounts_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (mounts < 0) return fail();
  auto* s = new (std::nothrow) WarmSandbox;
  if (s == nullptr) {
    ::close(mounts);
    return fail();
  }
  s->pid = static_cast<pid_t>(pid);
  s->owner = ::getpid();
  s->pidfd = UniqueFd(keep_above_stdio(pidfd));
  s->channel = UniqueFd(host_end);
  s->mounts = UniqueFd(mounts);
  s->stack = mem;
  s->setns_flags = CLONE_NEWPID | CLONE_NEWNS | (m.user_namespace ? CLONE_NEWUSER : 0UL);
  if (!m.user_namespace) {
    // Its /proc, through its init's root (in its mount namespace).
    const std::string proc_path = std::to_string(pid) + "/root/proc";
    s->proc = UniqueFd(
        keep_above_stdio(::openat(m.proc_fd, proc_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
  }
  if (cgroup.dir >= 0) {
    // Used only when it can be watched and counted; else each of its runs
    // makes a folder of its own (the init then removes an empty one at its
    // end).
    UniqueFd procs(keep_above_stdio(::openat(cgroup.dir, "cgroup.procs", O_RDONLY | O_CLOEXEC)));
    UniqueFd events(keep_above_stdio(::openat(cgroup.dir, "cgroup.events", O_RDONLY | O_CLOEXEC)));
    try {
      if (procs && events) {
        s->cgroup_events = std::move(events);
        s->cgroup_name = cgroup.name;
        s->cgroup_procs = std::make_shared<const UniqueFd>(std::move(procs));
      }
    } catch (...) {
      s->cgroup_procs.reset();
    }
    std::lock_guard lock(p.mu);
    if (s->cgroup_procs && watch_cgroup(p, *s)) {
      s->cgroup_dir = UniqueFd(std::exchange(cgroup.dir, -1));
    } else {
      s->cgroup_procs.reset();
      s->cgroup_events.reset();
      s->cgroup_name.clear();
    }
  }
  return s;
}

bool reuse_wanted() noexcept {
  static const bool wanted = [] {
    const char* v = std::getenv("BOUNDED_SUBPROCESS_WARM");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return wanted;
}

}  // namespace

bool mounts_changed(int mounts_fd) noexcept {
  return poll_now(mounts_fd, POLLPRI) != 0;  // a change, or poll failed: not to be trusted either way
}

bool warm_sandboxes_enabled(const Machine& m) noexcept {
  if (!reuse_wanted() || !m.available[static_cast<int>(Containment::pid_namespace)] || !m.mount_proc)
    return false;
  const Pool* p = the_pool.load(std::memory_order_acquire);
  return p == nullptr || p->owner != ::getpid() || !p->off;
}

WarmSandbox* warm_acquire(const Machine& m, bool with_cgroup) noexcept {
  try {
    Pool& p = pool();
    {
      std::lock_guard lock(p.mu);
      if (p.off) return nullptr;
      reap_dying(p);
      const long long now = now_ms();
      // Shrink: the ones idle too long go (the oldest are at the front).
      while (!p.idle.empty() && now - p.idle.front()->idle_since_ms > kIdleMs) {
        retire_locked(p, p.idle.front());
        p.idle.erase(p.idle.begin());
      }
      for (;;) {
        // The most recently used one; for a cgroup run, one with a cgroup
        // (any serves a pid_namespace run).
        auto pick = p.idle.end();
        for (auto it = p.idle.rbegin(); it != p.idle.rend(); ++it)
          if (!with_cgroup || (*it)->cgroup_dir) {
            pick = std::next(it).base();
            break;
          }
        if (pick == p.idle.end()) break;
        WarmSandbox* s = *pick;
        p.idle.erase(pick);
        // Its init died meanwhile (killed from outside): not usable.
        if (!is_readable_now(s->pidfd.get(), POLLIN)) {
          ++p.leased;
          return s;
        }
        retire_locked(p, s);
      }
      // As many sandboxes as the pool keeps are in use: this run goes cold
      // (a namespace of its own, as with reuse off). A new sandbox and its
      // shepherd cost more than one per-run init, and one made beyond what
      // the pool keeps would be retired at the run's end: a burst of
      // concurrent runs would pay both for nothing.
      if (p.leased >= kMaxIdle) return nullptr;
      // The first run of a process goes cold too: a process that makes one
      // run (bounded-run, a script) pays no more than a namespace of its
      // own, and leaves no sandbox behind to end after it exits.
      if (!p.ran_cold) {
        p.ran_cold = true;
        return nullptr;
      }
      // A cgroup run found only sandboxes without one: a new one takes the
      // place of the oldest when the pool is full.
      if (!p.idle.empty() && p.idle.size() + p.leased >= kMaxIdle) {
        retire_locked(p, p.idle.front());
        p.idle.erase(p.idle.begin());
      }
      ++p.leased;  // counted before it is made: concurrent callers see it
    }
    WarmSandbox* s = make_sandbox(p, m, with_cgroup);
    if (s == nullptr) {
      std::lock_guard lock(p.mu);
      --p.leased;
      p.off = true;  // this process cannot make them: do not pay for trying again
    }
    return s;
  } catch (...) {
    return nullptr;
  }
}

void warm_release(WarmSandbox* s) noexcept {
  if (s == nullptr) return;
  if (!owned_here(s)) return drop_foreign(s);
  Pool& p = *the_pool.load();
  // A mount made or removed in its namespace (by a run with the
  // privileges to, or propagated from the host): not the same sandbox.
  bool changed = mounts_changed(s->mounts.get());
  std::lock_guard lock(p.mu);
  if (p.leased > 0) --p.leased;
  // A setting of the run in its cgroup: not the same cgroup.
  read_cgroup_events(p);
  changed = changed || s->cgroup_changed;
  if (changed || p.off || p.idle.size() >= kMaxIdle) {
    retire_locked(p, s);
  } else {
    s->idle_since_ms = now_ms();
    try {
      p.idle.push_back(s);
    } catch (...) {
      retire_locked(p, s);
    }
  }
  reap_dying(p);
}

void warm_retire(WarmSandbox* s) noexcept {
  if (s == nullptr) return;
  if (!owned_here(s)) return drop_foreign(s);
  Pool& p = *the_pool.load();
  std::lock_guard lock(p.mu);
  if (p.leased > 0) --p.leased;
  retire_locked(p, s);
  reap_dying(p);
}

void warm_declined() noexcept {
  try {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    if (++p.declines >= kMaxDeclines) p.off = true;
  } catch (...) {
  }
}

void warm_drop_idle() noexcept {
  Pool* p = the_pool.load(std::memory_order_acquire);
  if (p == nullptr || p->owner != ::getpid()) return;
  std::unique_lock lock(p->mu);
  for (WarmSandbox* s : p->idle) retire_locked(*p, s);
  p->idle.clear();
  for (const Dying& d : p->dying) {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(d.pid), &info, WEXITED | __WALL) != 0 && errno == EINTR) {
    }
    bury(d);
  }
  p->dying.clear();
  lock.unlock();
  settle_mount_views();  // the views of the sandboxes retired here
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

void drop_warm_sandboxes() noexcept {
  detail::warm_drop_idle();
  detail::drop_idle_v1_cgroups();
}

}  // namespace bounded_subprocess
