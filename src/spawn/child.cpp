// Child: spawning into a containment, and the end of a run.
//
// process_group: the host clones the program itself (CLONE_VM | CLONE_VFORK,
// as posix_spawn does) into a new session, and kills the group at the end.
//
// The others: the host clones an init (CLONE_VM without CLONE_VFORK: a
// process of its own that shares the host's memory, which costs what a
// thread costs instead of what a fork costs) into the new namespaces; the
// init starts the program and reports on a socket pair (launch.cpp). The
// init is cloned with no exit signal, so the host's SIGCHLD disposition
// (even SIG_IGN, which makes the kernel reap children) cannot take its
// status away, and a host's SIGCHLD handler never hears of it.
#include "spawn/child.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>  // struct clone_args, CLONE_CLEAR_SIGHAND
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

#include "base/sigpipe_guard.hpp"
#include "base/sys.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "spawn/broken_run.hpp"
#include "spawn/command.hpp"
#include "spawn/isolation.hpp"
#include "spawn/launch.hpp"
#include "spawn/machine.hpp"
#include "spawn/raw_syscall.hpp"
#include "spawn/warm_pool.hpp"

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kProgramStack = 32 * 1024;
constexpr std::size_t kInitStack = 64 * 1024;
constexpr std::size_t kPlanArea = 3 * kPage;  // InitPlan and the cgroup's name; a warm run's cwd

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// keep_above_stdio, owned; throws where the copy cannot be made.
UniqueFd above_stdio(int fd) {
  const int kept = keep_above_stdio(fd);
  if (fd >= 0 && kept < 0) throw_errno(errno, "fcntl(F_DUPFD_CLOEXEC)");
  return UniqueFd(kept);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
  UniqueFd r(fds[0]);
  UniqueFd w(fds[1]);
  Pipe p;
  p.read_end = above_stdio(r.release());
  p.write_end = above_stdio(w.release());
  return p;
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno(errno, "fcntl(O_NONBLOCK)");
}

// Every signal blocked in this thread while it lives (the child of a clone
// starts with the parent's mask; it must not run a host handler before it
// has reset them). Raw, so glibc's internal signals are blocked too.
class BlockAllSignals {
 public:
  BlockAllSignals() noexcept {
    const unsigned long all = ~0UL;
    raw::call(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old_, sizeof old_);
  }
  ~BlockAllSignals() { raw::call(SYS_rt_sigprocmask, SIG_SETMASK, &old_, nullptr, sizeof old_); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  unsigned long old_ = 0;
};

// The memory a start runs on: [guard][program stack][guard][init stack]
// [plan]. The program's vfork child runs on the program stack; the init of
// a contained run on the init stack, reading the plan, until it is reaped.
constexpr std::size_t kProgramStackAt = kPage;
constexpr std::size_t kInitStackAt = kProgramStackAt + kProgramStack + kPage;
constexpr std::size_t kPlanAt = kInitStackAt + kInitStack;
constexpr std::size_t kRegionSize = kPlanAt + kPlanArea;

// Regions of finished runs, kept for the next ones. Mapping and guarding a
// region, faulting its stack pages in and unmapping it again (a TLB
// shootdown once an init ran on it on another CPU) cost more than the rest
// of the start's own work: a page fault alone costs about 10 us on a VM,
// and with many runs in flight the unmapping alone took a sixth of the
// host's CPU. So the cache keeps as many regions as runs were in flight at
// once, up to kCapacity (about 16 KiB of each stays resident). Where the
// guard pages split a region into four mappings (kernels before 6.13), it
// keeps only kSplitCapacity: every init's exit walks the host's mappings.
// Lock-free slots, so that a child of a fork can spawn whatever the parent's
// threads were doing.
class RegionCache {
 public:
  static constexpr std::size_t kCapacity = 1024;
  static constexpr std::size_t kSplitCapacity = 8;

  void* take() noexcept {
    for (std::size_t i = 0, n = capacity(); i < n; ++i)
      if (slots_[i].load(std::memory_order_relaxed) != nullptr)
        if (void* region = slots_[i].exchange(nullptr, std::memory_order_acquire)) return region;
    return nullptr;
  }
  void give_back(void* region) noexcept {
    for (std::size_t i = 0, n = capacity(); i < n; ++i) {
      void* empty = nullptr;
      if (slots_[i].load(std::memory_order_relaxed) == nullptr &&
          slots_[i].compare_exchange_strong(empty, region, std::memory_order_release))
        return;
    }
    ::munmap(region, kRegionSize);
  }
  // The guard pages of this kernel split regions (see above).
  void note_split() noexcept { split_.store(true, std::memory_order_relaxed); }

 private:
  // The slots in use: a start scans no more of them than can hold a region.
  std::size_t capacity() const noexcept {
    return split_.load(std::memory_order_relaxed) ? kSplitCapacity : kCapacity;
  }

  std::atomic<void*> slots_[kCapacity] = {};
  std::atomic<bool> split_{false};
};

constinit RegionCache region_cache;

// One region, back to the cache on scope exit unless released.
class Region {
 public:
  Region() : ptr_(region_cache.take()) {
    if (ptr_ != nullptr) return;
    ptr_ = ::mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (ptr_ == MAP_FAILED) throw_errno(errno, "mmap");
    guard(at(0));
    guard(at(kProgramStackAt + kProgramStack));
  }
  ~Region() {
    if (ptr_ != nullptr) region_cache.give_back(ptr_);
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  char* at(std::size_t offset) const noexcept { return static_cast<char*>(ptr_) + offset; }
  void* release() noexcept { return std::exchange(ptr_, nullptr); }

 private:
  // A page that faults (SIGSEGV) below a stack. MADV_GUARD_INSTALL (Linux
  // 6.13) marks it in the page tables, so the region stays one mapping that
  // merges with its neighbours: an init's exit walks every mapping of the
  // host (process accounting), and regions of concurrent runs would
  // otherwise add four each. Older kernels: mprotect, which splits it.
  static void guard(char* page) noexcept {
    constexpr int kMadvGuardInstall = 102;  // not in older headers
    if (::madvise(page, kPage, kMadvGuardInstall) == 0) return;
    ::mprotect(page, kPage, PROT_NONE);
    region_cache.note_split();
  }

  void* ptr_;
};

// clone3 with CLONE_CLEAR_SIGHAND (the kernel resets every handled signal,
// so the child resets only the ignored ones) onto the stack at [bottom,
// top), running fn(plan). Falls back to clone where clone3 is refused (a
// seccomp filter) or does not know the flag (before Linux 5.5): `reset` then
// says to reset every disposition. With `clear_tid` (CLONE_CHILD_CLEARTID
// there) no fallback: the refusal is returned. Returns the pid or -errno.
long clone_clearing_handlers(unsigned long flags, int exit_signal, char* bottom, char* top, int* pidfd,
                             int (*fn)(void*), void* plan, SignalReset& reset, int* clear_tid = nullptr) {
  clone_args args{};
  args.flags = flags | CLONE_PIDFD | CLONE_CLEAR_SIGHAND | (clear_tid != nullptr ? CLONE_CHILD_CLEARTID : 0);
  args.pidfd = reinterpret_cast<std::uintptr_t>(pidfd);
  args.child_tid = reinterpret_cast<std::uintptr_t>(clear_tid);
  args.exit_signal = static_cast<unsigned>(exit_signal);
  args.stack = reinterpret_cast<std::uintptr_t>(bottom);
  args.stack_size = static_cast<std::uint64_t>(top - bottom);
  reset = SignalReset::ignored;
  const long pid = bs_clone3(&args, sizeof args, fn, plan);
  if (pid != -ENOSYS && pid != -E2BIG && pid != -EINVAL) return pid;
  if (clear_tid != nullptr) return pid;
  reset = SignalReset::all;
  return bs_clone(flags | CLONE_PIDFD | static_cast<unsigned long>(exit_signal), top, pidfd, fn, plan);
}

// Sharing the host's fd table pays where the init would copy many more fds
// than it needs: the fds the plan names lie far above the host's pidfd
// (the start blocks until the init has taken them, a few microseconds).
// Not under a seccomp filter of the calling thread, which the init shares
// and which may refuse pidfd_getfd by killing.
constexpr int kCopiedFdsWorthSharing = 64;

int fds_worth_taking(InitPlan& plan) {
  const int host = host_pidfd();
  if (host < 0) return -1;
  int highest = -1;
  for (const int* fd : fds_from_host(plan)) highest = *fd > highest ? *fd : highest;
  if (highest - host < kCopiedFdsWorthSharing || ::prctl(PR_GET_SECCOMP) != 0) return -1;
  return host;
}

std::atomic<std::uint64_t> fd_tables_taken_from{0};

// Until the init cloned sharing our fd table has its own (InitPlan::fds_word).
void wait_until_fds_taken(int& word) {
  int now;
  while ((now = __atomic_load_n(&word, __ATOMIC_ACQUIRE)) == kFdsPending)
    ::syscall(SYS_futex, &word, FUTEX_WAIT, kFdsPending, nullptr, nullptr, 0);
  if (now == kFdsTaken) fd_tables_taken_from.fetch_add(1, std::memory_order_relaxed);
}

bool sigchld_reaped_by_kernel() {
  struct sigaction sa {};
  if (::sigaction(SIGCHLD, nullptr, &sa) != 0) return false;
  return sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT) != 0;
}

// SIGCHLD has its default disposition: the kernel keeps a child's status
// for us, and no handler of the host reaps it (the program's exit signal is
// SIGCHLD once it has exec'd).
bool sigchld_default() {
  struct sigaction sa {};
  return ::sigaction(SIGCHLD, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL &&
         (sa.sa_flags & SA_NOCLDWAIT) == 0;
}

// waitid on our own child only, never on any other.
bool wait_for(pid_t pid, int options, siginfo_t& info) {
  info.si_pid = 0;
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid), &info, options | WEXITED | __WALL);
  } while (r < 0 && errno == EINTR);
  return r == 0 && info.si_pid == pid;
}

// wait4 on our own child (`options`: __WALL and maybe WNOHANG); on success
// its status and resource usage go into `info`. Returns what wait4 does.
pid_t reap_into(pid_t pid, int options, ExitInfo& info) {
  rusage ru{};
  int status = 0;
  pid_t r;
  do {
    r = sys::wait4(pid, &status, options, &ru);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    info.status = status;
    info.user_cpu = std::chrono::seconds(ru.ru_utime.tv_sec) + std::chrono::microseconds(ru.ru_utime.tv_usec);
    info.system_cpu =
        std::chrono::seconds(ru.ru_stime.tv_sec) + std::chrono::microseconds(ru.ru_stime.tv_usec);
    info.max_rss_kb = static_cast<std::uint64_t>(ru.ru_maxrss);
  }
  return r;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

[[noreturn]] void throw_start_failure(LaunchStage stage, int err, const ChildSpec& spec, int detail = 0) {
  const std::string& program = spec.argv.front();
  const std::string head = "cannot start " + quoted(program);
  using Subject = SpawnError::Subject;
  std::string isolation;
  switch (stage) {
    case LaunchStage::isolation_mounts:
      isolation = "its own read-only view of the files (mount namespace)";
      break;
    case LaunchStage::isolation_scratch: isolation = "the scratch tmpfs at /tmp"; break;
    case LaunchStage::isolation_volume:
      isolation = "a volume";
      if (spec.isolation != nullptr && detail >= 0 &&
          static_cast<std::size_t>(detail) < spec.isolation->volumes.size()) {
        const Volume& v = spec.isolation->volumes[static_cast<std::size_t>(detail)];
        isolation = "the volume " + quoted(v.source + ":" + v.target);
      }
      break;
    case LaunchStage::isolation_network: isolation = "its empty network namespace"; break;
    case LaunchStage::isolation_limits: isolation = "its limits (rlimits, limit cgroups)"; break;
    case LaunchStage::isolation_privileges:
      isolation = "dropping its privileges (capabilities, no_new_privs)";
      break;
    default: break;
  }
  if (!isolation.empty())
    throw SpawnError(err, Subject::containment, "isolation", head + ": its isolation failed: " + isolation);
  switch (stage) {
    case LaunchStage::exec: throw SpawnError(err, Subject::program, program, head);
    case LaunchStage::cwd:
      throw SpawnError(err, Subject::cwd, *spec.cwd,
                       head + ": cannot change to the working directory " + quoted(*spec.cwd));
    case LaunchStage::init:
    case LaunchStage::cgroup:
      throw SpawnError(err, Subject::containment, program, head + ": setting up its containment failed");
    default: throw SpawnError(err, Subject::system, program, head + ": preparing the child failed");
  }
}

// One report from the init, and the fd that came with it (if any) into
// `fd`. Returns what recvmsg returns.
ssize_t receive_report(int channel, InitReport& report, UniqueFd& fd, int flags = 0) {
  iovec iov{&report, sizeof report};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(channel, &msg, MSG_CMSG_CLOEXEC | flags);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int received;
      std::memcpy(&received, CMSG_DATA(c), sizeof received);
      fd = above_stdio(received);
    }
  }
  return n;
}

}  // namespace

// The init runs in the host's memory (CLONE_VM) until the program has
// exec'd: what it reads of the command lives here until then, not in the
// caller's objects, which are gone by the time a deferred start is reported.
struct Child::PendingStart {
  std::vector<std::string> argv;  ///< the program's name only (for a failure's error)
  std::optional<std::string> cwd;
  ExecCommand command;
  bool taken = false;  ///< the report below came (a failure: complete_start said false)
  ssize_t n = 0;
  InitReport report{};
};

void Child::PendingStartDelete::operator()(PendingStart* start) const noexcept {
  delete start;
}

namespace {

// The run's cgroup folder, made (and locked) for one start: removed on
// scope exit unless released to the Child, which removes it (again) once
// its init is reaped.
class CgroupFolder {
 public:
  CgroupFolder() = default;
  ~CgroupFolder() { remove(); }
  CgroupFolder(const CgroupFolder&) = delete;
  CgroupFolder& operator=(const CgroupFolder&) = delete;

  /// A fresh folder under `parent_fd`, locked for the run's life (the init
  /// keeps a copy of `dir()`). Throws SpawnError (subject containment).
  void create(int parent_fd, const std::string& parent_path) {
    parent_fd_ = parent_fd;
    const int made =
        create_locked_cgroup(parent_fd, "bounded_subprocess." + std::to_string(::getpid()) + ".", name_);
    if (made < 0) {
      name_.clear();
      throw SpawnError(-made, SpawnError::Subject::containment, "cgroup",
                       "cannot create a cgroup in " + parent_path);
    }
    dir_ = UniqueFd(made);
  }
  int dir() const noexcept { return dir_.get(); }
  const std::string& name() const noexcept { return name_; }
  /// The host is done with the folder's fd (the init has its copy).
  void close_dir() noexcept { dir_.reset(); }
  /// The folder stays; its name, for whoever removes it later.
  std::string release() noexcept {
    dir_.reset();
    return std::exchange(name_, std::string());
  }
  void remove() noexcept {
    dir_.reset();
    if (!name_.empty()) ::unlinkat(parent_fd_, name_.c_str(), AT_REMOVEDIR);
    name_.clear();
  }

 private:
  int parent_fd_ = -1;
  std::string name_;
  UniqueFd dir_;
};

// The child's ends of its standard fds (above 2, closed with this) and the
// parent's ends of its pipes.
struct Stdio {
  Pipe in, out, err;
  UniqueFd null_in, null_out;
  int child_fd[3] = {-1, -1, -1};
};

// A warm sandbox cannot serve this call (ChildStart::contained): it is
// made again without one.
struct WarmDeclined {};

// A sandbox taken from the pool for one start: back to the pool (unused)
// unless the Child took it.
class SandboxLease {
 public:
  explicit SandboxLease(WarmSandbox* s) noexcept : s_(s) {}
  ~SandboxLease() {
    if (s_ != nullptr) warm_release(s_);
  }
  SandboxLease(const SandboxLease&) = delete;
  SandboxLease& operator=(const SandboxLease&) = delete;
  WarmSandbox* get() const noexcept { return s_; }
  WarmSandbox* take() noexcept { return std::exchange(s_, nullptr); }

 private:
  WarmSandbox* s_;
};

// Cleared once a start found that this process cannot enter sandboxes
// directly (setns of a PID namespace refused, no clone3): its runs then go
// through a shepherd.
std::atomic<bool> direct_entry{true};

// This thread's namespace for its children back to its own after a direct
// start. Cannot fail but for a lack of kernel memory, and must not: the
// thread's later children would be born in a sandbox.
void restore_pid_namespace(int own) noexcept {
  for (int attempt = 0; attempt < 100; ++attempt)
    if (::setns(own, CLONE_NEWPID) == 0) return;
  static constexpr char kMessage[] =
      "bounded_subprocess: cannot return this thread to its own PID namespace after a start; aborting\n";
  [[maybe_unused]] const ssize_t n = ::write(2, kMessage, sizeof kMessage - 1);
  std::abort();
}

}  // namespace

// The steps of Child::spawn, in order: the command and its containment,
// the standard fds, the program's plan, then the program's own clone
// (process_group) or its init's (the run's cgroup, the isolation, a warm
// sandbox or new namespaces, the start's report), and the parent's ends of
// the pipes handed to the Child. Each resource is owned by a scope object
// until it is handed to the Child, so a throw at any step leaves nothing.
class ChildStart {
 public:
  /// `unproven`: the containment of a run that is its own probe
  /// (unproven_containment); it goes cold, and its init must mount /proc.
  ChildStart(const ChildSpec& spec, bool warm, std::optional<Containment> unproven = std::nullopt)
      : spec_(spec),
        warm_(warm && !unproven),
        unproven_(unproven.has_value()),
        containment_(checked_containment(spec, unproven)),
        command_(spec.argv, spec.isolation != nullptr ? isolated_env(*spec.isolation, spec.env) : spec.env),
        m_(machine()) {}

  Child run() {
    wire_stdio();
    child_.containment_ = containment_;
    prefill_stdin();
    ProgramPlan program = program_plan();
    if (containment_ == Containment::process_group) {
      start_process_group(program);
    } else {
      start_contained(program);
    }
    hand_over_pipes();
    return std::move(child_);  // the child's ends of the pipes close here, in the parent
  }

 private:
  // Validates the command and the isolation, then the containment: an
  // unproven run's own, or what the request gets on this machine.
  static Containment checked_containment(const ChildSpec& spec, std::optional<Containment> unproven) {
    validate_command(spec.argv, spec.env, spec.cwd);
    if (spec.isolation != nullptr) validate_isolation(*spec.isolation);
    if (unproven) return *unproven;
    ContainmentRequest request = spec.containment;
    if (spec.isolation != nullptr) request = isolation_containment(*spec.isolation, request);
    const Containment containment = choose_containment(request);
    if (containment == Containment::process_group && sigchld_reaped_by_kernel()) {
      throw SpawnError(
          ECHILD, SpawnError::Subject::containment, "process_group",
          "SIGCHLD is ignored in this process (SIG_IGN or SA_NOCLDWAIT), so the kernel would reap "
          "the child and its exit status could not be known; containment process_group needs "
          "the default SIGCHLD disposition");
    }
    return containment;
  }

  void wire_stdio() {
    auto wire = [&](StdioMode mode, int target, Pipe& pipe, bool child_reads) {
      switch (mode) {
        case StdioMode::pipe:
          pipe = make_pipe();
          stdio_.child_fd[target] = child_reads ? pipe.read_end.get() : pipe.write_end.get();
          break;
        case StdioMode::null: {
          UniqueFd& null = child_reads ? stdio_.null_in : stdio_.null_out;
          if (!null) null = above_stdio(::open("/dev/null", (child_reads ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
          if (!null) throw_errno(errno, "open /dev/null");
          stdio_.child_fd[target] = null.get();
          break;
        }
        case StdioMode::inherit: stdio_.child_fd[target] = target; break;
      }
    };
    wire(spec_.stdin_mode, 0, stdio_.in, true);
    wire(spec_.stdout_mode, 1, stdio_.out, false);
    wire(spec_.stderr_mode, 2, stdio_.err, false);
  }

  // The pipe is empty: what fits goes in now, before the program runs.
  void prefill_stdin() {
    if (!stdio_.in.write_end) return;
    set_nonblocking(stdio_.in.write_end.get());
    if (spec_.stdin_prefill.empty()) return;
    const ssize_t n =
        ::write(stdio_.in.write_end.get(), spec_.stdin_prefill.data(), spec_.stdin_prefill.size());
    if (n > 0) child_.prefilled_ = static_cast<std::size_t>(n);
  }

  ProgramPlan program_plan() const {
    ProgramPlan program;
    program.path = command_.path();
    program.argv = command_.argv();
    program.envp = command_.envp();
    program.cwd = spec_.cwd ? spec_.cwd->c_str() : nullptr;
    for (int i = 0; i < 3; ++i) program.stdio[i] = stdio_.child_fd[i];
    return program;
  }

  // process_group: the host clones the program itself (a vfork child on
  // the region's program stack, done with it once this returns).
  void start_process_group(ProgramPlan& program) {
    int pidfd = -1;
    long pid;
    {
      BlockAllSignals blocked;
      child_.started_ = Clock::now();
      pid = clone_clearing_handlers(CLONE_VM | CLONE_VFORK, SIGCHLD, region_.at(kProgramStackAt),
                                    region_.at(kProgramStackAt + kProgramStack), &pidfd, bs_launch_program,
                                    &program, program.reset_signals);
    }
    UniqueFd owned_pidfd = program_started(pid, pidfd, program);
    child_.pid_ = child_.direct_ = static_cast<pid_t>(pid);
    child_.exit_fd_ = above_stdio(owned_pidfd.release());
  }

  // The program's own clone (a vfork child) has returned: its pidfd. A
  // failed clone, or a child that could not exec (it has exited, 127, and is
  // reaped here), is thrown; one that could not enter its warm sandbox as
  // WarmDeclined.
  UniqueFd program_started(long pid, int pidfd, const ProgramPlan& program) {
    if (pid < 0)
      throw SpawnError(static_cast<int>(-pid), SpawnError::Subject::system, spec_.argv.front(),
                       "cannot start " + quoted(spec_.argv.front()) + ": clone");
    UniqueFd owned(pidfd);
    if (program.error_stage != LaunchStage::none) {
      siginfo_t info;
      wait_for(static_cast<pid_t>(pid), 0, info);
      if (program.error_stage == LaunchStage::warm) {
        warm_declined();
        throw WarmDeclined{};
      }
      throw_start_failure(program.error_stage, program.error_errno, spec_);
    }
    return owned;
  }

  // An init (on the region's init stack, reading the plan there until it is
  // reaped) starts the program in the containment and reports.
  void start_contained(const ProgramPlan& program) {
    const bool cgroup_run = containment_ == Containment::cgroup;
    const bool isolated = spec_.isolation != nullptr;
    SandboxLease lease(warm_ && (!isolated || isolation_can_be_warm(*spec_.isolation)) &&
                               containment_ != Containment::subreaper && warm_sandboxes_enabled(m_)
                           ? warm_acquire(m_, cgroup_run)
                           : nullptr);
    if (lease.get() != nullptr && can_enter_directly(*lease.get(), cgroup_run) &&
        start_direct(program, lease, cgroup_run))
      return;
    // An isolated run enters a sandbox only directly (a shepherd would be
    // its init, whose isolation steps assume namespaces of the run's own):
    // the sandbox goes back unused.
    if (isolated && lease.get() != nullptr) warm_release(lease.take());
    WarmSandbox* sandbox = lease.get();
    // A start that can be made only once, whose failure names only the
    // program and the cwd: the caller takes its report later.
    Child::PendingStartPtr deferred;
    if (spec_.defer_start && sandbox == nullptr && !unproven_ && !isolated)
      deferred.reset(new Child::PendingStart{
          {spec_.argv.front()}, spec_.cwd, ExecCommand(ExecCommand::OwnAll{}, command_)});
    InitPlan* plan = init_plan(program);
    if (deferred) {
      plan->program.path = deferred->command.path();
      plan->program.argv = deferred->command.argv();
      plan->program.envp = deferred->command.envp();
      plan->program.cwd = deferred->cwd ? deferred->cwd->c_str() : nullptr;
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) throw_errno(errno, "socketpair");
    UniqueFd host_end = above_stdio(pair[0]);
    UniqueFd init_end = above_stdio(pair[1]);
    plan->channel_fd = init_end.get();
    CgroupFolder cgroup;
    UniqueFd cgroup_procs_write;
    if (cgroup_run && sandbox != nullptr && sandbox->cgroup_dir) {
      use_sandbox_cgroup(*plan, *sandbox);
    } else if (cgroup_run) {
      cgroup_procs_write = make_run_cgroup(*plan, cgroup);
    }
    if (spec_.isolation != nullptr) set_up_isolation(*plan, cgroup);
    const unsigned long clone_flags =
        sandbox != nullptr ? use_sandbox(*plan, *sandbox) : init_clone_flags(containment_, m_);
    // A plain init (nothing of a sandbox or an isolation to take along) in a
    // host holding many fds shares the host's table for a moment, instead
    // of copying it (InitPlan::fetch_from); not one in a user namespace of
    // its own, where the host's fds are out of reach (pidfd_getfd needs
    // CAP_SYS_PTRACE over the host's).
    plan->fetch_from = sandbox == nullptr && spec_.isolation == nullptr && (clone_flags & CLONE_NEWUSER) == 0
                           ? fds_worth_taking(*plan)
                           : -1;
    int pidfd = -1;
    long pid;
    {
      BlockAllSignals blocked;
      child_.started_ = Clock::now();
      if (plan->fetch_from >= 0) {
        plan->fds_word = kFdsPending;
        pid = clone_clearing_handlers(clone_flags | CLONE_FILES, 0, region_.at(kInitStackAt),
                                      region_.at(kPlanAt), &pidfd, bs_run_init, plan, plan->reset_signals,
                                      &plan->fds_word);
        if (pid == -ENOSYS || pid == -E2BIG || pid == -EINVAL) plan->fetch_from = -1;  // clone3 refused
      }
      if (plan->fetch_from < 0)
        pid = clone_clearing_handlers(clone_flags, 0, region_.at(kInitStackAt), region_.at(kPlanAt), &pidfd,
                                      bs_run_init, plan, plan->reset_signals);
    }
    if (pid >= 0 && plan->fetch_from >= 0) wait_until_fds_taken(plan->fds_word);
    // The init has its copies of these; the host keeps none.
    init_end.reset();
    cgroup_procs_write.reset();
    cgroup.close_dir();
    if (pid < 0)  // the sandbox goes back with the lease: never entered
      throw SpawnError(static_cast<int>(-pid), SpawnError::Subject::containment,
                       std::string(to_string(containment_)),
                       "cannot start " + quoted(spec_.argv.front()) + ": clone of its init");
    // From here on the Child owns the init, its memory, the sandbox and the
    // cgroup folder: its kill_and_finish ends them all.
    child_.sandbox_ = lease.take();
    child_.direct_ = static_cast<pid_t>(pid);
    child_.exit_fd_ = above_stdio(pidfd);
    child_.region_ = region_.release();
    child_.channel_ = std::move(host_end);
    child_.cgroup_name_ = cgroup.release();
    if (deferred) {
      child_.pending_start_ = std::move(deferred);
      return;
    }
    child_.await_start(spec_);
  }

  InitPlan* init_plan(const ProgramPlan& program) {
    auto* plan = new (region_.at(kPlanAt)) InitPlan;
    plan->program = program;
    plan->program.reset_signals = SignalReset::none;  // the init has
    plan->kind = containment_ == Containment::subreaper ? InitKind::subreaper : InitKind::pid_namespace;
    plan->proc_fd = m_.proc_fd;
    plan->map_ids = m_.user_namespace && plan->kind == InitKind::pid_namespace;
    plan->uid = ::geteuid();
    plan->gid = ::getegid();
    plan->mount_proc = m_.mount_proc && plan->kind == InitKind::pid_namespace;
    plan->proc_required = unproven_ && plan->mount_proc;
    plan->program_stack_bottom = region_.at(kProgramStackAt);
    plan->program_stack_top = region_.at(kProgramStackAt + kProgramStack);
    return plan;
  }

  // The run's cgroup: the folder (locked), the Child's read-only
  // cgroup.procs, and the plan's fds and name. Returns the cgroup.procs the
  // program's start writes to (where clone3 cannot clone into the cgroup).
  UniqueFd make_run_cgroup(InitPlan& plan, CgroupFolder& cgroup) {
    cgroup.create(m_.cgroup_parent_fd, m_.cgroup_parent);
    UniqueFd procs_write = above_stdio(::openat(cgroup.dir(), "cgroup.procs", O_WRONLY | O_CLOEXEC));
    UniqueFd procs_read;
    if (procs_write) procs_read = above_stdio(::openat(cgroup.dir(), "cgroup.procs", O_RDONLY | O_CLOEXEC));
    if (!procs_read)
      throw SpawnError(errno, SpawnError::Subject::containment, "cgroup", "cannot open the run's cgroup");
    child_.cgroup_procs_ = std::make_shared<const UniqueFd>(std::move(procs_read));
    std::memcpy(region_.at(kPlanAt + sizeof(InitPlan)), cgroup.name().c_str(), cgroup.name().size() + 1);
    plan.cgroup_name = region_.at(kPlanAt + sizeof(InitPlan));
    plan.cgroup_dir_fd = cgroup.dir();
    plan.cgroup_parent_fd = m_.cgroup_parent_fd;
    plan.program.cgroup_procs_fd = procs_write.get();
    plan.program.new_cgroup_namespace = true;
    return procs_write;
  }

  // The program becomes our own child, whose exit signal is SIGCHLD once it
  // has exec'd (the kernel sets it at exec): only where the host neither
  // ignores SIGCHLD nor handles it (a handler may reap every child) is its
  // status surely ours. Elsewhere a shepherd, which never execs, is.
  bool can_enter_directly(const WarmSandbox& sandbox, bool cgroup_run) const {
    return (sandbox.setns_flags & CLONE_NEWUSER) == 0 && sandbox.proc &&
           (!cgroup_run || sandbox.cgroup_dir) && direct_entry.load(std::memory_order_relaxed) &&
           sigchld_default();
  }

  // A warm sandbox entered directly (the caller needs no user namespace):
  // the host clones the program into the sandbox's PID namespace itself
  // (this thread's namespace for children is the sandbox's for the clone,
  // every signal blocked), into the sandbox's cgroup for a cgroup run, and
  // the program enters the sandbox's mount namespace before it execs. No
  // shepherd: the program is our own child (cloned with no exit signal;
  // its exec makes it SIGCHLD, see can_enter_directly), cloned from the
  // calling thread, so it has the caller's state of the call. The end is
  // the Child's (settle_direct). False when this process cannot start it so
  // (the run then goes through a shepherd).
  bool start_direct(const ProgramPlan& base, SandboxLease& lease, bool cgroup_run) {
    WarmSandbox& sandbox = *lease.get();
    ProgramPlan program = base;
    // The host's cwd, found again by its path in the sandbox's mounts (the
    // plan area is free: no init runs on this region).
    char* cwd = region_.at(kPlanAt);
    if (::getcwd(cwd, kPlanArea) == nullptr || cwd[0] != '/' || !read_file_id(".", program.warm_cwd_id) ||
        !read_file_id("/", program.warm_root_id)) {
      warm_declined();
      throw WarmDeclined{};
    }
    program.warm_pidfd = sandbox.pidfd.get();
    program.warm_cwd = cwd;
    program.new_cgroup_namespace = cgroup_run;
    program.reset_signals = SignalReset::ignored;  // CLONE_CLEAR_SIGHAND
    UniqueFd own(::openat(m_.proc_fd, "thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
    if (!own) return false;
    // An isolated run: the program sets up its isolation itself (the
    // pooled network namespace, its limit cgroups, its privileges, and its
    // own mount namespace in the sandbox's unless it enters a view made
    // ahead, mount_views.hpp), as under a run's own init; what that init
    // would make for it (the scratch, where no view has it) is made here.
    struct IsolationUndo {
      Child& child;
      bool keep = false;
      ~IsolationUndo() {
        if (!keep) child.isolation_.reset();
      }
    } isolation_undo{child_};
    if (spec_.isolation != nullptr) {
      child_.isolation_ = std::make_shared<IsolationSetup>(*spec_.isolation, containment_, -1);
      program.warm_view_fd = child_.isolation_->use_view(sandbox, cwd);
      program.isolation = child_.isolation_->plan();
      program.scratch_mount_fd = child_.isolation_->make_scratch();
      child_.kernel_memory_limit_ = spec_.isolation->memory_limit_mb.has_value();
    }
    clone_args args{};
    args.flags =
        CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND | (cgroup_run ? CLONE_INTO_CGROUP : 0);
    int pidfd = -1;
    args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
    args.exit_signal = 0;
    args.stack = reinterpret_cast<std::uintptr_t>(region_.at(kProgramStackAt));
    args.stack_size = kProgramStack;
    args.cgroup = cgroup_run ? static_cast<std::uint64_t>(sandbox.cgroup_dir.get()) : 0;
    long pid;
    {
      BlockAllSignals blocked;
      if (::setns(sandbox.pidfd.get(), CLONE_NEWPID) != 0) {
        direct_entry.store(false, std::memory_order_relaxed);
        return false;
      }
      child_.started_ = Clock::now();
      pid = bs_clone3(&args, sizeof args, bs_launch_program, &program);
      restore_pid_namespace(own.get());
    }
    if (pid == -ENOSYS || pid == -E2BIG || pid == -EINVAL) {
      direct_entry.store(false, std::memory_order_relaxed);
      return false;
    }
    // A program that could not start made nothing: the sandbox goes back
    // with the lease.
    UniqueFd owned_pidfd = program_started(pid, pidfd, program);
    isolation_undo.keep = true;
    UniqueFd end(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event watch{};
    watch.events = EPOLLIN;
    if (!end || ::epoll_ctl(end.get(), EPOLL_CTL_ADD, owned_pidfd.get(), &watch) != 0) {
      const int err = errno;
      // It runs: killed with its sandbox, which is not used again.
      ::syscall(SYS_pidfd_send_signal, owned_pidfd.get(), SIGKILL, nullptr, 0);
      siginfo_t info;
      wait_for(static_cast<pid_t>(pid), 0, info);
      warm_retire(lease.take());
      throw_errno(err, "epoll");
    }
    child_.pid_ = child_.direct_ = static_cast<pid_t>(pid);
    child_.exit_fd_ = above_stdio(end.release());
    child_.program_pidfd_ = above_stdio(owned_pidfd.release());
    child_.direct_end_ = Child::DirectEnd::running;
    if (cgroup_run) child_.cgroup_procs_ = sandbox.cgroup_procs;
    child_.sandbox_ = lease.take();
    return true;
  }

  // A warm sandbox's own cgroup (warm_pool.hpp): the program is born into
  // it, and the shepherd only empties it at the end.
  void use_sandbox_cgroup(InitPlan& plan, const WarmSandbox& sandbox) {
    child_.cgroup_procs_ = sandbox.cgroup_procs;
    plan.cgroup_dir_fd = sandbox.cgroup_dir.get();
    plan.program.new_cgroup_namespace = true;
  }

  void set_up_isolation(InitPlan& plan, const CgroupFolder& cgroup) {
    const Isolation& isolation = *spec_.isolation;
    child_.isolation_ = std::make_shared<IsolationSetup>(isolation, containment_, cgroup.dir());
    plan.program.isolation = child_.isolation_->plan();
    plan.read_limit_events = child_.isolation_->read_run_cgroup_events();
    child_.kernel_memory_limit_ = isolation.memory_limit_mb.has_value();
    if (isolation.cpu_limit) {
      plan.cpu_limit_usec = static_cast<std::int64_t>(isolation.cpu_limit->count() * 1e6);
      if (plan.cpu_limit_usec < 1) plan.cpu_limit_usec = 1;
      plan.cpu_count = IsolationSetup::cpu_count();
    }
  }

  // A warm sandbox (warm_pool.hpp): a shepherd enters its namespaces, made
  // long ago, instead of an init that makes new ones. Returns the clone
  // flags of the shepherd (no new namespace).
  unsigned long use_sandbox(InitPlan& plan, const WarmSandbox& sandbox) {
    plan.kind = InitKind::warm_shepherd;
    plan.map_ids = false;
    plan.mount_proc = false;
    plan.warm_pidfd = sandbox.pidfd.get();
    plan.warm_channel_fd = sandbox.channel.get();
    plan.warm_setns_flags = sandbox.setns_flags;
    plan.cwd_buffer = region_.at(kPlanAt + 2 * kPage);
    plan.cwd_buffer_size = kPage;
    return init_clone_flags(Containment::subreaper, m_);
  }

  void hand_over_pipes() {
    if (stdio_.in.write_end) child_.stdin_ = std::move(stdio_.in.write_end);
    if (stdio_.out.read_end) {
      set_nonblocking(stdio_.out.read_end.get());
      child_.stdout_ = std::move(stdio_.out.read_end);
    }
    if (stdio_.err.read_end) {
      set_nonblocking(stdio_.err.read_end.get());
      child_.stderr_ = std::move(stdio_.err.read_end);
    }
  }

  const ChildSpec& spec_;
  const bool warm_;
  const bool unproven_;
  const Containment containment_;
  const ExecCommand command_;
  const Machine& m_;
  Stdio stdio_;
  Child child_;
  // The stacks (and a contained run's plan): the init runs on them until it
  // is reaped, so its Child keeps them; a vfork child is done with them
  // here.
  Region region_;
};

Child Child::spawn(const ChildSpec& spec) {
  // The first contained run of a process is its own probe (a throw-away
  // init would cost as much as the run's own namespaces); where it fails,
  // the mechanisms are probed and the run is made again: nothing of it ran.
  // Only a request for the strongest (an exact one never is): its bad input
  // is then reported by ChildStart as any run's, in the same order.
  std::optional<Containment> unproven;
  if (!spec.containment.exactly)
    unproven = unproven_containment(
        spec.isolation != nullptr ? isolation_request(*spec.isolation, spec.containment) : spec.containment);
  if (unproven) {
    try {
      Child child = ChildStart(spec, false, unproven).run();
      proven_by_run(*unproven);
      return child;
    } catch (const SpawnError&) {
    }
  }
  try {
    return ChildStart(spec, true).run();
  } catch (const WarmDeclined&) {
    return ChildStart(spec, false).run();
  }
}

int exit_code_from_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

Child::Child(Child&& other) noexcept {
  *this = std::move(other);
}

Child& Child::operator=(Child&& other) noexcept {
  if (this == &other) return *this;
  if (!finished_ && direct_ > 0) kill_and_finish();
  release();
  pid_ = std::exchange(other.pid_, 0);
  direct_ = std::exchange(other.direct_, -1);
  containment_ = other.containment_;
  started_ = other.started_;
  prefilled_ = other.prefilled_;
  stdin_ = std::move(other.stdin_);
  stdout_ = std::move(other.stdout_);
  stderr_ = std::move(other.stderr_);
  exit_fd_ = std::move(other.exit_fd_);
  channel_ = std::move(other.channel_);
  program_pidfd_ = std::move(other.program_pidfd_);
  cgroup_procs_ = std::move(other.cgroup_procs_);
  cgroup_name_ = std::move(other.cgroup_name_);
  region_ = std::exchange(other.region_, nullptr);
  isolation_ = std::move(other.isolation_);
  kernel_memory_limit_ = other.kernel_memory_limit_;
  sandbox_ = std::exchange(other.sandbox_, nullptr);
  direct_end_ = std::exchange(other.direct_end_, DirectEnd::none);
  direct_exit_ = other.direct_exit_;
  direct_sandbox_clean_ = other.direct_sandbox_clean_;
  killed_ = std::exchange(other.killed_, false);
  finished_ = std::exchange(other.finished_, false);
  pending_start_ = std::move(other.pending_start_);
  return *this;
}

Child::~Child() {
  if (!finished_ && direct_ > 0) kill_and_finish();
  release();
}

void Child::release() noexcept {
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
  exit_fd_.reset();
  channel_.reset();
  program_pidfd_.reset();
  cgroup_procs_.reset();
  // The init removes the run's cgroup; not if it died first.
  if (!cgroup_name_.empty()) ::unlinkat(machine().cgroup_parent_fd, cgroup_name_.c_str(), AT_REMOVEDIR);
  cgroup_name_.clear();
  isolation_.reset();  // its limit cgroups, empty once the init is reaped
  // Only once the init is reaped: it ran on this memory.
  if (region_ != nullptr) region_cache.give_back(std::exchange(region_, nullptr));
  // A run that did not end with a clean report: its sandbox is not reused.
  if (sandbox_ != nullptr) warm_retire(static_cast<WarmSandbox*>(std::exchange(sandbox_, nullptr)));
}

bool Child::exited() noexcept {
  if (finished_ || !exit_fd_ || direct_end_ == DirectEnd::over) return true;
  pollfd p{exit_fd_.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  return direct_end_ == DirectEnd::none || settle_direct();
}

// The end of a run in a warm sandbox entered directly, one step per
// readiness of exit_fd: the program has exited (reaped here); when nothing
// else of the run is left (the common case: the namespace's /proc lists
// only its init, the cgroup holds nothing), it is over at once. Otherwise
// the sandbox's init kills and reaps the rest (kWarmEnd) and answers on
// its channel, which exit_fd then waits for; should it be gone, its exit
// (when the kernel has ended its namespace) ends the run.
bool Child::settle_direct() noexcept {
  auto* sandbox = static_cast<WarmSandbox*>(sandbox_);
  const int set = exit_fd_.get();
  // exit_fd waits for `fd` alone from now on.
  auto wait_for_only = [&](int fd) {
    ::epoll_ctl(set, EPOLL_CTL_DEL, program_pidfd_.get(), nullptr);
    ::epoll_ctl(set, EPOLL_CTL_DEL, sandbox->channel.get(), nullptr);
    epoll_event watch{};
    watch.events = EPOLLIN;
    return ::epoll_ctl(set, EPOLL_CTL_ADD, fd, &watch) == 0;
  };
  // The sandbox's init is gone, could not end the rest, or says something
  // is left: it is killed (if it still lives), and its exit, which the
  // kernel delays until every process of its namespace is gone, ends the
  // run. The sandbox is not used again.
  auto sandbox_gone = [&] {
    ::syscall(SYS_pidfd_send_signal, sandbox->pidfd.get(), SIGKILL, nullptr, 0);
    direct_sandbox_clean_ = false;
    direct_end_ = DirectEnd::dying;
    if (wait_for_only(sandbox->pidfd.get())) return false;
    // Cannot wait for it by event: wait here (it is killed; its end is near).
    pollfd p{sandbox->pidfd.get(), POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    direct_end_ = DirectEnd::over;
    return true;
  };
  switch (direct_end_) {
    case DirectEnd::none:
    case DirectEnd::over: return true;
    case DirectEnd::running: {
      const pid_t r = reap_into(direct_, __WALL | WNOHANG, direct_exit_);
      if (r == 0) return false;  // not yet (a spurious wake-up)
      if (r != direct_) {
        direct_exit_.status_known = false;  // reaped by someone else
        direct_exit_.status = SIGKILL;
      }
      // The sandbox's init was killed from outside (the kernel then ends its
      // namespace, the program with it; the init's end of the channel is
      // closed before that): the run's containment broke.
      pollfd init_gone{sandbox->channel.get(), POLLIN, 0};
      if (::poll(&init_gone, 1, 0) > 0 && (init_gone.revents & (POLLHUP | POLLERR)) != 0) {
        direct_exit_.containment_broken = true;
        return sandbox_gone();
      }
      if (only_init_listed(sandbox->proc.get()) &&
          (!sandbox->cgroup_events || cgroup_populated(sandbox->cgroup_events.get()) == 0)) {
        direct_sandbox_clean_ = true;
        direct_end_ = DirectEnd::over;
        return true;
      }
      direct_end_ = DirectEnd::draining;
      const char request = kWarmEnd;
      if (!wait_for_only(sandbox->channel.get()) ||
          ::send(sandbox->channel.get(), &request, 1, MSG_NOSIGNAL) != 1)
        return sandbox_gone();
      return false;
    }
    case DirectEnd::draining: {
      char answer = 0;
      ssize_t n;
      do {
        n = ::recv(sandbox->channel.get(), &answer, 1, MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      if (n != 1 || answer != kWarmIsClean) return sandbox_gone();
      direct_sandbox_clean_ = true;
      direct_end_ = DirectEnd::over;
      return true;
    }
    case DirectEnd::dying: {
      pollfd p{sandbox->pidfd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return false;
      direct_end_ = DirectEnd::over;
      return true;
    }
  }
  return true;
}

void Child::wait_for_end() noexcept {
  while (exit_fd_ && !exited()) {
    pollfd p{exit_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return;
  }
}

// Every process of the run is gone: what its limit cgroups (and a scratch
// the host made) counted, added to what the run's end reported.
void Child::add_isolation_counts(ExitInfo& info) noexcept {
  if (isolation_) {
    const LimitCounters counted = isolation_->finish();
    info.limits.pids = info.limits.pids || counted.pids;
    info.limits.memory = info.limits.memory || counted.memory;
    info.limits.scratch = info.limits.scratch || counted.scratch;
    info.memory_oom_kill = info.memory_oom_kill || counted.memory_oom_kill;
  }
  info.kernel_memory_limit = kernel_memory_limit_;
}

ExitInfo Child::finish_direct() {
  wait_for_end();  // called before the end (a caller that did not ask exited())
  ExitInfo info = direct_exit_;
  add_isolation_counts(info);
  if (sandbox_ != nullptr && direct_end_ == DirectEnd::over && direct_sandbox_clean_) {
    if (isolation_) isolation_->run_gone();
    warm_release(static_cast<WarmSandbox*>(std::exchange(sandbox_, nullptr)));
  }
  finished_ = true;
  const pid_t direct = std::exchange(direct_, -1);
  release();  // a sandbox not shown clean is retired here
  if (!info.status_known)
    throw std::system_error(ECHILD, std::generic_category(),
                            "the exit status of process " + std::to_string(direct) +
                                " cannot be known: it was reaped by someone else (does a handler reap "
                                "every child with __WALL?)");
  return info;
}

Io Child::write_some(std::string_view data, std::size_t& written) {
  if (!stdin_) return Io::closed;
  SigpipeGuard guard;
  while (written < data.size()) {
    const ssize_t n = sys::write(stdin_.get(), data.data() + written, data.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Io::would_block;
    } else {
      if (n < 0 && errno == EPIPE) guard.note_epipe();
      return Io::closed;  // EPIPE (the child closed its stdin) or worse
    }
  }
  return Io::done;
}

void Child::kill() noexcept {
  if (finished_ || direct_ <= 0) return;
  killed_ = true;
  if (direct_end_ != DirectEnd::none) {
    // The program; exited() then has the sandbox's init end the rest.
    if (direct_end_ == DirectEnd::running)
      ::syscall(SYS_pidfd_send_signal, program_pidfd_.get(), SIGKILL, nullptr, 0);
    return;
  }
  if (containment_ == Containment::process_group) {
    ::kill(-direct_, SIGKILL);  // the leader cannot leave its group
    return;
  }
  // The init kills and reaps everything, then reports and exits. A
  // subreaper's init could have been stopped by a descendant: wake it.
  const char byte = 'k';
  ::send(channel_.get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (containment_ == Containment::subreaper) ::kill(direct_, SIGCONT);
}

// The init answers once the program has exec'd (or could not); a
// subreaper's sends the program's pidfd along. A kill request (a cancel, a
// deadline) that the init never read, if it died, resets the connection:
// that error comes before its report.
bool Child::take_start_report(InitReport& report, ssize_t& n, int flags) noexcept {
  do {
    n = receive_report(channel_.get(), report, program_pidfd_, flags);
  } while (n < 0 && (errno == EINTR || errno == ECONNRESET));
  const bool started = n == static_cast<ssize_t>(sizeof report) && report.kind == InitReport::started;
  if (started) pid_ = report.program_pid;
  return started;
}

void Child::await_start(const ChildSpec& spec) {
  InitReport report;
  ssize_t n;
  if (!take_start_report(report, n)) end_start(n, report, spec);
}

// A start that failed: ended here (its init reaped) and thrown.
void Child::end_start(ssize_t n, const InitReport& report, const ChildSpec& spec) {
  const bool failed = n == static_cast<ssize_t>(sizeof report) && report.kind == InitReport::failed;
  // A warm sandbox that the failed start left as it was goes back.
  void* clean = failed && report.sandbox_clean != 0 ? std::exchange(sandbox_, nullptr) : nullptr;
  kill_and_finish();  // reaps the init; nothing of the program runs
  if (clean != nullptr) warm_release(static_cast<WarmSandbox*>(clean));
  if (failed && report.error_stage == LaunchStage::warm) {
    warm_declined();
    throw WarmDeclined{};
  }
  if (failed) throw_start_failure(report.error_stage, report.error_errno, spec, report.error_detail);
  throw SpawnError(EIO, SpawnError::Subject::containment, std::string(to_string(containment_)),
                   "cannot start " + quoted(spec.argv.front()) + ": its init ended without a word");
}

bool Child::complete_start() {
  if (!pending_start_ || pending_start_->taken) return !pending_start_;
  PendingStart& start = *pending_start_;
  if (take_start_report(start.report, start.n)) {
    pending_start_.reset();
    return true;
  }
  start.taken = true;
  return false;
}

void Child::end_failed_start() {
  const PendingStartPtr start = std::move(pending_start_);
  const std::optional<Environment> no_env;
  end_start(start->n, start->report, {.argv = start->argv, .env = no_env, .cwd = start->cwd});
}

bool Child::skip_start_report() noexcept {
  const PendingStartPtr start = std::move(pending_start_);
  if (start->taken) return false;  // the failure complete_start saw
  InitReport report;
  ssize_t n;
  if (take_start_report(report, n, MSG_DONTWAIT)) return true;
  if (n != static_cast<ssize_t>(sizeof report)) return true;  // no word: the end tells what is left
  return report.kind != InitReport::failed;
}

ExitInfo Child::finish() {
  if (finished_) return {};
  if (direct_end_ != DirectEnd::none) return finish_direct();
  ExitInfo info;
  siginfo_t si;
  bool known = false;
  std::string why;
  if (containment_ == Containment::process_group) {
    // The leader is a zombie now, so its pid (the group id) cannot be
    // reused yet: kill what is left of the group first, then reap.
    ::kill(-direct_, SIGKILL);
    if (reap_into(direct_, __WALL, info) == direct_) {
      known = true;
    } else {
      why = "it was reaped by someone else (is SIGCHLD ignored, or does a handler reap every child?)";
    }
  } else {
    // A deferred start ended (killed, say) before its report was taken:
    // that report comes first. One that failed started nothing.
    const bool start_failed = pending_start_ != nullptr && !skip_start_report();
    InitReport report;
    ssize_t n = 0;
    while (!start_failed) {
      // A kill request the init never read makes its exit reset the
      // connection: that error comes first, the report after it.
      n = ::recv(channel_.get(), &report, sizeof report, MSG_DONTWAIT);
      if (n >= 0 || (errno != EINTR && errno != ECONNRESET)) break;
    }
    wait_for(direct_, 0, si);  // the init has exited: exit_fd was readable
    if (start_failed) {
      known = true;
      info.status_known = false;
      info.status = SIGKILL;
    } else if (n == static_cast<ssize_t>(sizeof report) && report.kind == InitReport::ended) {
      known = true;
      // Reused only when its shepherd saw nothing of the run left in it.
      if (sandbox_ != nullptr && report.sandbox_clean != 0)
        warm_release(static_cast<WarmSandbox*>(std::exchange(sandbox_, nullptr)));
      info.status = report.wait_status;
      info.user_cpu = std::chrono::microseconds(report.user_usec);
      info.system_cpu = std::chrono::microseconds(report.system_usec);
      info.max_rss_kb = static_cast<std::uint64_t>(report.max_rss_kb);
      info.limits.cpu = report.cpu_limit_hit != 0;
      info.limits.file_size = report.file_size_hit != 0;
      info.limits.scratch = report.scratch_full != 0;
      info.limits.pids = report.pids_limit_hit != 0;
      info.limits.memory = report.memory_limit_hit != 0;
      info.memory_oom_kill = report.memory_oom_kill != 0;
      add_isolation_counts(info);
    } else {
      // Killed before it could report (a subreaper's init by the program
      // itself, say): the host ends what is left of the run. A warm
      // shepherd killed from outside left the program in its sandbox: the
      // sandbox goes (its namespace with it, the program too), and the
      // program is reaped here when the host became its parent (its status
      // is then our kill, unknown as with a namespace made for the run).
      const bool warm = sandbox_ != nullptr;
      if (warm) warm_retire(static_cast<WarmSandbox*>(std::exchange(sandbox_, nullptr)));
      BrokenRun broken;
      broken.containment = containment_;
      broken.program_pid = pid_;
      broken.program_pidfd = program_pidfd_.get();
      broken.proc_fd = machine().proc_fd;
      broken.cgroup_parent_fd = machine().cgroup_parent_fd;
      broken.cgroup_name = cgroup_name_;
      info = end_broken_run(broken);
      if (warm) {
        info.status_known = false;
        info.status = SIGKILL;
      }
      known = true;
    }
  }
  finished_ = true;
  const pid_t direct = std::exchange(direct_, -1);
  release();
  if (!known)
    throw std::system_error(
        ECHILD, std::generic_category(),
        "the exit status of process " + std::to_string(direct) + " cannot be known: " + why);
  return info;
}

ExitInfo Child::kill_and_finish() noexcept {
  if (finished_ || direct_ <= 0) return {};
  kill();
  wait_for_end();
  try {
    return finish();
  } catch (...) {
    ExitInfo killed;
    killed.status = SIGKILL;
    return killed;
  }
}

Members Child::members() const noexcept {
  Members m;
  m.containment = containment_;
  if (containment_ == Containment::process_group) {
    m.pgid = direct_;
  } else {
    if (direct_end_ == DirectEnd::none)
      m.init_pid = direct_;
    else if (direct_end_ == DirectEnd::running)
      m.program_pid = direct_;  // once reaped, its pid may name another process
    m.cgroup_procs = cgroup_procs_;
    if (sandbox_ != nullptr) m.sandbox_init_pid = static_cast<const WarmSandbox*>(sandbox_)->pid;
  }
  return m;
}

std::uint64_t inits_that_took_their_fds() noexcept {
  return fd_tables_taken_from.load(std::memory_order_relaxed);
}

}  // namespace bounded_subprocess::detail
