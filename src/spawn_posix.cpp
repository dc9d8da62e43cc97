// Spawning with posix_spawn: a new session (POSIX_SPAWN_SETSID), default
// signal dispositions and an empty mask, fds >= 3 closed in the child
// (posix_spawn_file_actions_addclosefrom_np, no loop over RLIMIT_NOFILE),
// then a pidfd for the child.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "spawn.hpp"
#include "sys.hpp"

extern char** environ;  // NOLINT: POSIX

namespace bounded_subprocess::detail {

namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// RAII for posix_spawn's two attribute objects.
struct SpawnAttrs {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttrs() {
    if (int e = posix_spawnattr_init(&attr)) throw_errno(e, "posix_spawnattr_init");
    if (int e = posix_spawn_file_actions_init(&actions)) {
      posix_spawnattr_destroy(&attr);
      throw_errno(e, "posix_spawn_file_actions_init");
    }
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

void check(int err, const char* what) {
  if (err != 0) throw_errno(err, what);
}

// Moves `fd` to a number >= 3 so that wiring the child's stdio can never
// collide with it (the host may run with 0, 1 or 2 closed).
UniqueFd above_stdio(int fd) {
  UniqueFd owned(fd);
  if (fd > 2) return owned;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) throw_errno(errno, "fcntl(F_DUPFD_CLOEXEC)");
  return UniqueFd(moved);
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

bool is_executable_file(const std::string& path, int& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    err = EACCES;
    return false;
  }
  return true;
}

// execvp's lookup, but in the PATH the child will have.
std::string resolve_program(const std::string& name, const std::optional<Environment>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  if (env) {
    if (auto it = env->find("PATH"); it != env->end()) path = it->second;
    else path = "/usr/local/bin:/usr/bin:/bin";
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  } else {
    path = "/usr/local/bin:/usr/bin:/bin";
  }
  int err = ENOENT;
  std::string_view rest(path);
  while (true) {
    const auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate += '/';
    candidate += name;
    if (is_executable_file(candidate, err)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  throw_errno(err, "cannot start '" + name + "': not found in PATH");
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

void validate_command(const std::vector<std::string>& argv, const std::optional<Environment>& env,
                      const std::optional<std::string>& cwd) {
  if (argv.empty()) throw std::invalid_argument("argv must not be empty");
  if (argv.front().empty()) throw std::invalid_argument("argv[0] (the program) must not be empty");
  for (std::size_t i = 0; i < argv.size(); ++i)
    if (has_nul(argv[i]))
      throw std::invalid_argument("argv[" + std::to_string(i) + "] contains a NUL byte");
  if (env) {
    for (const auto& [name, value] : *env) {
      if (name.empty()) throw std::invalid_argument("environment variable name must not be empty");
      if (name.find('=') != std::string::npos || has_nul(name))
        throw std::invalid_argument("environment variable name '" + name + "' contains '=' or NUL");
      if (has_nul(value))
        throw std::invalid_argument("value of environment variable '" + name + "' contains a NUL byte");
    }
  }
  if (cwd && (cwd->empty() || has_nul(*cwd)))
    throw std::invalid_argument("cwd must be a non-empty path without NUL bytes");
}

Child spawn_child(const SpawnRequest& request) {
  const auto& argv = *request.argv;
  const auto& env = *request.env;
  const auto& cwd = *request.cwd;

  // With a cwd, a relative program path is resolved by exec after chdir, as
  // the child sees it; PATH lookup uses the child's environment.
  const std::string program = resolve_program(argv.front(), env);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  std::vector<std::string> env_storage;
  std::vector<char*> cenv;
  char** envp = environ;
  if (env) {
    env_storage.reserve(env->size());
    cenv.reserve(env->size() + 1);
    for (const auto& [name, value] : *env) {
      env_storage.push_back(name + "=" + value);
      cenv.push_back(env_storage.back().data());
    }
    cenv.push_back(nullptr);
    envp = cenv.data();
  }

  SpawnAttrs sa;
  Pipe in, out, err;
  auto wire = [&](StdioMode mode, int target, Pipe& pipe, bool child_reads) {
    switch (mode) {
      case StdioMode::pipe:
        pipe = make_pipe();
        check(posix_spawn_file_actions_adddup2(
                  &sa.actions, child_reads ? pipe.read_end.get() : pipe.write_end.get(), target),
              "posix_spawn_file_actions_adddup2");
        break;
      case StdioMode::null:
        check(posix_spawn_file_actions_addopen(&sa.actions, target, "/dev/null",
                                               child_reads ? O_RDONLY : O_WRONLY, 0),
              "posix_spawn_file_actions_addopen");
        break;
      case StdioMode::inherit:
        break;
    }
  };
  wire(request.stdin_mode, 0, in, true);
  wire(request.stdout_mode, 1, out, false);
  wire(request.stderr_mode, 2, err, false);
  check(posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3), "posix_spawn_file_actions_addclosefrom_np");
  if (cwd) check(posix_spawn_file_actions_addchdir_np(&sa.actions, cwd->c_str()), "posix_spawn_file_actions_addchdir_np");

  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  check(posix_spawnattr_setsigmask(&sa.attr, &empty), "posix_spawnattr_setsigmask");
  check(posix_spawnattr_setsigdefault(&sa.attr, &all), "posix_spawnattr_setsigdefault");
  check(posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
        "posix_spawnattr_setflags");

  Child child;
  child.started = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &sa.actions, &sa.attr, cargv.data(), envp);
  if (rc != 0) {
    // glibc reports exec and chdir failures here and has reaped the child.
    if (cwd && !is_directory(*cwd)) throw_errno(rc, "cannot start '" + argv.front() + "': cwd '" + *cwd + "' is not a directory");
    throw_errno(rc, "cannot start '" + argv.front() + "'");
  }
  child.pid = pid;
  // Via syscall(2): glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    kill_and_reap(pid);
    throw_errno(e, "pidfd_open for '" + argv.front() + "'");
  }
  child.pidfd = UniqueFd(pidfd);
  try {
    if (request.stdin_mode == StdioMode::pipe) {
      set_nonblocking(in.write_end.get());
      child.stdin_fd = std::move(in.write_end);
    }
    if (request.stdout_mode == StdioMode::pipe) {
      set_nonblocking(out.read_end.get());
      child.stdout_fd = std::move(out.read_end);
    }
    if (request.stderr_mode == StdioMode::pipe) {
      set_nonblocking(err.read_end.get());
      child.stderr_fd = std::move(err.read_end);
    }
  } catch (...) {
    kill_and_reap(pid);
    throw;
  }
  return child;  // the child's ends of the pipes close here, in the parent
}

namespace {
// wait4 on our own child only: never waitpid(-1), never a child we did not start.
std::optional<ExitInfo> wait_child(pid_t pid, int flags) {
  int status = 0;
  struct rusage ru {};
  pid_t r;
  do {
    r = sys::wait4(pid, &status, flags, &ru);
  } while (r < 0 && errno == EINTR);
  if (r != pid) return std::nullopt;
  ExitInfo info;
  info.status = status;
  info.user_usec = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec;
  info.system_usec = ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
  info.max_rss_kb = ru.ru_maxrss;
  return info;
}
}  // namespace

std::optional<ExitInfo> try_reap(pid_t pid) { return wait_child(pid, WNOHANG); }

void kill_group(pid_t pgid) noexcept {
  if (pgid > 0) ::kill(-pgid, SIGKILL);
}

ExitInfo kill_and_reap(pid_t pid) noexcept {
  if (pid <= 0) return {};
  kill_group(pid);
  ::kill(pid, SIGKILL);  // the leader cannot leave its group, but be sure
  return wait_child(pid, 0).value_or(ExitInfo{});
}

}  // namespace bounded_subprocess::detail
