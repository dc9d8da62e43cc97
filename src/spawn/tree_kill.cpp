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
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>

#include "spawn/raw_syscall.hpp"

namespace bounded_subprocess::detail {

namespace {

using raw::call;

constexpr int kMaxPinned = 256;  // pidfds held at once (on the caller's stack)

struct Dirent64 {
  unsigned long long ino;
  long long off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

char* put_decimal(char* out, unsigned long value) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

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
  explicit Walk(int proc_fd, KilledFn killed = nullptr, void* context = nullptr)
      : proc_fd_(proc_fd), killed_(killed), context_(context) {}

  // A process of the tree, found in a listing: pin it, kill it, and queue it
  // for the listing of its own children.
  void found(int pid) {
    const long fd = call(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
      // Gone already (its children, if any, moved to a subreaper), or no fd
      // left: kill it by pid, at once (the listing is microseconds old).
      if (fd != -ESRCH) call(SYS_kill, pid, SIGKILL);
      result.complete = false;
      return;
    }
    pinned(static_cast<int>(fd), pid);
  }

  // Kills the process of `pidfd` and queues it.
  void pinned(int pidfd, int pid) {
    if (call(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0) {
      ++result.killed;
      if (killed_ != nullptr) killed_(context_, pidfd);
    }
    if (depth_ == kMaxPinned) {
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
    char buf[1024];
    long pid = 0;
    bool digits = false;
    for (;;) {
      const long n = call(SYS_read, fd, buf, sizeof buf);
      if (n == -EINTR) continue;
      if (n < 0) result.complete = false;
      if (n <= 0) break;
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
    }
    if (digits) found(static_cast<int>(pid));
    call(SYS_close, fd);
    return true;
  }

  // The children of every thread of `pid` (killed already).
  void list_children_of(int pid) {
    char dir[64];
    *put_text(put_decimal(dir, static_cast<unsigned long>(pid)), "/task") = '\0';
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
        char* end =
            put_text(put_text(put_decimal(path, static_cast<unsigned long>(pid)), "/task/"), entry->name);
        *put_text(end, "/children") = '\0';
        if (!list(path)) result.complete = false;
      }
    }
    call(SYS_close, fd);
    // Threads move a dying thread's children to another one: a listing of
    // several can miss some.
    if (threads != 1) result.complete = false;
  }

  // Lists the children of everything queued, until the queue is empty.
  void drain() {
    while (depth_ > 0) {
      const Pinned p = stack_[--depth_];
      list_children_of(p.pid);
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
  int proc_fd_;
  KilledFn killed_;
  void* context_;
  int depth_ = 0;
  Pinned stack_[kMaxPinned];
};

}  // namespace

TreeSweep kill_tree(int proc_fd, int root_pid) noexcept {
  Walk walk(proc_fd);
  if (root_pid == 0) {
    // The calling init: one thread, whose children file lists them all.
    if (!walk.list("thread-self/children")) walk.result.complete = false;
  } else {
    walk.list_children_of(root_pid);
  }
  walk.drain();
  return walk.result;
}

TreeSweep kill_tree_of(int proc_fd, int pidfd, int pid, KilledFn killed, void* context) noexcept {
  Walk walk(proc_fd, killed, context);
  // A duplicate, so that the walk may close it.
  const long own = call(SYS_fcntl, pidfd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) {
    call(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    walk.result.complete = false;
    return walk.result;
  }
  walk.pinned(static_cast<int>(own), pid);
  walk.drain();
  return walk.result;
}

}  // namespace bounded_subprocess::detail
