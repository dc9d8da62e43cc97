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
};

/// What a child must do to the signal dispositions it was cloned with: the
/// copies of the host's handlers point into the host and must never run
/// there, and exec keeps SIG_IGN.
enum class SignalReset : int {
  none,     ///< already default (the init did it)
  ignored,  ///< cloned with CLONE_CLEAR_SIGHAND: only SIG_IGN ones are left
  all,      ///< every one of 1..64 (clone3 or CLONE_CLEAR_SIGHAND unavailable)
};

struct ProgramPlan {
  const char* path = nullptr;  ///< resolved program path (execve's)
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  ///< nullptr: keep the parent's
  /// fds to become 0, 1, 2; -1 keeps the fd of that number (inherit).
  int stdio[3] = {-1, -1, -1};
  SignalReset reset_signals = SignalReset::all;
  /// The host's /proc (SignalReset::ignored reads SigIgn from it; -1: reset
  /// them all).
  int proc_fd = -1;
  /// Start a new session (setsid): its pid is then its process group id.
  bool new_session = true;
  /// Join a cgroup before exec: an open cgroup.procs to write "0" into.
  int cgroup_procs_fd = -1;
  /// Enter a new cgroup namespace rooted at that cgroup.
  bool new_cgroup_namespace = false;
  /// Written by the child when it cannot exec (the parent reads them once
  /// the vfork returns).
  LaunchStage error_stage = LaunchStage::none;
  int error_errno = 0;
};

enum class InitKind : int { subreaper, pid_namespace };

struct InitPlan {
  ProgramPlan program;
  InitKind kind = InitKind::pid_namespace;
  /// The init's own dispositions (it reads SigIgn through `proc_fd`).
  SignalReset reset_signals = SignalReset::all;
  /// The init's end of the SOCK_SEQPACKET socket pair to the host: reports
  /// go out on it; a byte or EOF (the host is gone) coming in ends the run.
  int channel_fd = -1;
  /// The host's /proc, opened before any remount (pids in the host's view).
  int proc_fd = -1;
  /// cgroup mode: the run's cgroup directory (cgroup.kill, cgroup.events)
  /// and, to remove it at the end, its parent directory and name.
  int cgroup_dir_fd = -1;
  int cgroup_parent_fd = -1;
  const char* cgroup_name = nullptr;
  /// Write uid_map/gid_map mapping these ids to themselves (a new user
  /// namespace made by an unprivileged caller).
  bool map_ids = false;
  unsigned uid = 0;
  unsigned gid = 0;
  /// Mount a fresh /proc in the new mount namespace (best effort).
  bool mount_proc = false;
  /// The stack the program's vfork child runs on: its lowest address and
  /// its top (16-aligned).
  char* program_stack_bottom = nullptr;
  char* program_stack_top = nullptr;
  /// Only try the setup (namespaces, maps, /proc, subreaper, a cgroup
  /// namespace when `program.new_cgroup_namespace`), then exit with
  /// kProbeWorked, kProbeWorkedWithoutProc or kProbeFailed + errno.
  bool probe = false;
};

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
};

extern "C" {
/// Entry of the program's vfork child: `plan` is a ProgramPlan*. Returns
/// (exit code 127) only when it cannot exec.
__attribute__((visibility("hidden"))) int bs_launch_program(void* plan);
/// Entry of the init: `plan` is an InitPlan*. Never returns to the host.
__attribute__((visibility("hidden"))) int bs_run_init(void* plan);
}

}  // namespace bounded_subprocess::detail
