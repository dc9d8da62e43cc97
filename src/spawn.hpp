// Spawning: a child in a new session, with a pidfd and exactly fds 0, 1, 2.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "unique_fd.hpp"

namespace bounded_subprocess::detail {

/// Where one of the child's standard fds comes from or goes to.
enum class StdioMode {
  pipe,     ///< a pipe whose other end the parent keeps (non-blocking, CLOEXEC)
  null,     ///< /dev/null
  inherit,  ///< the parent's own fd of the same number
};

struct SpawnRequest {
  const std::vector<std::string>* argv = nullptr;
  const std::optional<Environment>* env = nullptr;
  const std::optional<std::string>* cwd = nullptr;
  StdioMode stdin_mode = StdioMode::null;
  StdioMode stdout_mode = StdioMode::pipe;
  StdioMode stderr_mode = StdioMode::pipe;
};

/// A started child. The pid stays valid (unreaped) until `reap` or the
/// owner's cleanup: only this library waits for it.
struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd stdin_fd;   ///< write end, when stdin_mode is pipe
  UniqueFd stdout_fd;  ///< read end, when stdout_mode is pipe
  UniqueFd stderr_fd;  ///< read end, when stderr_mode is pipe
  std::chrono::steady_clock::time_point started;
};

/// Throws std::invalid_argument for bad argv/env/cwd strings. Spawns nothing.
void validate_command(const std::vector<std::string>& argv,
                      const std::optional<Environment>& env,
                      const std::optional<std::string>& cwd);

/// Starts the child: posix_spawn with POSIX_SPAWN_SETSID, default signal
/// dispositions and an empty signal mask, fds >= 3 closed in the child, then
/// pidfd_open. Throws std::system_error naming the program (or the cwd) when
/// it cannot be started; nothing is leaked then.
Child spawn_child(const SpawnRequest& request);

/// Result of waiting for the direct child.
struct ExitInfo {
  int status = 0;  ///< raw wait status
  long user_usec = 0;
  long system_usec = 0;
  long max_rss_kb = 0;
};

/// Reaps `pid` with wait4(WNOHANG). Returns nothing if it has not exited yet.
std::optional<ExitInfo> try_reap(pid_t pid);

/// SIGKILLs the group `pid` leads, then reaps `pid`, blocking until it is
/// gone (a SIGKILLed process is gone quickly). For destructors and error
/// paths; never throws.
ExitInfo kill_and_reap(pid_t pid) noexcept;

/// SIGKILL to the whole process group led by `pgid`. ESRCH is fine.
void kill_group(pid_t pgid) noexcept;

}  // namespace bounded_subprocess::detail
