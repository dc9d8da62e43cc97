// The code that runs between clone() and execve(), and the init of a
// contained run. See launch.hpp. Compiled freestanding (src/CMakeLists.txt):
// everything here shares the host's memory and thread pointer, so it calls
// the kernel directly (raw_syscall.hpp), never libc, and keeps its data on
// its own stack or in the plan the host prepared.
#include "spawn/launch.hpp"

#include <errno.h>  // the E* constants only: never errno itself
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/sched.h>  // struct clone_args, CLONE_INTO_CGROUP
#include <linux/stat.h>   // struct statx
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#include "spawn/raw_syscall.hpp"
#include "spawn/tree_kill.hpp"

namespace bounded_subprocess::detail {

namespace {

using raw::call;
using raw::Dirent64;
using raw::put_decimal;

constexpr unsigned long kSigsetSize = 8;  // the kernel's sigset_t (64 signals)
constexpr int kMaxSignal = 64;

// struct sigaction as the kernel's rt_sigaction takes it (x86_64 and
// aarch64 alike: handler, flags, restorer, mask).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  unsigned long mask;
};

[[noreturn]] void exit_now(int code) {
  for (;;) call(SYS_exit_group, code);
}

int fail(ProgramPlan& plan, LaunchStage stage, long err) {
  plan.error_stage = stage;
  plan.error_errno = static_cast<int>(-err);
  return 127;
}

long write_all(int fd, const char* data, unsigned long size) {
  while (size > 0) {
    const long n = call(SYS_write, fd, data, size);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? n : -EIO;
    data += n;
    size -= static_cast<unsigned long>(n);
  }
  return 0;
}

// What follows `word` on the first line of `text` that starts with it, or
// nullptr.
const char* after_line_start(const char* text, const char* word) {
  for (const char* line = text; *line != '\0';) {
    const char* a = line;
    const char* b = word;
    while (*b != '\0' && *a == *b) ++a, ++b;
    if (*b == '\0') return a;
    while (*line != '\0' && *line != '\n') ++line;
    if (*line == '\n') ++line;
  }
  return nullptr;
}

// The decimal number after `word` (and blanks) at the start of a line of
// `text`; 0 when there is none.
long long number_after(const char* text, const char* word) {
  const char* at = after_line_start(text, word);
  if (at == nullptr) return 0;
  while (*at == ' ' || *at == '\t') ++at;
  long long value = 0;
  while (*at >= '0' && *at <= '9') value = value * 10 + (*at++ - '0');
  return value;
}

// Whether `text` holds `word` at the start of a line.
bool contains(const char* text, const char* word) {
  return after_line_start(text, word) != nullptr;
}

// Reads a file of the host's /proc (through `proc_fd`) into `buf`, at most
// size - 1 bytes, NUL-terminated; false when it cannot be opened.
bool read_proc_file(int proc_fd, const char* path, char* buf, unsigned long size) {
  if (proc_fd < 0) return false;
  const long fd = call(SYS_openat, proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned long got = 0;
  for (;;) {
    const long n = call(SYS_read, fd, buf + got, size - 1 - got);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    got += static_cast<unsigned long>(n);
  }
  call(SYS_close, fd);
  buf[got] = '\0';
  return true;
}

// Back to the default: the copies of the host's handlers point into the host
// and must never run here (and exec keeps SIG_IGN). After CLONE_CLEAR_SIGHAND
// only the ignored ones are left, found by asking for each disposition: 62
// questions cost less than one read of this new process's /proc status (its
// entries are made for it at the first lookup: 55 us against 25 us in a
// vfork child here).
void reset_signal_dispositions(SignalReset how) {
  if (how == SignalReset::none) return;
  KernelSigaction dfl{};  // handler SIG_DFL (0), no flags, empty mask
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (how == SignalReset::ignored) {
      KernelSigaction now{};
      const bool ignored = call(SYS_rt_sigaction, sig, nullptr, &now, kSigsetSize) != 0 ||
                           reinterpret_cast<unsigned long>(now.handler) == 1;  // SIG_IGN
      if (!ignored) continue;
    }
    call(SYS_rt_sigaction, sig, &dfl, nullptr, kSigsetSize);  // EINVAL for none of 1..64
  }
}

unsigned long length(const char* s) {
  unsigned long n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

bool is_file(const char* path, const FileId& id) {
  FileId now;
  return read_file_id(path, now) && now.ino == id.ino && now.dev_major == id.dev_major &&
         now.dev_minor == id.dev_minor;
}

// Calls visit(pid) for each process a namespace's own /proc (open in
// `proc_fd`) lists but its init, while visit returns true. True when every
// one was visited; false when the listing cannot be read or a visit
// returned false.
template <class Visit>
bool for_each_listed(int proc_fd, Visit&& visit) {
  if (proc_fd < 0 || call(SYS_lseek, proc_fd, 0, SEEK_SET) < 0) return false;
  alignas(8) char buf[4096];
  for (;;) {
    const long n = call(SYS_getdents64, proc_fd, buf, sizeof buf);
    if (n == -EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (long at = 0; at < n;) {
      const auto* entry = reinterpret_cast<const Dirent64*>(buf + at);
      at += entry->reclen;
      long pid = 0;
      const char* c = entry->name;
      while (*c >= '0' && *c <= '9' && pid < (1L << 31)) pid = pid * 10 + (*c++ - '0');
      if (*c != '\0' || pid <= 1) continue;
      if (!visit(pid)) return false;
    }
  }
}

}  // namespace

bool read_file_id(const char* path, FileId& id) noexcept {
  struct statx st {};
  if (call(SYS_statx, AT_FDCWD, path, 0, STATX_INO, &st) < 0) return false;
  id = {st.stx_ino, st.stx_dev_major, st.stx_dev_minor};
  return true;
}

long enter_sandbox(int pidfd, unsigned long flags, const char* cwd, const FileId& cwd_id,
                   const FileId& root_id) noexcept {
  if (const long r = call(SYS_setns, pidfd, flags); r < 0) return r;
  if (const long r = call(SYS_chdir, cwd); r < 0) return r;
  if (!is_file(".", cwd_id) || !is_file("/", root_id)) return -EXDEV;
  return 0;
}

bool only_init_listed(int proc_fd) noexcept {
  return for_each_listed(proc_fd, [](long) { return false; });
}

int cgroup_populated(int events_fd) noexcept {
  char buf[256];
  long n;
  do {
    n = call(SYS_pread64, events_fd, buf, sizeof buf - 1, 0);
  } while (n == -EINTR);
  if (n < 0) return -1;
  buf[n] = '\0';
  return contains(buf, "populated 0") ? 0 : 1;
}

extern "C" int bs_launch_program(void* arg) {
  ProgramPlan& plan = *static_cast<ProgramPlan*>(arg);
  // Every signal is blocked here (the parent blocked them around clone).
  reset_signal_dispositions(plan.reset_signals);
  if (plan.warm_pidfd >= 0) {
    // Its mount namespace, or the view made in it for this run (the host
    // put us into its PID namespace).
    const long r = enter_sandbox(plan.warm_view_fd >= 0 ? plan.warm_view_fd : plan.warm_pidfd, CLONE_NEWNS,
                                 plan.warm_cwd, plan.warm_cwd_id, plan.warm_root_id);
    if (r < 0) return fail(plan, LaunchStage::warm, r);
  }
  if (plan.new_session) {
    if (const long r = call(SYS_setsid); r < 0) return fail(plan, LaunchStage::session, r);
  }
  for (int target = 0; target < 3; ++target) {
    const int from = plan.stdio[target];
    if (from < 0) continue;
    // The same number: only make sure it survives the exec.
    const long r = from == target ? call(SYS_fcntl, from, F_SETFD, 0) : call(SYS_dup3, from, target, 0);
    if (r < 0) return fail(plan, LaunchStage::stdio, r);
  }
  if (plan.cgroup_procs_fd >= 0) {
    if (const long r = write_all(plan.cgroup_procs_fd, "0", 1); r < 0)
      return fail(plan, LaunchStage::cgroup, r);
  }
  if (plan.isolation != nullptr) {
    // The limit cgroups (v1) before the cgroup namespace, which would hide them.
    for (const int fd : plan.isolation->limit_procs_fd) {
      if (fd < 0) continue;
      if (const long r = write_all(fd, "0", 1); r < 0) return fail(plan, LaunchStage::isolation_limits, r);
    }
  }
  if (plan.new_cgroup_namespace) {
    if (const long r = call(SYS_unshare, CLONE_NEWCGROUP); r < 0) return fail(plan, LaunchStage::cgroup, r);
  }
  if (plan.isolation != nullptr) {
    LaunchStage stage = LaunchStage::none;
    int detail = 0;
    if (const long r = bs_isolate(plan.isolation, plan.scratch_mount_fd, &stage, &detail); r < 0) {
      plan.error_detail = detail;
      return fail(plan, stage, r);
    }
  }
  if (plan.cwd != nullptr) {
    if (const long r = call(SYS_chdir, plan.cwd); r < 0) return fail(plan, LaunchStage::cwd, r);
  }
  // Exactly 0, 1 and 2 reach the program. (close_range: Linux 5.9.)
  if (const long r = call(SYS_close_range, 3, ~0U, 0); r < 0) return fail(plan, LaunchStage::stdio, r);
  const unsigned long empty = 0;
  if (const long r = call(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, kSigsetSize); r < 0)
    return fail(plan, LaunchStage::signals, r);
  const long r = call(SYS_execve, plan.path, plan.argv, plan.envp);
  return fail(plan, LaunchStage::exec, r);
}

namespace {

// The init's state, on its own stack.
class Init {
 public:
  explicit Init(InitPlan& plan) : plan_(plan) {}

  [[noreturn]] void run() {
    if (plan_.fetch_from >= 0) take_host_fds();
    if (plan_.kind == InitKind::warm_sandbox) serve_warm_sandbox();
    if (plan_.kind == InitKind::warm_shepherd) shepherd();
    const int err = prepare();
    if (plan_.probe) {
      if (err != 0) exit_now(kProbeFailed + (err < 250 ? err : 250));
      exit_now(plan_.mount_proc && !proc_mounted_ ? kProbeWorkedWithoutProc : kProbeWorked);
    }
    if (err != 0) fail_start(LaunchStage::init, err);
    start_program();
    supervise();
    end_everything();
  }

 private:
  // Cloned sharing the host's fd table (InitPlan::fetch_from): a table of
  // our own with the fds up to the host's pidfd, and each fd the plan names
  // above it taken from the host into the lowest free number, which the
  // plan then names (the host reads none of these after the clone). So the
  // table stays as small as the host's was when it opened its pidfd, and
  // every close_range of ours, and the program's copy of it, costs that
  // little. Nothing else of the host's table must reach us: the rest is
  // closed below (close_all_but) as from a copy.
  void take_host_fds() {
    const int host = plan_.fetch_from;
    int taken = kFdsTaken;
    // Whether an fd can be taken from the host at all (a security module
    // may refuse): where not, a copy of its table, as a clone would make.
    if (const long proof = call(SYS_pidfd_getfd, host, host, 0); proof < 0) {
      if (call(SYS_unshare, CLONE_FILES) < 0) exit_now(1);
      taken = kFdsCopied;
    } else {
      call(SYS_close, proof);
      if (call(SYS_close_range, host + 1, ~0U, CLOSE_RANGE_UNSHARE) < 0) exit_now(1);
      const auto named = fds_from_host(plan_);
      int was[kFdsFromHost];
      for (std::size_t i = 0; i < kFdsFromHost; ++i) {
        const int fd = was[i] = *named[i];
        if (fd <= host) continue;  // none, or here already (copied with the low fds)
        std::size_t j = 0;
        while (j < i && was[j] != fd) ++j;
        if (j < i) {  // the same fd as an earlier one (stdout and stderr alike)
          *named[i] = *named[j];
          continue;
        }
        const long got = call(SYS_pidfd_getfd, host, fd, 0);
        // The host then sees us gone before our report: the start failed.
        if (got < 0) exit_now(1);
        *named[i] = static_cast<int>(got);
      }
    }
    __atomic_store_n(&plan_.fds_word, taken, __ATOMIC_RELEASE);
    call(SYS_futex, &plan_.fds_word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
  }

  void report(InitReport& r) {
    // MSG_NOSIGNAL: the host may be gone (and SIGPIPE is blocked anyway).
    call(SYS_sendto, plan_.channel_fd, &r, sizeof r, MSG_NOSIGNAL, nullptr, 0);
  }

  // The same with `fd` attached (SCM_RIGHTS).
  void report_with_fd(InitReport& r, int fd) {
    iovec iov;
    iov.iov_base = &r;
    iov.iov_len = sizeof r;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    auto* c = reinterpret_cast<cmsghdr*>(control);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    *reinterpret_cast<int*>(CMSG_DATA(c)) = fd;
    msghdr msg;
    msg.msg_name = nullptr;
    msg.msg_namelen = 0;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    msg.msg_flags = 0;
    call(SYS_sendmsg, plan_.channel_fd, &msg, MSG_NOSIGNAL);
  }

  [[noreturn]] void fail_start(LaunchStage stage, int err, int detail = 0) {
    // A program child that failed before exec has exited: reap it here, or
    // a subreaper's exit would hand the zombie to the host's own subreaper.
    for (;;) {
      siginfo_t info;
      const long r = call(SYS_waitid, P_ALL, 0, &info, WEXITED | __WALL, nullptr);
      if (r != -EINTR && r < 0) break;
    }
    InitReport r;
    r.kind = InitReport::failed;
    r.error_stage = stage;
    r.error_errno = err;
    r.error_detail = detail;
    // A warm shepherd's program that could not start left nothing behind.
    if (plan_.kind == InitKind::warm_shepherd && stage != LaunchStage::warm)
      r.sandbox_clean = namespace_holds_only_init() ? 1 : 0;
    report(r);
    exit_now(0);  // the kernel kills whatever the namespace holds
  }

  long write_proc_file(const char* name, const char* text) {
    const long fd = call(SYS_openat, plan_.proc_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fd;
    const long r = write_all(static_cast<int>(fd), text, length(text));
    call(SYS_close, fd);
    return r;
  }

  int map_ids() {
    // An unprivileged user namespace: map our own uid and gid to themselves,
    // so the program sees the ids it would have seen outside.
    char line[64];
    long r = write_proc_file("self/setgroups", "deny");
    if (r == 0) {
      char* end = put_decimal(line, plan_.uid);
      *end++ = ' ';
      end = put_decimal(end, plan_.uid);
      *end++ = ' ';
      *end++ = '1';
      *end = '\0';
      r = write_proc_file("self/uid_map", line);
    }
    if (r == 0) {
      char* end = put_decimal(line, plan_.gid);
      *end++ = ' ';
      end = put_decimal(end, plan_.gid);
      *end++ = ' ';
      *end++ = '1';
      *end = '\0';
      r = write_proc_file("self/gid_map", line);
    }
    return static_cast<int>(-r);
  }

  // Everything before the program starts; returns 0 or an errno.
  int prepare() {
    // The host blocked every signal around clone; they stay blocked (SIGCHLD
    // is read from a signalfd), so nothing is delivered to the init but
    // SIGKILL and SIGSTOP, and inside a PID namespace not even those.
    reset_signal_dispositions(plan_.reset_signals);
    // A warm sandbox's init has its own name from the start: a run's init
    // is `bs-init` (what a program, or a test, looks for), a sandbox is not.
    call(SYS_prctl, PR_SET_NAME, plan_.kind == InitKind::warm_sandbox ? "bs-warm" : "bs-init", 0, 0, 0);
    call(SYS_setsid);  // off the host's terminal: no Ctrl-C or SIGHUP of its
    if (plan_.map_ids) {
      if (const int err = map_ids(); err != 0) return err;
    }
    if (plan_.mount_proc) {
      // Our copy of the mounts must not propagate back to the host's.
      long r = call(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr);
      if (r == 0) r = call(SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      proc_mounted_ = r == 0;
      if (!proc_mounted_ && plan_.proc_required) return static_cast<int>(-r);
      // Held from now on: it lists the namespace's processes at the end
      // (whatever the run mounts over /proc later).
      if (proc_mounted_ && !plan_.probe) {
        const long fd = call(SYS_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ns_proc_fd_ = fd < 0 ? -1 : static_cast<int>(fd);
      }
    }
    if (plan_.kind == InitKind::subreaper) {
      if (const long r = call(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); r < 0)
        return static_cast<int>(-r);
      // The end of the run lists our children here (CONFIG_PROC_CHILDREN).
      const long fd = call(SYS_openat, plan_.proc_fd, "thread-self/children", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return static_cast<int>(-fd);
      call(SYS_close, fd);
    }
    if (plan_.probe) {
      if (plan_.program.new_cgroup_namespace) {
        if (const long r = call(SYS_unshare, CLONE_NEWCGROUP); r < 0) return static_cast<int>(-r);
      }
      return 0;
    }
    const unsigned long chld = 1UL << (SIGCHLD - 1);
    const long sfd = call(SYS_signalfd4, -1, &chld, kSigsetSize, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return static_cast<int>(-sfd);
    signal_fd_ = static_cast<int>(sfd);
    if (iso_scratch()) {
      const long fd = bs_make_scratch(plan_.program.isolation->scratch_size);
      if (fd < 0) {
        scratch_failed_ = static_cast<int>(-fd);
      } else {
        scratch_fd_ = static_cast<int>(fd);
        plan_.program.scratch_mount_fd = scratch_fd_;
      }
    }
    if (plan_.cpu_limit_usec > 0) {
      const long stat = call(SYS_openat, plan_.cgroup_dir_fd, "cpu.stat", O_RDONLY | O_CLOEXEC);
      if (stat < 0) return static_cast<int>(-stat);
      cpu_stat_fd_ = static_cast<int>(stat);
      const long timer = call(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
      if (timer < 0) return static_cast<int>(-timer);
      timer_fd_ = static_cast<int>(timer);
    }
    // Keep only what the init and the program's start need: the host's
    // other fds (other runs' pipes among them) must not stay open here.
    const IsolationPlan* iso = plan_.program.isolation;
    const int program_fds[7] = {plan_.program.stdio[0],
                                plan_.program.stdio[1],
                                plan_.program.stdio[2],
                                plan_.program.cgroup_procs_fd,
                                iso != nullptr ? iso->limit_procs_fd[0] : -1,
                                iso != nullptr ? iso->limit_procs_fd[1] : -1,
                                iso != nullptr ? iso->netns_fd : -1};
    close_all_but(program_fds, 7);
    return 0;
  }

  // Closes every fd but ours and the `extra` ones.
  void close_all_but(const int* extra, int extra_count) {
    int keep[19];
    int n = 0;
    const int ours[12] = {plan_.channel_fd,
                          plan_.proc_fd,
                          plan_.cgroup_dir_fd,
                          plan_.cgroup_parent_fd,
                          signal_fd_,
                          ns_proc_fd_,
                          timer_fd_,
                          cpu_stat_fd_,
                          scratch_fd_,
                          plan_.warm_pidfd,
                          plan_.warm_channel_fd,
                          plan_.warm_keep_fd};
    for (int fd : ours)
      if (fd >= 0) keep[n++] = fd;
    for (int i = 0; i < extra_count; ++i)
      if (extra[i] >= 0) keep[n++] = extra[i];
    for (int i = 1; i < n; ++i)  // insertion sort of at most 19
      for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
        const int t = keep[j];
        keep[j] = keep[j - 1];
        keep[j - 1] = t;
      }
    unsigned int from = 0;
    for (int i = 0; i < n; ++i) {
      const auto fd = static_cast<unsigned int>(keep[i]);
      if (fd > from) call(SYS_close_range, from, fd - 1, 0);
      if (fd + 1 > from) from = fd + 1;
    }
    call(SYS_close_range, from, ~0U, 0);
  }

  // The program's pid as the host sees it: "Pid:" in the fdinfo of its
  // pidfd, read through the host's /proc.
  int host_pid_of(int pidfd) {
    char path[48] = "self/fdinfo/";
    *put_decimal(path + 12, static_cast<unsigned long>(pidfd)) = '\0';
    char buf[512];
    if (!read_proc_file(plan_.proc_fd, path, buf, sizeof buf)) return 0;
    const char* at = after_line_start(buf, "Pid:");
    if (at == nullptr) return 0;
    while (*at == '\t' || *at == ' ') ++at;
    int pid = 0;
    while (*at >= '0' && *at <= '9') pid = pid * 10 + (*at++ - '0');
    return pid;
  }

  // Starts the program: born into the run's cgroup with clone3 when there
  // is one (no migration afterwards), else with clone (the child then joins
  // the cgroup itself, through cgroup.procs).
  long clone_program(int& pidfd) {
    if (plan_.cgroup_dir_fd >= 0) {
      clone_args args{};
      args.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP;
      args.pidfd = reinterpret_cast<unsigned long>(&pidfd);
      args.exit_signal = SIGCHLD;
      args.stack = reinterpret_cast<unsigned long>(plan_.program_stack_bottom);
      args.stack_size = static_cast<unsigned long>(plan_.program_stack_top - plan_.program_stack_bottom);
      args.cgroup = static_cast<unsigned long>(plan_.cgroup_dir_fd);
      const int procs_fd = plan_.program.cgroup_procs_fd;
      plan_.program.cgroup_procs_fd = -1;  // already in it
      const long pid = bs_clone3(&args, sizeof args, bs_launch_program, &plan_.program);
      if (pid != -ENOSYS && pid != -E2BIG) return pid;
      plan_.program.cgroup_procs_fd = procs_fd;
      if (procs_fd < 0) {
        // A warm sandbox's cgroup, joined through its cgroup.procs (closed
        // with the rest once the program has started).
        const long w = call(SYS_openat, plan_.cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (w < 0) return w;
        plan_.program.cgroup_procs_fd = static_cast<int>(w);
      }
    }
    return bs_clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, plan_.program_stack_top, &pidfd,
                    bs_launch_program, &plan_.program);
  }

  bool iso_scratch() const {
    return plan_.program.isolation != nullptr && plan_.program.isolation->scratch_size != nullptr;
  }

  void start_program() {
    if (scratch_failed_ != 0) fail_start(LaunchStage::isolation_scratch, scratch_failed_);
    int pidfd = -1;
    const long pid = clone_program(pidfd);
    if (pid < 0) fail_start(LaunchStage::clone, static_cast<int>(-pid));
    program_ = static_cast<int>(pid);
    // The vfork is over: the program runs, or its child failed before exec
    // and exits with 127 (reaped with everything else).
    if (plan_.program.error_stage != LaunchStage::none) {
      fail_start(plan_.program.error_stage, plan_.program.error_errno, plan_.program.error_detail);
    }
    InitReport r;
    r.kind = InitReport::started;
    // A subreaper shares the host's PID namespace: the pid is the host's.
    // So does a warm shepherd (it entered only the namespace of its children).
    r.program_pid = plan_.kind != InitKind::pid_namespace ? program_ : host_pid_of(pidfd);
    r.proc_mounted = proc_mounted_ ? 1 : 0;
    // The program has its own copies of its stdio: ours must go, or the
    // host would never see EOF on the pipes. A subreaper sends the program's
    // pidfd along: its init shares the program's user, so the program can
    // kill it, and the host then ends the run itself (broken_run.cpp).
    // A warm shepherd does too: killed from outside, it would leave the
    // program (in the sandbox's namespace) to the host's own reaper.
    if ((plan_.kind == InitKind::subreaper || plan_.kind == InitKind::warm_shepherd) && pidfd >= 0) {
      close_all_but(&pidfd, 1);
      report_with_fd(r, pidfd);
      call(SYS_close, pidfd);
    } else {
      close_all_but(nullptr, 0);
      report(r);
    }
    if (timer_fd_ >= 0) arm_cpu_timer(plan_.cpu_limit_usec);
  }

  // CPU time the run's cgroup has used, in microseconds (-1: unreadable).
  long long cpu_used_usec() {
    char buf[512];
    const long n = call(SYS_pread64, cpu_stat_fd_, buf, sizeof buf - 1, 0);
    if (n < 0) return -1;
    buf[n] = '\0';
    if (after_line_start(buf, "usage_usec") == nullptr) return -1;
    return number_after(buf, "usage_usec");
  }

  // The earliest moment `rest` microseconds of CPU could be used up: with
  // every CPU busy, rest / cpu_count from now (at least a millisecond).
  void arm_cpu_timer(long long rest) {
    long long wait = rest / (plan_.cpu_count > 0 ? plan_.cpu_count : 1);
    if (wait < 1000) wait = 1000;
    itimerspec spec{};
    spec.it_value.tv_sec = wait / 1000000;
    spec.it_value.tv_nsec = (wait % 1000000) * 1000;
    call(SYS_timerfd_settime, timer_fd_, 0, &spec, nullptr);
  }

  // The timer fired: the run is over its CPU limit (true), or the timer is
  // set again for the rest.
  bool cpu_limit_reached() {
    unsigned long long expirations;
    call(SYS_read, timer_fd_, &expirations, sizeof expirations);
    const long long used = cpu_used_usec();
    if (used < 0 || used >= plan_.cpu_limit_usec) {
      cpu_limit_hit_ = used >= 0;
      return true;  // unreadable: end the run rather than let it run unbounded
    }
    arm_cpu_timer(plan_.cpu_limit_usec - used);
    return false;
  }

  // Reaps one exited child (blocking) or every one that has exited
  // (WNOHANG); notes the program's status. `no_children_` once none is left.
  void reap(bool block) {
    for (;;) {
      siginfo_t info;
      info.si_pid = 0;
      const long r = call(SYS_waitid, P_ALL, 0, &info, WEXITED | __WALL | (block ? 0 : WNOHANG), nullptr);
      if (r == -EINTR) continue;
      no_children_ = r == -ECHILD;
      if (r < 0 || info.si_pid == 0) return;  // an error, or WNOHANG and nothing yet
      if ((info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) && info.si_status == SIGXFSZ)
        file_size_hit_ = true;
      if (info.si_pid == program_ && !program_done_) {
        program_done_ = true;
        const int s = info.si_status;
        if (info.si_code == CLD_EXITED)
          status_ = (s & 0xff) << 8;
        else if (info.si_code == CLD_DUMPED)
          status_ = (s & 0x7f) | 0x80;
        else
          status_ = s & 0x7f;
      }
      if (block) return;
    }
  }

  void drain_signal_fd() {
    signalfd_siginfo si;
    while (call(SYS_read, signal_fd_, &si, sizeof si) > 0) {
    }
  }

  void supervise() {
    // Until the program exits, or the host asks for the end (a byte) or is
    // gone (EOF on the channel).
    while (!program_done_) {
      pollfd fds[3] = {{signal_fd_, POLLIN, 0}, {plan_.channel_fd, POLLIN, 0}, {timer_fd_, POLLIN, 0}};
      const long n = call(SYS_ppoll, fds, timer_fd_ >= 0 ? 3 : 2, nullptr, nullptr, kSigsetSize);
      if (n == -EINTR) continue;
      if (n < 0) return;  // cannot wait: end the run rather than hang
      if (fds[0].revents != 0) {
        drain_signal_fd();
        reap(false);
      }
      if (fds[1].revents != 0) return;
      if (timer_fd_ >= 0 && fds[2].revents != 0 && !program_done_ && cpu_limit_reached()) return;
    }
  }

  // The subreaper's way (tree_kill.cpp): stop the whole tree first, each
  // process found through the children lists (sweeps of SIGSTOP until one
  // finds every process stopped: a fork storm can then no longer fork nor
  // compete for the CPU), then kill it, listing each stopped process's
  // children before its SIGKILL, then sweep with SIGKILL (each process
  // killed before its list is read) until a sweep finds every listing
  // complete. Between sweeps, the children of processes that died come to
  // us and are reaped. The stop sweeps are few (kStopSweeps): a starved
  // storm's processes act on their SIGSTOP only when they next run, so a
  // sweep may find many not yet stopped, and a tree that will not stop (a
  // process continued from outside, one in uninterruptible sleep) is killed
  // anyway.
  void kill_all_children() {
    // One pidfd per process queued: the init's own fd limit (not the
    // program's, which has its own copy) goes up to what it may be.
    rlimit files;
    if (call(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &files) == 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      call(SYS_prlimit64, 0, RLIMIT_NOFILE, &files, nullptr);
    }
    for (int i = 0; i < kStopSweeps; ++i) {
      const TreeSweep sweep =
          sweep_tree(plan_.proc_fd, 0, i == 0 ? TreeSignal::stop_quick : TreeSignal::stop);
      reap(false);
      if (sweep.complete) break;
    }
    sweep_tree(plan_.proc_fd, 0, TreeSignal::kill_frozen);
    for (;;) {
      reap(false);
      if (sweep_tree(plan_.proc_fd, 0, TreeSignal::kill).complete) return;
    }
  }

  // SIGKILL to every process the namespace's own /proc lists but us: a walk
  // of the run. False when the listing cannot be read, or when it holds
  // more than kMaxListed processes: a crowd (a fork storm, say) is ended by
  // one kill(-1), which no fork can race, rather than by a kill each, which
  // a storm of processes in sessions of their own (an autogroup each, so the
  // init gets one share of thousands) stretched past a minute.
  bool kill_listed() {
    int listed = 0;
    return for_each_listed(ns_proc_fd_, [&](long pid) {
      if (++listed > kMaxListed) return false;
      call(SYS_kill, pid, SIGKILL);
      return true;
    });
  }

  // SIGKILL to every process of the run's cgroup (and its descendants).
  void kill_cgroup() {
    const long fd = call(SYS_openat, plan_.cgroup_dir_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      write_all(static_cast<int>(fd), "1", 1);
      call(SYS_close, fd);
    }
  }

  void kill_everything() {
    if (plan_.cgroup_dir_fd >= 0) kill_cgroup();
    if (plan_.kind == InitKind::pid_namespace) {
      kill_namespace();
    } else {
      kill_all_children();
    }
  }

  // Kills what is in the run's cgroup and waits until the kernel says it is
  // empty (or cannot say).
  void kill_cgroup_and_wait() {
    kill_cgroup();
    const long fd = call(SYS_openat, plan_.cgroup_dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    while (cgroup_populated(static_cast<int>(fd)) == 1) {
      pollfd p{static_cast<int>(fd), POLLPRI, 0};
      call(SYS_ppoll, &p, 1, nullptr, nullptr, kSigsetSize);
    }
    call(SYS_close, fd);
  }

  void remove_cgroup() {
    // Everything in the cgroup was in our namespace and is reaped, so the
    // folder goes at once; unless someone outside put a process into it:
    // kill that one too, wait until the kernel says the cgroup is empty,
    // then remove it.
    if (call(SYS_unlinkat, plan_.cgroup_parent_fd, plan_.cgroup_name, AT_REMOVEDIR) != -EBUSY) return;
    kill_cgroup_and_wait();
    call(SYS_unlinkat, plan_.cgroup_parent_fd, plan_.cgroup_name, AT_REMOVEDIR);
  }

  // Whether the run's cgroup holds no process (false: it does, or cannot
  // be read).
  bool cgroup_empty() {
    const long fd = call(SYS_openat, plan_.cgroup_dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const int held = cgroup_populated(static_cast<int>(fd));
    call(SYS_close, fd);
    return held == 0;
  }

  // What the run's cgroup counted against its limits (the controllers are
  // enabled there): refused forks, memory at its limit, OOM kills.
  void read_limit_events(InitReport& r) {
    char buf[512];
    const long pids = call(SYS_openat, plan_.cgroup_dir_fd, "pids.events", O_RDONLY | O_CLOEXEC);
    if (pids >= 0) {
      if (read_proc_file_fd(static_cast<int>(pids), buf, sizeof buf))
        r.pids_limit_hit = number_after(buf, "max") > 0 ? 1 : 0;
      call(SYS_close, pids);
    }
    const long memory = call(SYS_openat, plan_.cgroup_dir_fd, "memory.events", O_RDONLY | O_CLOEXEC);
    if (memory >= 0) {
      if (read_proc_file_fd(static_cast<int>(memory), buf, sizeof buf)) {
        r.memory_oom_kill = number_after(buf, "oom_kill") > 0 ? 1 : 0;
        r.memory_limit_hit = r.memory_oom_kill != 0 || number_after(buf, "max") > 0 ? 1 : 0;
      }
      call(SYS_close, memory);
    }
  }

  static bool read_proc_file_fd(int fd, char* buf, unsigned long size) {
    unsigned long got = 0;
    for (;;) {
      const long n = call(SYS_read, fd, buf + got, size - 1 - got);
      if (n == -EINTR) continue;
      if (n <= 0) break;
      got += static_cast<unsigned long>(n);
    }
    buf[got] = '\0';
    return got > 0;
  }

  // Everything in the namespace but us. kill(-1) would walk every process
  // of the machine, holding the kernel's tasklist lock that every fork and
  // exit of the machine waits for: the listing walks only the run. It can
  // miss a child forked while it is read, so each round of the end lists
  // again; from the ninth call on (or when there is no listing) kill(-1),
  // which no fork can race, ends it, once.
  void kill_namespace() {
    if (killed_atomically_) return;
    if (rounds_++ < 8 && kill_listed()) return;
    call(SYS_kill, -1, SIGKILL);
    killed_atomically_ = true;
  }

  [[noreturn]] void end_everything() {
    // Kill, then reap until nothing is left. While anything of the
    // namespace lives, we have a child (every orphan of the namespace is
    // ours before it can be reaped), so ECHILD means the namespace is empty.
    // A namespace lists its processes again each round (killed ones slow to
    // exit, a child forked while the listing was read); past a few rounds
    // kill(-1), which no fork can race, ends it. A subreaper sweeps its
    // whole tree until one sweep is complete: every process of it has then
    // been killed and none can fork, so it only reaps, with one last sweep
    // once no child is left.
    // A namespace already empty (the program left nothing behind) needs no
    // kill: its end costs no more than it holds.
    const bool empty = no_children_ && plan_.kind == InitKind::pid_namespace;
    if (!empty) kill_everything();
    while (!empty) {
      reap(true);
      reap(false);
      if (no_children_) {
        if (plan_.kind == InitKind::pid_namespace) break;
        kill_all_children();  // one more look: the list must be empty too
        reap(false);
        if (no_children_) break;
      } else if (plan_.kind == InitKind::pid_namespace) {
        kill_namespace();
      }
    }
    InitReport r;
    if (plan_.read_limit_events) read_limit_events(r);
    if (plan_.cgroup_dir_fd >= 0) remove_cgroup();
    rusage usage{};
    call(SYS_getrusage, RUSAGE_CHILDREN, &usage);
    // Unread bytes from the host would make our exit reset the connection
    // before the host reads the report: take them.
    char ignored[64];
    while (call(SYS_recvfrom, plan_.channel_fd, ignored, sizeof ignored, MSG_DONTWAIT, nullptr, nullptr) >
           0) {
    }
    r.kind = InitReport::ended;
    r.cpu_limit_hit = cpu_limit_hit_ ? 1 : 0;
    r.file_size_hit = file_size_hit_ ? 1 : 0;
    r.scratch_full = scratch_fd_ >= 0 && bs_file_system_full(scratch_fd_) ? 1 : 0;
    r.wait_status = program_done_ ? status_ : SIGKILL;
    r.user_usec = usage.ru_utime.tv_sec * 1000000L + usage.ru_utime.tv_usec;
    r.system_usec = usage.ru_stime.tv_sec * 1000000L + usage.ru_stime.tv_usec;
    r.max_rss_kb = usage.ru_maxrss;
    report(r);
    exit_now(0);
  }

  static constexpr int kMaxListed = 64;  ///< see kill_listed
  static constexpr int kStopSweeps = 3;  ///< see kill_all_children

  // ---- warm sandboxes (warm_pool.hpp) ----

  // Whether the namespace's own /proc (`ns_proc_fd_`) lists no process but
  // its init: false when it lists another or cannot be read.
  bool namespace_holds_only_init() { return only_init_listed(ns_proc_fd_); }

  void reap_until_none() {
    while (!no_children_) {
      reap(true);
      if (!no_children_) reap(false);
    }
  }

  // The init of a warm sandbox: set up like a namespace's init (ids mapped,
  // a fresh /proc), then it reaps the orphans of the runs that use it and
  // answers their requests, until its channel to the host closes (the host
  // exited, exec'd or retired it): its exit ends the namespace, and the
  // kernel kills whatever is left in it.
  [[noreturn]] void serve_warm_sandbox() {
    const int err = prepare();
    const char ready = err == 0 && ns_proc_fd_ >= 0 ? kWarmReady : kWarmDirty;
    call(SYS_sendto, plan_.channel_fd, &ready, 1, MSG_NOSIGNAL, nullptr, 0);
    if (ready != kWarmReady) exit_now(1);
    for (;;) {
      pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {plan_.channel_fd, POLLIN, 0}};
      const long n = call(SYS_ppoll, fds, 2, nullptr, nullptr, kSigsetSize);
      if (n == -EINTR) continue;
      if (n < 0) exit_now(1);
      if (fds[0].revents != 0) {
        drain_signal_fd();
        reap(false);
      }
      if (fds[1].revents == 0) continue;
      char request = 0;
      const long got = call(SYS_recvfrom, plan_.channel_fd, &request, 1, MSG_DONTWAIT, nullptr, nullptr);
      if (got == -EINTR || got == -EAGAIN) continue;
      if (got <= 0) end_sandbox();  // the host is gone
      // kill(-1): all of the namespace but us, which no fork can race. A
      // seccomp filter of the host that refuses it makes us answer dirty:
      // the shepherd or the host then kills us, which ends the namespace.
      char answer = kWarmKill;
      const bool kill_asked = request == kWarmKill || request == kWarmClean || request == kWarmEnd;
      const long killed = kill_asked ? call(SYS_kill, -1, SIGKILL) : 0;
      if (killed != 0 && killed != -ESRCH) {
        answer = kWarmDirty;
      } else if (request == kWarmClean || request == kWarmEnd) {
        no_children_ = false;
        reap_until_none();
        answer = namespace_holds_only_init() ? kWarmIsClean : kWarmDirty;
        // A process put into the sandbox's cgroup from outside: killed,
        // and the cgroup (once killed, see shepherd()) not used again.
        if (request == kWarmEnd && plan_.cgroup_dir_fd >= 0 && !cgroup_empty()) {
          kill_cgroup_and_wait();
          answer = kWarmDirty;
        }
      }
      call(SYS_sendto, plan_.channel_fd, &answer, 1, MSG_NOSIGNAL, nullptr, 0);
    }
  }

  // The host is gone (exited, or exec'd): the sandbox ends, and with it
  // its cgroup, once nothing is left in it.
  [[noreturn]] void end_sandbox() {
    if (plan_.cgroup_dir_fd >= 0) {
      call(SYS_kill, -1, SIGKILL);
      reap(false);
      remove_cgroup();
    }
    exit_now(0);  // the kernel kills whatever the namespace holds
  }

  // A request to the sandbox's init; its one-byte answer, 0 when it is gone.
  char ask_sandbox(char request) {
    if (call(SYS_sendto, plan_.warm_channel_fd, &request, 1, MSG_NOSIGNAL, nullptr, 0) != 1) return 0;
    for (;;) {
      char answer = 0;
      const long n = call(SYS_recvfrom, plan_.warm_channel_fd, &answer, 1, 0, nullptr, nullptr);
      if (n == -EINTR) continue;
      return n == 1 ? answer : 0;
    }
  }

  // The shepherd enters the sandbox: its PID namespace for its children,
  // its mount namespace (and user namespace) for itself. Entering a mount
  // namespace moves the root and the cwd to the namespace's root: the
  // host's cwd is found again by its path, and both must be the same files
  // as the host's (a chroot, a deleted or unreachable cwd: the sandbox
  // cannot serve this call). Returns 0 or an errno (LaunchStage::warm).
  int enter_sandbox() {
    const long len = call(SYS_getcwd, plan_.cwd_buffer, plan_.cwd_buffer_size);
    if (len < 0) return static_cast<int>(-len);
    if (plan_.cwd_buffer[0] != '/') return ENOENT;  // "(unreachable)/..."
    FileId cwd, root;
    if (!read_file_id(".", cwd) || !read_file_id("/", root)) return EIO;
    if (const long r =
            detail::enter_sandbox(plan_.warm_pidfd, plan_.warm_setns_flags, plan_.cwd_buffer, cwd, root);
        r < 0)
      return static_cast<int>(-r);
    const long fd = call(SYS_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return static_cast<int>(-fd);
    ns_proc_fd_ = static_cast<int>(fd);
    return 0;
  }

  int prepare_shepherd() {
    reset_signal_dispositions(plan_.reset_signals);
    call(SYS_prctl, PR_SET_NAME, "bs-init", 0, 0, 0);
    call(SYS_setsid);
    if (const int err = enter_sandbox(); err != 0) return err;
    const unsigned long chld = 1UL << (SIGCHLD - 1);
    const long sfd = call(SYS_signalfd4, -1, &chld, kSigsetSize, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return static_cast<int>(-sfd);
    signal_fd_ = static_cast<int>(sfd);
    const int keep[4] = {plan_.program.stdio[0], plan_.program.stdio[1], plan_.program.stdio[2],
                         plan_.program.cgroup_procs_fd};
    close_all_but(keep, 4);
    return 0;
  }

  // One run in a warm sandbox. The program is our child in the sandbox's
  // PID namespace; its orphans become the sandbox init's. At the end every
  // process of the run is killed and gone before the report (the cgroup is
  // empty and removed, or the sandbox's init killed the namespace), and the
  // report says whether the sandbox holds nothing but its init: only then
  // does the host use it again.
  [[noreturn]] void shepherd() {
    if (const int err = prepare_shepherd(); err != 0) fail_start(LaunchStage::warm, err);
    start_program();
    supervise();
    reap(false);
    bool clean;
    const bool run_cgroup = plan_.cgroup_dir_fd >= 0 && plan_.cgroup_parent_fd >= 0;
    if (run_cgroup) {
      // The cgroup holds the whole run, orphans included.
      if (!program_done_ || !no_children_) kill_cgroup();
      reap_until_none();
      remove_cgroup();  // kills and waits for anything still in it
      // Orphans the sandbox's init has not reaped yet: it does so first.
      clean = namespace_holds_only_init() || ask_sandbox(kWarmClean) == kWarmIsClean;
    } else if (program_done_ && no_children_ && namespace_holds_only_init()) {
      clean = true;  // the program left nothing behind
    } else {
      // kill(-1) in the namespace (only its init can), then our children
      // (the program, and what it made with CLONE_PARENT) are reaped here,
      // the orphans there. A sandbox whose init is gone took its namespace
      // with it: nothing is left, and it is not reused.
      const bool killed = ask_sandbox(kWarmKill) == kWarmKill;
      // No answer (the sandbox's init is gone or deaf) or it could not
      // kill: killing it ends the namespace and everything in it. Our
      // children (in the namespace) are reaped first: its end waits for
      // that. Its exit then says everything of the namespace is gone.
      if (!killed) call(SYS_pidfd_send_signal, plan_.warm_pidfd, SIGKILL, nullptr, 0);
      reap_until_none();
      if (!killed) {
        pollfd p{plan_.warm_pidfd, POLLIN, 0};
        while (call(SYS_ppoll, &p, 1, nullptr, nullptr, kSigsetSize) == -EINTR) {
        }
      }
      clean = killed && ask_sandbox(kWarmClean) == kWarmIsClean;
    }
    if (plan_.cgroup_dir_fd >= 0 && !run_cgroup && !cgroup_empty()) {
      // The sandbox's own cgroup, whose run ended with its namespace: what
      // is left in it was put there from outside. cgroup.kill ends it, but
      // a cgroup once killed kills what is later cloned into it (kernels
      // that compare its kill count with the parent's), so the sandbox is
      // not used again.
      kill_cgroup_and_wait();
      clean = false;
    }
    rusage usage{};
    call(SYS_getrusage, RUSAGE_CHILDREN, &usage);
    char ignored[64];
    while (call(SYS_recvfrom, plan_.channel_fd, ignored, sizeof ignored, MSG_DONTWAIT, nullptr, nullptr) >
           0) {
    }
    InitReport r;
    r.kind = InitReport::ended;
    r.wait_status = program_done_ ? status_ : SIGKILL;
    r.user_usec = usage.ru_utime.tv_sec * 1000000L + usage.ru_utime.tv_usec;
    r.system_usec = usage.ru_stime.tv_sec * 1000000L + usage.ru_stime.tv_usec;
    r.max_rss_kb = usage.ru_maxrss;
    r.sandbox_clean = clean ? 1 : 0;
    report(r);
    exit_now(0);
  }

  InitPlan& plan_;
  int signal_fd_ = -1;
  int ns_proc_fd_ = -1;  ///< the namespace's own /proc (a pid_namespace init that mounted it)
  int program_ = -1;
  bool program_done_ = false;
  bool no_children_ = false;
  bool proc_mounted_ = false;
  bool killed_atomically_ = false;
  int timer_fd_ = -1;     ///< cpu_limit: the timer of the next look at cpu.stat
  int cpu_stat_fd_ = -1;  ///< cpu_limit: the run cgroup's cpu.stat
  bool cpu_limit_hit_ = false;
  bool file_size_hit_ = false;
  int scratch_fd_ = -1;  ///< the scratch tmpfs, held until the end (whether it was full)
  int scratch_failed_ = 0;
  int rounds_ = 0;  ///< calls of kill_namespace
  int status_ = 0;
};

}  // namespace

extern "C" int bs_run_init(void* arg) {
  Init init(*static_cast<InitPlan*>(arg));
  init.run();
}

}  // namespace bounded_subprocess::detail
