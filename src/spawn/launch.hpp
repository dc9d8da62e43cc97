// What the code between clone() and execve() needs, as plain data, and the
// two entry points that run there (launch.cpp):
//
//  - `launch_program` starts the program: it runs in a child made with
//    CLONE_VM | CLONE_VFORK (the parent waits until the exec), so it only
//    wires fds, changes directory, resets signals and execs, and reports a
//    failure by writing into the plan (shared memory).
//  - `run_init` is the init of a contained run: a CLONE_VM process (its own
//    thread group, signals and fd table, but the host's memory) on a stack
//    of its own. It starts the program, reaps every orphan, kills everything
//    at the end and reports to the host over a socket.
//
// Both run in the host's address space with the host's thread pointer, so
// launch.cpp is compiled freestanding: raw system calls only, no libc, no
// errno, no sanitizers, no stack protector (see src/spawn/CMakeLists).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace bounded_subprocess::detail {

/// Where a start failed, for an error message that names its subject.
enum class LaunchStage : int {
  none = 0,
  stdio,    ///< dup3 of a standard fd
  cwd,      ///< chdir to the requested working directory
  session,  ///< setsid
  signals,  ///< resetting signal dispositions or the mask
  cgroup,   ///< joining the run's cgroup (or its namespace)
  exec,     ///< execve of the program
  init,     ///< the init's own setup (namespaces, maps, /proc)
  clone,    ///< clone() of the program
  warm,     ///< entering a warm sandbox (setns, or the host's cwd or root not found there)
  // The run's isolation (isolation_launch.cpp), in the program's process:
  isolation_mounts,      ///< its own mount namespace, the read-only view
  isolation_scratch,     ///< the scratch tmpfs at /tmp
  isolation_volume,      ///< a volume (`error_detail`: its index)
  isolation_network,     ///< the empty network namespace
  isolation_limits,      ///< rlimits, the limit cgroups
  isolation_privileges,  ///< capabilities, no_new_privs
};

inline constexpr int kMaxVolumes = 32;

/// What the program's process sets up for an isolated run, before exec (in
/// this order: limit cgroups, mount namespace, volumes opened, read-only
/// view, scratch, volumes placed, network, rlimits, capabilities,
/// no_new_privs). Strings are the host's, alive until the start is over.
struct IsolationPlan {
  /// v1 limit cgroups to join: their cgroup.procs, to write "0" into.
  int limit_procs_fd[2] = {-1, -1};
  /// unshare(CLONE_NEWNS) and make every mount a slave of the host's.
  bool new_mount_namespace = false;
  /// The program's process entered a view (ProgramPlan::warm_view_fd,
  /// mount_views.hpp): a mount namespace read-only or protected as this
  /// plan asks, its scratch at /tmp already (no volumes).
  bool view_entered = false;
  bool read_only = false;
  /// Size of the scratch tmpfs ("Nm"); nullptr: none. The init makes it
  /// (so that it can tell at the end whether it was full) and the program's
  /// process places it at /tmp.
  const char* scratch_size = nullptr;
  int volume_count = 0;
  const char* volume_source[kMaxVolumes] = {};
  const char* volume_target[kMaxVolumes] = {};
  bool volume_read_only[kMaxVolumes] = {};
  /// The target does not exist on the host: make it (in the scratch).
  bool volume_make_target[kMaxVolumes] = {};
  /// /sys/fs/cgroup read-only, so that a root program cannot raise its own
  /// limits.
  bool protect_cgroups = false;
  bool network_none = false;
  /// network_none: an empty network namespace of the pool to enter (setns),
  /// used by this run alone; -1: make a new one (unshare).
  int netns_fd = -1;
  /// /proc/sys read-only, so that a root program cannot change the settings
  /// of a pooled network namespace for the runs after it.
  bool protect_sysctls = false;
  /// RLIMIT_FSIZE in bytes, RLIMIT_NPROC; negative: unchanged.
  long long file_size_limit = -1;
  long long nproc_limit = -1;
  /// The caller is root: keep only podman's default capabilities.
  bool drop_capabilities = false;
};

/// What a child must do to the signal dispositions it was cloned with: the
/// copies of the host's handlers point into the host and must never run
/// there, and exec keeps SIG_IGN.
enum class SignalReset : int {
  none,     ///< already default (the init did it)
  ignored,  ///< cloned with CLONE_CLEAR_SIGHAND: only SIG_IGN ones are left
  all,      ///< every one of 1..64 (clone3 or CLONE_CLEAR_SIGHAND unavailable)
};

/// A file's identity (statx), to tell that a path found again in another
/// mount namespace names the same file.
struct FileId {
  std::uint64_t ino = 0;
  std::uint32_t dev_major = 0;
  std::uint32_t dev_minor = 0;
};

// Raw system calls only (launch.cpp), so these serve the code between
// clone() and execve(), the inits, and the host alike.

/// The identity of `path` into `id`; false when it cannot be had.
bool read_file_id(const char* path, FileId& id) noexcept;

/// Enters a warm sandbox's namespaces (setns on its init's pidfd with
/// `flags`; a mount namespace moves root and cwd to its root), then the
/// host's cwd again by its path: cwd and root must be the files `cwd_id`
/// and `root_id` (-EXDEV otherwise: a chroot, a cwd the sandbox does not
/// see). 0 or -errno.
long enter_sandbox(int pidfd, unsigned long flags, const char* cwd, const FileId& cwd_id,
                   const FileId& root_id) noexcept;

/// Whether a namespace's own /proc (open in `proc_fd`) lists no process
/// but its init; false when it lists another or cannot be read.
bool only_init_listed(int proc_fd) noexcept;

/// Whether a cgroup holds a process, by its cgroup.events (open in
/// `events_fd`): 1, 0, or -1 when it cannot be read.
int cgroup_populated(int events_fd) noexcept;

struct ProgramPlan {
  const char* path = nullptr;  ///< resolved program path (execve's)
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  ///< nullptr: keep the parent's
  /// fds to become 0, 1, 2; -1 keeps the fd of that number (inherit).
  int stdio[3] = {-1, -1, -1};
  SignalReset reset_signals = SignalReset::all;
  /// Start a new session (setsid): its pid is then its process group id.
  bool new_session = true;
  /// Join a cgroup before exec: an open cgroup.procs to write "0" into.
  int cgroup_procs_fd = -1;
  /// Enter a new cgroup namespace rooted at that cgroup.
  bool new_cgroup_namespace = false;
  /// The run's isolation; nullptr: none.
  const IsolationPlan* isolation = nullptr;
  /// The scratch tmpfs, a detached mount the init made (-1: none).
  int scratch_mount_fd = -1;
  /// A warm sandbox entered directly (the host cloned the program into the
  /// sandbox's PID namespace): its init's pidfd, whose mount namespace the
  /// program enters first; then the host's cwd, found again by its path,
  /// and the host's cwd and root must be the same files there
  /// (LaunchStage::warm otherwise). -1: none.
  int warm_pidfd = -1;
  /// An isolated run's view, made in that sandbox's mount namespace
  /// (mount_views.hpp): entered instead of the sandbox's own. -1: none.
  int warm_view_fd = -1;
  const char* warm_cwd = nullptr;
  FileId warm_cwd_id{};
  FileId warm_root_id{};
  /// Written by the child when it cannot exec (the parent reads them once
  /// the vfork returns).
  LaunchStage error_stage = LaunchStage::none;
  int error_errno = 0;
  int error_detail = 0;  ///< isolation_volume: which one
};

/// subreaper and pid_namespace: the init of one run (namespaces made for
/// it). warm_sandbox: the init of a warm sandbox (warm_pool.hpp): made once
/// in new namespaces, it serves run after run, reaping orphans, killing and
/// checking on request. warm_shepherd: the per-run process that enters a
/// warm sandbox (setns), starts the program there and ends the run.
enum class InitKind : int { subreaper, pid_namespace, warm_sandbox, warm_shepherd };

/// Requests on a warm sandbox's channel (one byte; the answer is one byte).
inline constexpr char kWarmReady = 'r';    ///< sent once by the sandbox's init, set up
inline constexpr char kWarmKill = 'k';     ///< SIGKILL to every process of the namespace; answer 'k'
inline constexpr char kWarmClean = 'c';    ///< kill, reap, and prove the namespace empty
inline constexpr char kWarmIsClean = 'y';  ///< answer to kWarmClean: only the init is left
inline constexpr char kWarmDirty = 'n';    ///< answer to kWarmClean: something else is left
/// A run entered directly has ended (its program is reaped): kill, reap and
/// prove the namespace empty, and the sandbox's cgroup too (what is left
/// there came from outside: killed, and the answer is kWarmDirty).
inline constexpr char kWarmEnd = 'e';

struct InitPlan {
  ProgramPlan program;
  InitKind kind = InitKind::pid_namespace;
  /// The init's own dispositions.
  SignalReset reset_signals = SignalReset::all;
  /// The init's end of the SOCK_SEQPACKET socket pair to the host: reports
  /// go out on it; a byte or EOF (the host is gone) coming in ends the run.
  int channel_fd = -1;
  /// The host's /proc, opened before any remount (pids in the host's view).
  int proc_fd = -1;
  /// cgroup mode: the run's cgroup directory (cgroup.kill, cgroup.events)
  /// and, to remove it at the end, its parent directory and name (-1 and
  /// nullptr: a warm sandbox's cgroup, only emptied at the run's end). A
  /// warm sandbox's init: its sandbox's cgroup, removed once the host is
  /// gone.
  int cgroup_dir_fd = -1;
  int cgroup_parent_fd = -1;
  const char* cgroup_name = nullptr;
  /// Write uid_map/gid_map mapping these ids to themselves (a new user
  /// namespace made by an unprivileged caller).
  bool map_ids = false;
  unsigned uid = 0;
  unsigned gid = 0;
  /// Mount a fresh /proc in the new mount namespace (best effort, unless
  /// `proc_required`: then a failure fails the start, stage init).
  bool mount_proc = false;
  bool proc_required = false;
  /// The stack the program's vfork child runs on: its lowest address and
  /// its top (16-aligned).
  char* program_stack_bottom = nullptr;
  char* program_stack_top = nullptr;
  /// cgroup mode: read the run cgroup's pids.events and memory.events at the
  /// end (the limit controllers are enabled there).
  bool read_limit_events = false;
  /// cgroup mode: kill the run once its cgroup's cpu.stat usage_usec reaches
  /// this (0: no CPU limit), checked by a timer set for the earliest time
  /// the rest could be used up (the rest divided by `cpu_count`).
  std::int64_t cpu_limit_usec = 0;
  int cpu_count = 1;
  /// Only try the setup (namespaces, maps, /proc, subreaper, a cgroup
  /// namespace when `program.new_cgroup_namespace`), then exit with
  /// kProbeWorked, kProbeWorkedWithoutProc or kProbeFailed + errno.
  bool probe = false;
  /// warm_shepherd: the sandbox to enter (its init's pidfd, with these
  /// setns flags), the host's end of the sandbox's channel, and a buffer
  /// for the host's cwd (found again by path in the sandbox's mounts).
  int warm_pidfd = -1;
  int warm_channel_fd = -1;
  unsigned long warm_setns_flags = 0;
  char* cwd_buffer = nullptr;
  unsigned long cwd_buffer_size = 0;
  /// warm_sandbox: an fd the init keeps open for its life, -1: none. The
  /// pool's inotify fd: its last close waits for the kernel (an SRCU grace
  /// period, milliseconds), which must not be on the host's way out.
  int warm_keep_fd = -1;
  /// Cloned sharing the host's fd table (CLONE_FILES) instead of with a
  /// copy of it: the host's own pidfd, by its number there. The init first
  /// makes a table of its own holding only the fds up to that number, then
  /// takes each fd the plan names above it from the host (pidfd_getfd) into
  /// its lowest free number and names that in the plan instead, then sets
  /// `fds_word` to kFdsTaken and wakes the host, which closes its copies
  /// only then. A host with thousands of runs in flight holds thousands of
  /// fds, which a copy would take and the init close again, one by one.
  /// -1: a copy, as fork makes.
  int fetch_from = -1;
  /// kFdsPending until the init has its fds; the kernel writes 0 here when
  /// the init exits (CLONE_CHILD_CLEARTID), so a host waiting on it
  /// (a futex) also wakes for an init that ended before taking them.
  int fds_word = 0;
};

/// The fds of a plan that an init cloned sharing the host's table takes
/// from the host (InitPlan::fetch_from), as the places that name them: the
/// host looks at the same ones to decide whether sharing pays.
inline constexpr std::size_t kFdsFromHost = 8;
inline std::array<int*, kFdsFromHost> fds_from_host(InitPlan& plan) noexcept {
  return {
      &plan.channel_fd,       &plan.proc_fd,          &plan.cgroup_dir_fd,    &plan.cgroup_parent_fd,
      &plan.program.stdio[0], &plan.program.stdio[1], &plan.program.stdio[2], &plan.program.cgroup_procs_fd};
}

inline constexpr int kFdsPending = 1;
inline constexpr int kFdsTaken = 2;
inline constexpr int kFdsCopied = 3;  ///< pidfd_getfd refused: the init copied the host's table

inline constexpr int kProbeWorked = 0;
inline constexpr int kProbeWorkedWithoutProc = 1;
inline constexpr int kProbeFailed = 2;

/// Sent by the init on its channel: first `started` or `failed`, then, after
/// a start, `ended` once every process of the run is gone.
struct InitReport {
  enum Kind : int { started = 1, failed = 2, ended = 3 };
  int kind = 0;
  LaunchStage error_stage = LaunchStage::none;
  int error_errno = 0;
  int program_pid = 0;         ///< started: the program's pid in the host's namespace
  int proc_mounted = 0;        ///< started: a fresh /proc was mounted
  int wait_status = 0;         ///< ended: the program's status, as wait(2) encodes it
  std::int64_t user_usec = 0;  ///< ended: CPU of every process the init reaped
  std::int64_t system_usec = 0;
  std::int64_t max_rss_kb = 0;  ///< ended: the largest peak RSS among them
  int error_detail = 0;         ///< failed: the plan's error_detail
  int cpu_limit_hit = 0;        ///< ended: the run was killed at its CPU limit
  int pids_limit_hit = 0;       ///< ended: pids.events counted a refusal
  int memory_limit_hit = 0;     ///< ended: memory.events counted max or oom_kill
  int memory_oom_kill = 0;      ///< ended: memory.events counted an oom_kill
  int file_size_hit = 0;        ///< ended: a process of the run died of SIGXFSZ
  int scratch_full = 0;         ///< ended: the scratch had no free block or inode left
  int sandbox_clean = 0;        ///< ended (warm_shepherd): the sandbox holds only its init
};

extern "C" {
/// Entry of the program's vfork child: `plan` is a ProgramPlan*. Returns
/// (exit code 127) only when it cannot exec.
__attribute__((visibility("hidden"))) int bs_launch_program(void* plan);
/// The isolation of the program's process (isolation_launch.cpp): 0, or
/// -errno with `stage` (and `detail`) set.
__attribute__((visibility("hidden"))) long bs_isolate(const IsolationPlan* plan, int scratch_mount_fd,
                                                      LaunchStage* stage, int* detail);
/// A detached tmpfs of `size` ("Nm"), mode 1777, nosuid, nodev (the new
/// mount API): its mount fd, or -errno.
__attribute__((visibility("hidden"))) long bs_make_scratch(const char* size);
/// Places a scratch made by bs_make_scratch at /tmp: 0 or -errno.
__attribute__((visibility("hidden"))) long bs_place_scratch(int mount_fd);
/// A new mount namespace for the calling thread (CLONE_FS unshared), none
/// of whose mounts reaches the host's, read-only or protected as `plan`
/// asks (its volumes and scratch aside): 0 or -errno (mount_views.cpp).
__attribute__((visibility("hidden"))) long bs_make_view(const IsolationPlan* plan);
/// Brings the loopback of the caller's network namespace up: 0 or -errno.
__attribute__((visibility("hidden"))) long bs_loopback_up();
/// Whether the file system of `fd` has no free block or inode left.
__attribute__((visibility("hidden"))) bool bs_file_system_full(int fd);
/// Entry of the init: `plan` is an InitPlan*. Never returns to the host.
__attribute__((visibility("hidden"))) int bs_run_init(void* plan);
}

}  // namespace bounded_subprocess::detail
