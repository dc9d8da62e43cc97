// Killing a tree of processes by walking /proc (see tree_kill.hpp).
// Freestanding, like launch.cpp: the init runs it on its own small stack.
//
// Why a walk of the whole tree: a subreaper that kills only its own
// children races a fork storm, since the grandchildren (not yet killed)
// fork into the slots the killed ones free and become its children only
// when their parents are gone; a storm under RLIMIT_NPROC outlived its
// deadline by two minutes that way. Killing each process before listing
// its children ends that race: a process with a SIGKILL pending cannot
// fork (the kernel checks under the lock that adds the child to the list),
// so once every process of the tree has been killed after being found,
// nothing is left that can add to it.
#include "spawn/tree_kill.hpp"

#include <errno.h>  // the E* constants only
#include <fcntl.h>
#include <linux/stat.h>  // struct statx
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "spawn/raw_syscall.hpp"

namespace bounded_subprocess::detail {

namespace {

using raw::call;
using raw::Dirent64;
using raw::put_decimal;

// Processes queued at once: a walk maps room for kMaxPinned (a storm's
// first process can have thousands of children, all queued by one
// listing), else it uses kFewPinned on the caller's stack. A process that
// finds the queue full is signalled but not walked: its children wait for
// a later sweep.
constexpr long kMaxPinned = 1L << 16;
constexpr long kFewPinned = 256;

char* put_text(char* out, const char* text) {
  while (*text != '\0') *out++ = *text++;
  return out;
}

struct Pinned {
  int pidfd;
  int pid;
};

class Walk {
 public:
  Walk(int proc_fd, TreeSignal how, KilledFn killed = nullptr, void* context = nullptr)
      : proc_fd_(proc_fd), how_(how), killed_(killed), context_(context) {
    const long mapped = call(SYS_mmap, nullptr, kMaxPinned * sizeof(Pinned), PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped < 0 && mapped > -4096) return;
    stack_ = reinterpret_cast<Pinned*>(mapped);
    capacity_ = kMaxPinned;
  }
  // The init shares the host's memory: what it maps, it unmaps.
  ~Walk() {
    if (stack_ != few_) call(SYS_munmap, stack_, kMaxPinned * sizeof(Pinned));
  }
  Walk(const Walk&) = delete;
  Walk& operator=(const Walk&) = delete;

  // A process of the tree, found in a listing: pin it, kill it, and queue it
  // for the listing of its own children.
  void found(int pid) {
    const long fd = call(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
      // Gone already (its children, if any, moved to a subreaper), or no fd
      // left: signal it by pid, at once (the listing is microseconds old).
      if (fd != -ESRCH) call(SYS_kill, pid, is_stop() ? SIGSTOP : SIGKILL);
      result.complete = false;
      return;
    }
    pinned(static_cast<int>(fd), pid);
  }

  void kill(int pidfd) {
    if (call(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0) {
      ++result.killed;
      if (killed_ != nullptr) killed_(context_, pidfd);
    }
  }

  // Signals the process of `pidfd` (but for kill_frozen) and queues it.
  void pinned(int pidfd, int pid) {
    if (is_stop()) {
      call(SYS_pidfd_send_signal, pidfd, SIGSTOP, nullptr, 0);
    } else if (how_ == TreeSignal::kill) {
      kill(pidfd);
    }
    if (depth_ == capacity_) {
      if (how_ == TreeSignal::kill_frozen) kill(pidfd);
      // Its children become the subreaper's once it is gone: a later sweep.
      call(SYS_close, pidfd);
      result.complete = false;
      return;
    }
    stack_[depth_++] = {pidfd, pid};
  }

  // Lists `path` (a children file, relative to proc_fd), calling found()
  // for each pid in it. False when it cannot be opened.
  bool list(const char* path) {
    const long fd = call(SYS_openat, proc_fd_, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[2048];
    long pid = 0;
    bool digits = false;
    for (;;) {
      const long n = call(SYS_read, fd, buf, sizeof buf);
      if (n == -EINTR) continue;
      if (n < 0) result.complete = false;
      if (n <= 0) break;
      const bool last = n < static_cast<long>(sizeof buf);  // a seq_file fills what it can
      for (long i = 0; i < n; ++i) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          if (pid < (1L << 31)) pid = pid * 10 + (buf[i] - '0');
          digits = true;
        } else if (digits) {
          found(static_cast<int>(pid));
          pid = 0;
          digits = false;
        }
      }
      if (last) break;
    }
    if (digits) found(static_cast<int>(pid));
    call(SYS_close, fd);
    return true;
  }

  // The children of every thread of `pid` (killed already). The task
  // folder's link count (2 + its threads) spares a listing of it for the
  // usual process of one thread.
  void list_children_of(int pid) {
    char dir[64];
    char* end = put_text(put_decimal(dir, static_cast<unsigned long>(pid)), "/task");
    *end = '\0';
    struct statx sx;
    if (call(SYS_statx, proc_fd_, dir, AT_STATX_DONT_SYNC, STATX_NLINK, &sx) < 0) {
      result.complete = false;  // gone: its children moved
      return;
    }
    if (sx.stx_nlink == 3) {
      *put_text(put_decimal(put_text(end, "/"), static_cast<unsigned long>(pid)), "/children") = '\0';
      if (!list(dir)) result.complete = false;
      return;
    }
    const long fd = call(SYS_openat, proc_fd_, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      result.complete = false;  // gone: its children moved
      return;
    }
    int threads = 0;
    alignas(8) char buf[1024];
    for (;;) {
      const long n = call(SYS_getdents64, fd, buf, sizeof buf);
      if (n == -EINTR) continue;
      if (n < 0) result.complete = false;
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        const auto* entry = reinterpret_cast<const Dirent64*>(buf + at);
        at += entry->reclen;
        if (entry->name[0] < '0' || entry->name[0] > '9') continue;
        ++threads;
        char path[96];
        char* tail =
            put_text(put_text(put_decimal(path, static_cast<unsigned long>(pid)), "/task/"), entry->name);
        *put_text(tail, "/children") = '\0';
        if (!list(path)) result.complete = false;
      }
    }
    call(SYS_close, fd);
    // Threads move a dying thread's children to another one: a listing of
    // several can miss some.
    if (threads != 1) result.complete = false;
  }

  // Whether `pid` is stopped (or dead): it cannot fork before a SIGCONT.
  bool stopped(int pid) {
    char path[48];
    *put_text(put_decimal(path, static_cast<unsigned long>(pid)), "/stat") = '\0';
    const long fd = call(SYS_openat, proc_fd_, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;  // gone
    char buf[512];
    long n;
    do {
      n = call(SYS_read, fd, buf, sizeof buf - 1);
    } while (n == -EINTR);
    call(SYS_close, fd);
    if (n <= 0) return false;
    // The state follows the last ')' (the command name may hold anything).
    long close = -1;
    for (long i = 0; i < n; ++i)
      if (buf[i] == ')') close = i;
    if (close < 0 || close + 2 >= n) return false;
    const char state = buf[close + 2];
    return state == 'T' || state == 't' || state == 'Z' || state == 'X';
  }

  // Lists the children of everything queued, until the queue is empty.
  void drain() {
    while (depth_ > 0) {
      const Pinned p = stack_[--depth_];
      // Stopped before its listing: the listing is final (the tree is
      // frozen once every process of a sweep was).
      if (how_ == TreeSignal::stop && !stopped(p.pid)) result.complete = false;
      list_children_of(p.pid);
      if (how_ == TreeSignal::kill_frozen) kill(p.pidfd);
      if (how_ == TreeSignal::stop_quick) {
        call(SYS_close, p.pidfd);
        continue;
      }
      // Still there after the listing: the listing was of this process and
      // complete (a dead one's children may have moved before it was read).
      pollfd fds{p.pidfd, POLLIN, 0};
      const long timeout[2] = {0, 0};
      const long r = call(SYS_ppoll, &fds, 1, timeout, nullptr, 8);
      if (r != 0) result.complete = false;
      call(SYS_close, p.pidfd);
    }
  }

  TreeSweep result;

 private:
  bool is_stop() const { return how_ == TreeSignal::stop || how_ == TreeSignal::stop_quick; }

  int proc_fd_;
  TreeSignal how_;
  KilledFn killed_;
  void* context_;
  long depth_ = 0;
  Pinned few_[kFewPinned];
  Pinned* stack_ = few_;
  long capacity_ = kFewPinned;
};

}  // namespace

TreeSweep sweep_tree(int proc_fd, int root_pid, TreeSignal how) noexcept {
  Walk walk(proc_fd, how);
  if (root_pid == 0) {
    // The calling init: one thread, whose children file lists them all.
    if (!walk.list("thread-self/children")) walk.result.complete = false;
  } else {
    walk.list_children_of(root_pid);
  }
  walk.drain();
  if (how == TreeSignal::kill_frozen)
    walk.result.complete = false;  // unless it was frozen: a kill sweep checks
  return walk.result;
}

TreeSweep sweep_tree_of(int proc_fd, int pidfd, int pid, TreeSignal how, KilledFn killed,
                        void* context) noexcept {
  Walk walk(proc_fd, how, killed, context);
  // A duplicate, so that the walk may close it.
  const long own = call(SYS_fcntl, pidfd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) {
    call(SYS_pidfd_send_signal, pidfd,
         how == TreeSignal::stop || how == TreeSignal::stop_quick ? SIGSTOP : SIGKILL, nullptr, 0);
    walk.result.complete = false;
    return walk.result;
  }
  walk.pinned(static_cast<int>(own), pid);
  walk.drain();
  if (how == TreeSignal::kill_frozen || how == TreeSignal::stop_quick) walk.result.complete = false;
  return walk.result;
}

}  // namespace bounded_subprocess::detail
