// The containment probe: which mechanisms this process can use.
#include "spawn/machine.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/spawn_error.hpp"
#include "spawn/launch.hpp"
#include "spawn/raw_syscall.hpp"

namespace bounded_subprocess::detail {

int create_locked_cgroup(int parent_fd, const std::string& prefix, std::string& name) {
  static std::atomic<unsigned long> counter{0};
  for (;;) {
    name = prefix + std::to_string(++counter);
    if (::mkdirat(parent_fd, name.c_str(), 0755) != 0) {
      // A leftover of a dead process that had our pid: take the next name.
      if (errno == EEXIST) continue;
      return -errno;
    }
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;  // a sweep took it already
    if (fd < 0) {
      const int e = errno;
      ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
      return -e;
    }
    int r;
    do {
      r = ::flock(fd, LOCK_SH);  // waits while a sweep holds it
    } while (r != 0 && errno == EINTR);
    // Still there once ours? A sweep that had the lock first removed it.
    struct stat st {};
    if (r == 0 && ::fstatat(fd, "cgroup.procs", &st, 0) == 0) {
      if (fd <= 2) {  // never on a standard fd of a host that closed them
        const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        ::close(fd);
        if (moved < 0) {
          const int e = errno;
          ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
          return -e;
        }
        fd = moved;
      }
      return fd;
    }
    const int e = r != 0 ? errno : ENOENT;
    ::close(fd);
    if (e == ENOENT) continue;
    ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
    return -e;
  }
}

namespace {

constexpr std::size_t kProbeStack = 64 * 1024;

std::size_t index(Containment c) {
  return static_cast<std::size_t>(c);
}

// An fd of ours numbered 3 or more, so that it never lands on a standard fd
// of a host that runs with 0, 1 or 2 closed.
int keep_above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

// Runs a throw-away init with `flags` that only tries its setup. Returns its
// exit code (kProbe*), or -errno when clone() itself refused.
int try_init(unsigned long flags, InitPlan plan) {
  void* mem =
      ::mmap(nullptr, kProbeStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  plan.probe = true;
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  const long pid =
      bs_clone(flags | CLONE_PIDFD, static_cast<char*>(mem) + kProbeStack, &pidfd, bs_run_init, &plan);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int code = static_cast<int>(pid);
  if (pid > 0) {
    siginfo_t info{};
    int r;
    do {
      r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | __WALL);
    } while (r < 0 && errno == EINTR);
    code = r == 0 && info.si_code == CLD_EXITED ? info.si_status : kProbeFailed + EINVAL;
    ::close(pidfd);
  }
  ::munmap(mem, kProbeStack);
  return code;
}

std::string describe(int code) {
  if (code < 0) return std::string("clone() refused: ") + std::strerror(-code);
  if (code >= kProbeFailed) return std::string("setup failed: ") + std::strerror(code - kProbeFailed);
  return "works";
}

std::string read_file(const char* path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// mountinfo escapes spaces and the like as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The caller's cgroup v2 directory, or "" with `why` set.
std::string own_cgroup_dir(std::string& why) {
  std::string path;
  {
    std::istringstream lines(read_file("/proc/self/cgroup"));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("0::", 0) == 0) path = line.substr(3);
    }
  }
  if (path.empty()) {
    why = "this process is in no cgroup v2 hierarchy";
    return "";
  }
  std::istringstream lines(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    root = unescape(root);
    if (path.rfind(root, 0) != 0) continue;
    std::string rest = path.substr(root == "/" ? 0 : root.size());
    return unescape(mount_point) + (rest == "/" ? "" : rest);
  }
  why = "no cgroup v2 file system is mounted";
  return "";
}

}  // namespace

// Removes the cgroups that runs of processes now dead left in `parent`
// (named bounded_subprocess.*). A run's init removes its cgroup; only an
// init killed from outside cannot (a Python interpreter's at-exit kill, the
// OOM killer, `kill -9` of every process of a user). Whether a folder's
// creator lives is told by a lock, not by its pid: a pid names nothing
// from another PID namespace (a sweep run inside `unshare --pid` saw every
// creator as dead). Every creator holds a shared flock on its folder for
// the run's life (create_locked_cgroup); a folder whose exclusive lock can
// be had has no living creator, and it is removed while that lock is held,
// so a creator that opened it meanwhile sees it gone and takes another
// name. The kernel refuses to remove a cgroup that still holds a process.
// Best effort.
void remove_stale_cgroups(int parent) {
  const int fd = ::openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  constexpr std::string_view prefix = "bounded_subprocess.";
  std::vector<std::string> candidates;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.substr(0, prefix.size()) == prefix) candidates.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& name : candidates) {
    const int folder = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder < 0) continue;
    if (::flock(folder, LOCK_EX | LOCK_NB) == 0) ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
    ::close(folder);
  }
}

namespace {

void probe_cgroup(Machine& m) {
  std::string why;
  const std::string dir = own_cgroup_dir(why);
  if (dir.empty()) {
    m.why_not[index(Containment::cgroup)] = why;
    return;
  }
  m.cgroup_parent = dir;
  const int fd = keep_above_stdio(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) {
    m.why_not[index(Containment::cgroup)] = "cannot open " + dir + ": " + std::strerror(errno);
    return;
  }
  // Moving a process into a child cgroup needs write access to the common
  // ancestor's cgroup.procs: ours.
  if (::faccessat(fd, "cgroup.procs", W_OK, AT_EACCESS) != 0) {
    m.why_not[index(Containment::cgroup)] = "the caller's cgroup " + dir + " is not writable (not delegated)";
    ::close(fd);
    return;
  }
  std::string name;
  const int made =
      create_locked_cgroup(fd, "bounded_subprocess.probe." + std::to_string(::getpid()) + ".", name);
  if (made < 0) {
    m.why_not[index(Containment::cgroup)] = "cannot create a cgroup in " + dir + ": " + std::strerror(-made);
    ::close(fd);
    return;
  }
  const bool has_kill = ::faccessat(fd, (name + "/cgroup.kill").c_str(), W_OK, AT_EACCESS) == 0;
  ::unlinkat(fd, name.c_str(), AT_REMOVEDIR);
  ::close(made);
  if (!has_kill) {
    m.why_not[index(Containment::cgroup)] = "the kernel has no cgroup.kill (Linux 5.14 or later needed)";
    ::close(fd);
    return;
  }
  m.cgroup_parent_fd = fd;
  remove_stale_cgroups(fd);
}

Machine probe() {
  Machine m;
  m.proc_fd = keep_above_stdio(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (m.proc_fd < 0) {
    const std::string why = std::string("cannot open /proc: ") + std::strerror(errno);
    for (int i = 1; i < 4; ++i) m.why_not[i] = why;
    return m;
  }
  InitPlan plan;
  plan.proc_fd = m.proc_fd;

  plan.kind = InitKind::subreaper;
  const int subreaper = try_init(CLONE_VM, plan);
  m.available[index(Containment::subreaper)] = subreaper == kProbeWorked;
  m.why_not[index(Containment::subreaper)] = describe(subreaper);

  // A PID namespace: as root without a user namespace, else inside one that
  // maps our ids; with a fresh /proc in a mount namespace when that works.
  plan.kind = InitKind::pid_namespace;
  plan.uid = ::geteuid();
  plan.gid = ::getegid();
  int ns = kProbeFailed + EPERM;
  for (const bool userns : {false, true}) {
    if (!userns && ::geteuid() != 0) continue;
    plan.map_ids = userns;
    m.user_namespace = userns;
    const unsigned long base = CLONE_VM | CLONE_NEWPID | (userns ? CLONE_NEWUSER : 0UL);
    plan.mount_proc = true;
    ns = try_init(base | CLONE_NEWNS, plan);
    if (ns == kProbeWorked) {
      m.mount_proc = true;
      break;
    }
    plan.mount_proc = false;
    ns = try_init(base, plan);
    if (ns == kProbeWorked) break;
  }
  m.available[index(Containment::pid_namespace)] = ns == kProbeWorked;
  m.why_not[index(Containment::pid_namespace)] = describe(ns);

  if (m.available[index(Containment::pid_namespace)]) {
    probe_cgroup(m);
    if (m.cgroup_parent_fd >= 0) {
      // The program enters a cgroup namespace, so that it cannot move out.
      plan.map_ids = m.user_namespace;
      plan.mount_proc = false;
      plan.program.new_cgroup_namespace = true;
      const int cg = try_init(
          init_clone_flags(Containment::pid_namespace, m) & ~static_cast<unsigned long>(CLONE_NEWNS), plan);
      m.available[index(Containment::cgroup)] = cg == kProbeWorked;
      if (cg != kProbeWorked) m.why_not[index(Containment::cgroup)] = "cgroup namespace: " + describe(cg);
    }
  } else {
    m.why_not[index(Containment::cgroup)] = "needs pid_namespace, which is not available";
  }
  return m;
}

}  // namespace

const Machine& machine() {
  static std::once_flag once;
  static Machine m;
  std::call_once(once, [] { m = probe(); });
  return m;
}

unsigned long init_clone_flags(Containment containment, const Machine& m) noexcept {
  unsigned long flags = CLONE_VM;  // no exit signal: see Child::spawn
  if (containment == Containment::pid_namespace || containment == Containment::cgroup) {
    flags |= CLONE_NEWPID;
    if (m.user_namespace) flags |= CLONE_NEWUSER;
    if (m.mount_proc) flags |= CLONE_NEWNS;
  }
  return flags;
}

namespace {
[[noreturn]] void throw_unavailable(const Machine& m, Containment c, const std::string& what) {
  throw SpawnError(ENOTSUP, SpawnError::Subject::containment, std::string(to_string(c)),
                   what + ": " + m.why_not[index(c)]);
}
}  // namespace

Containment choose_containment(const ContainmentRequest& request) {
  const Machine& m = machine();
  auto unavailable = [&](Containment c, const std::string& what) { throw_unavailable(m, c, what); };
  if (request.exactly) {
    const Containment c = *request.exactly;
    if (!m.available[index(c)])
      unavailable(c, "containment '" + std::string(to_string(c)) + "' is not available here");
    return c;
  }
  for (int i = 3; i >= static_cast<int>(request.at_least); --i) {
    if (m.available[i]) return static_cast<Containment>(i);
  }
  throw_unavailable(m, request.at_least,
                    "no containment at least as strong as '" + std::string(to_string(request.at_least)) +
                        "' is available here");
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

Containment strongest_containment() noexcept {
  try {
    return detail::choose_containment({});
  } catch (...) {
    return Containment::process_group;
  }
}

bool containment_available(Containment containment) noexcept {
  try {
    return detail::machine().available[static_cast<std::size_t>(containment)];
  } catch (...) {
    return containment == Containment::process_group;
  }
}

}  // namespace bounded_subprocess
