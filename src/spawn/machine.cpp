// The containment probe: which mechanisms this process can use, each tried
// when first asked about (machine.hpp).
#include "spawn/machine.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.hpp"
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
      fd = keep_above_stdio(fd);
      if (fd < 0) {
        const int e = errno;
        ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
        return -e;
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

// Runs a throw-away init with `flags` that only tries its setup. Returns its
// exit code (kProbe*), or -errno when clone() itself refused.
int try_init(unsigned long flags, InitPlan plan) {
  void* mem =
      ::mmap(nullptr, kProbeStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return -errno;
  plan.probe = true;
  // It exits with every signal still blocked, so the host's handlers it
  // inherits can never run: no need to reset 62 dispositions first.
  plan.reset_signals = SignalReset::none;
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

}  // namespace

std::string read_small_file(int dir_fd, const char* name) {
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out = read_open_file(fd);
  ::close(fd);
  return out;
}

std::string read_open_file(int fd) {
  std::string out;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return out;
}

namespace {

// Calls fn(line) for each line of `text` (without its '\n') until fn returns
// true; returns whether one did.
template <typename Fn>
bool any_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (fn(text.substr(0, end))) return true;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return false;
}

// Field `n` (from 0) of a line of fields separated by single spaces.
std::string_view field(std::string_view line, int n) {
  for (; n > 0; --n) {
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return {};
    line.remove_prefix(space + 1);
  }
  return line.substr(0, line.find(' '));
}

// mountinfo escapes spaces and the like as \ooo.
std::string unescape(std::string_view s) {
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
  any_line(read_small_file(AT_FDCWD, "/proc/self/cgroup"), [&](std::string_view line) {
    if (line.substr(0, 3) == "0::") path = line.substr(3);
    return false;  // the last such line, as the kernel lists one
  });
  if (path.empty()) {
    why = "this process is in no cgroup v2 hierarchy";
    return "";
  }
  std::string dir;
  const bool found = any_line(read_small_file(AT_FDCWD, "/proc/self/mountinfo"), [&](std::string_view line) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string_view::npos || line.substr(dash + 3, 8) != "cgroup2 ") return false;
    const std::string root = unescape(field(line, 3));
    if (path.rfind(root, 0) != 0) return false;
    const std::string rest = path.substr(root == "/" ? 0 : root.size());
    dir = unescape(field(line, 4)) + (rest == "/" ? "" : rest);
    return true;
  });
  if (!found) why = "no cgroup v2 file system is mounted";
  return dir;
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

constexpr std::size_t kMechanisms = 4;

// The answers, each written once by its probe (under its once_flag) and read
// only after that once: call_once orders the write before every read. The
// once flags are pthread_once underneath, so a child forked while a probe
// ran in another thread probes afresh rather than waiting for it forever.
// Made at the first use (a function's static), so that a run from another
// translation unit's static initializer finds them made: a std::string is
// not constant-initialized everywhere (clang with libstdc++).
struct Answers {
  std::once_flag opened;  // /proc
  std::once_flag probed[kMechanisms];
  /// The call_once of `probed` is over (it answered): no run may be its
  /// probe any more (unproven_containment).
  std::atomic<bool> settled[kMechanisms] = {};
  std::atomic<bool> unproven_taken{false};
  /// opened_cgroup_dir's answer: the fd (kept for the process's life), or
  /// -1 and why (cgroup_dir_why).
  std::once_flag cgroup_dir_opened;
  int opened_cgroup_dir_fd = -1;
  /// checked_cgroup_dir's answer: the same fd once proven, or -1 and why.
  std::once_flag cgroup_dir_checked;
  int cgroup_dir_fd = -1;
  std::string cgroup_dir_why;
  bool works[kMechanisms] = {true, false, false, false};
  std::string reason[kMechanisms];
  std::string proc_error;  // why /proc cannot be opened; "" when it can
  Machine machine;
};

Answers& answers() {
  static Answers a;
  return a;
}

void open_proc(Machine& m) {
  m.proc_fd = keep_above_stdio(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (m.proc_fd < 0) answers().proc_error = std::string("cannot open /proc: ") + std::strerror(errno);
}

Machine& opened_machine() {
  std::call_once(answers().opened, [] {
    open_proc(answers().machine);
    // Where a run's init may take its fds from the host (root: no user
    // namespace between them), the pidfd they take them through is opened
    // now, among the first fds of the process (InitPlan::fetch_from).
    if (::geteuid() == 0) (void)host_pidfd();
  });
  return answers().machine;
}

// A subreaper init, without namespaces.
void probe_subreaper(Machine& m) {
  InitPlan plan;
  plan.proc_fd = m.proc_fd;
  plan.kind = InitKind::subreaper;
  const int code = try_init(CLONE_VM, plan);
  answers().works[index(Containment::subreaper)] = code == kProbeWorked;
  answers().reason[index(Containment::subreaper)] = describe(code);
}

// A PID namespace: as root without a user namespace, else inside one that
// maps our ids; with a fresh /proc in a mount namespace when that works.
// `cgroup_namespace` (when not null): the first try also enters a cgroup
// namespace, as the program of a cgroup run does, so that one init answers
// for both mechanisms; it gets kProbeWorked when that try worked, and is left
// alone otherwise (then the cgroup namespace is tried on its own).
void probe_pid_namespace(Machine& m, int* cgroup_namespace) {
  InitPlan plan;
  plan.proc_fd = m.proc_fd;
  plan.kind = InitKind::pid_namespace;
  plan.uid = ::geteuid();
  plan.gid = ::getegid();
  int ns = kProbeFailed + EPERM;
  bool userns = false, mount_proc = false;
  for (const bool with_userns : {false, true}) {
    if (!with_userns && ::geteuid() != 0) continue;
    userns = with_userns;
    plan.map_ids = with_userns;
    const unsigned long base = CLONE_VM | CLONE_NEWPID | (with_userns ? CLONE_NEWUSER : 0UL);
    plan.mount_proc = true;
    if (cgroup_namespace != nullptr) {
      plan.program.new_cgroup_namespace = true;
      ns = try_init(base | CLONE_NEWNS, plan);
      plan.program.new_cgroup_namespace = false;
      if (ns == kProbeWorked) {
        *cgroup_namespace = kProbeWorked;
        mount_proc = true;
        break;
      }
      cgroup_namespace = nullptr;  // tried once; the rest as without it
    }
    ns = try_init(base | CLONE_NEWNS, plan);
    if (ns == kProbeWorked) {
      mount_proc = true;
      break;
    }
    plan.mount_proc = false;
    ns = try_init(base, plan);
    if (ns == kProbeWorked) break;
  }
  m.user_namespace = userns;
  m.mount_proc = mount_proc;
  answers().works[index(Containment::pid_namespace)] = ns == kProbeWorked;
  answers().reason[index(Containment::pid_namespace)] = describe(ns);
}

// The caller's cgroup v2 directory, opened, where runs' cgroups can be made
// in it (it is writable); -1 with `why` set when not. Makes no cgroup.
int open_cgroup_dir(Machine& m, std::string& why) {
  const std::string dir = own_cgroup_dir(why);
  if (dir.empty()) return -1;
  m.cgroup_parent = dir;
  const int fd = keep_above_stdio(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) {
    why = "cannot open " + dir + ": " + std::strerror(errno);
    return -1;
  }
  // Moving a process into a child cgroup needs write access to the common
  // ancestor's cgroup.procs: ours.
  if (::faccessat(fd, "cgroup.procs", W_OK, AT_EACCESS) != 0) {
    why = "the caller's cgroup " + dir + " is not writable (not delegated)";
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the cgroups made in `fd` have cgroup.kill, known without making
// one: `fd` has it (it is not the root), or the kernel is 5.14 or later.
bool cgroup_kill_known(int fd) {
  if (::faccessat(fd, "cgroup.kill", W_OK, AT_EACCESS) == 0) return true;
  utsname u{};
  int major = 0, minor = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 5 || (major == 5 && minor >= 14));
}

// open_cgroup_dir, once per process: -1 with `why` when it found none.
int opened_cgroup_dir(Machine& m) {
  Answers& a = answers();
  std::call_once(a.cgroup_dir_opened, [&] { a.opened_cgroup_dir_fd = open_cgroup_dir(m, a.cgroup_dir_why); });
  return a.opened_cgroup_dir_fd;
}

// The opened cgroup directory, proven by a cgroup made and removed in it
// (with cgroup.kill), once per process: for the cgroup probe, and for a run
// that is its own probe where cgroup_kill_known cannot tell. -1 with
// cgroup_dir_why set when it is not usable.
int checked_cgroup_dir(Machine& m) {
  Answers& a = answers();
  std::call_once(a.cgroup_dir_checked, [&] {
    const int fd = opened_cgroup_dir(m);
    if (fd < 0) return;
    std::string name;
    const int made =
        create_locked_cgroup(fd, "bounded_subprocess.probe." + std::to_string(::getpid()) + ".", name);
    if (made < 0) {
      a.cgroup_dir_why = "cannot create a cgroup in " + m.cgroup_parent + ": " + std::strerror(-made);
      return;
    }
    const bool has_kill = ::faccessat(fd, (name + "/cgroup.kill").c_str(), W_OK, AT_EACCESS) == 0;
    ::unlinkat(fd, name.c_str(), AT_REMOVEDIR);
    ::close(made);
    if (!has_kill) {
      a.cgroup_dir_why = "the kernel has no cgroup.kill (Linux 5.14 or later needed)";
      return;
    }
    a.cgroup_dir_fd = fd;
  });
  return a.cgroup_dir_fd;
}

// cgroup: a usable cgroup directory (cheap checks first), pid_namespace, and
// a cgroup namespace for the program, so that it cannot move out.
void probe_cgroup(Machine& m) {
  const int fd = checked_cgroup_dir(m);
  if (fd < 0) {
    answers().reason[index(Containment::cgroup)] = answers().cgroup_dir_why;
    m.cgroup_parent_fd = -1;  // a first run that was its own probe may have set it
    return;
  }
  int cgroup_namespace = -1;
  std::call_once(answers().probed[index(Containment::pid_namespace)], [&] {
    probe_pid_namespace(m, &cgroup_namespace);
    answers().settled[index(Containment::pid_namespace)] = true;
  });
  // Without pid_namespace, why_not says that it is missing.
  if (!answers().works[index(Containment::pid_namespace)]) return;
  m.cgroup_parent_fd = fd;
  if (cgroup_namespace < 0) {
    InitPlan plan;
    plan.proc_fd = m.proc_fd;
    plan.kind = InitKind::pid_namespace;
    plan.uid = ::geteuid();
    plan.gid = ::getegid();
    plan.map_ids = m.user_namespace;
    plan.program.new_cgroup_namespace = true;
    cgroup_namespace = try_init(
        init_clone_flags(Containment::pid_namespace, m) & ~static_cast<unsigned long>(CLONE_NEWNS), plan);
  }
  answers().works[index(Containment::cgroup)] = cgroup_namespace == kProbeWorked;
  if (cgroup_namespace != kProbeWorked)
    answers().reason[index(Containment::cgroup)] = "cgroup namespace: " + describe(cgroup_namespace);
  remove_stale_cgroups(fd);
}

void ensure_probed(Containment c) {
  if (c == Containment::process_group) return;
  Machine& m = opened_machine();
  std::call_once(answers().probed[index(c)], [&] {
    if (m.proc_fd < 0) {
      answers().reason[index(c)] = answers().proc_error;
      return;
    }
    switch (c) {
      case Containment::subreaper: probe_subreaper(m); break;
      case Containment::pid_namespace: probe_pid_namespace(m, nullptr); break;
      case Containment::cgroup: probe_cgroup(m); break;
      case Containment::process_group: break;
    }
    answers().settled[index(c)] = true;
  });
}

bool available(std::size_t i) {
  if (i >= kMechanisms) return false;
  ensure_probed(static_cast<Containment>(i));
  return answers().works[i];
}

}  // namespace

bool Availability::operator[](std::size_t containment) const {
  return available(containment);
}

const std::string& Unavailability::operator[](std::size_t containment) const {
  static const std::string none;
  static const std::string needs_pid_namespace = "needs pid_namespace, which is not available";
  if (available(containment)) return none;
  // cgroup builds on pid_namespace: when that is missing, it is the reason.
  if (containment == index(Containment::cgroup) && answers().proc_error.empty() &&
      !available(index(Containment::pid_namespace)))
    return needs_pid_namespace;
  return containment < kMechanisms ? answers().reason[containment] : none;
}

const Machine& machine() {
  return opened_machine();
}

std::optional<Containment> unproven_containment(const ContainmentRequest& request) {
  if (request.exactly || request.at_least > Containment::cgroup) return std::nullopt;
  Machine& m = opened_machine();
  Answers& a = answers();
  if (m.proc_fd < 0 || a.settled[index(Containment::pid_namespace)] || a.settled[index(Containment::cgroup)])
    return std::nullopt;
  if (a.unproven_taken.exchange(true)) return std::nullopt;
  // Where a cgroup would have cgroup.kill, the run's own cgroup is the
  // proof that one can be made (a run that fails is made again after the
  // full probe); elsewhere a cgroup is made and removed first.
  const int opened = opened_cgroup_dir(m);
  const int dir = opened >= 0 && cgroup_kill_known(opened) ? opened : checked_cgroup_dir(m);
  const Containment c = dir >= 0 ? Containment::cgroup : Containment::pid_namespace;
  if (c < request.at_least) return std::nullopt;
  // What probe_pid_namespace tries first, and finds on every machine with
  // namespaces at all.
  m.user_namespace = ::geteuid() != 0;
  m.mount_proc = true;
  if (c == Containment::cgroup) m.cgroup_parent_fd = dir;
  return c;
}

void proven_by_run(Containment c) noexcept {
  Answers& a = answers();
  Machine& m = a.machine;
  try {
    std::call_once(a.probed[index(Containment::pid_namespace)],
                   [&] { a.works[index(Containment::pid_namespace)] = true; });
    a.settled[index(Containment::pid_namespace)] = true;
    if (c != Containment::cgroup) return;
    std::call_once(a.probed[index(Containment::cgroup)], [&] {
      a.works[index(Containment::cgroup)] = true;
      remove_stale_cgroups(m.cgroup_parent_fd);  // as probe_cgroup does
    });
    a.settled[index(Containment::cgroup)] = true;
  } catch (...) {
    // call_once could not start a thread-safe once (pthread_once failed):
    // the next ask probes as usual.
  }
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
  // From the strongest down: the first that works is taken, and nothing
  // weaker is probed.
  for (int i = 3; i >= static_cast<int>(request.at_least); --i) {
    if (m.available[i]) return static_cast<Containment>(i);
  }
  throw_unavailable(m, request.at_least,
                    "no containment at least as strong as '" + std::string(to_string(request.at_least)) +
                        "' is available here");
}

int host_pidfd() {
  static std::atomic<std::uint64_t> held{0};  // pid << 32 | (fd + 1)
  const auto me = static_cast<std::uint64_t>(::getpid());
  std::uint64_t seen = held.load(std::memory_order_acquire);
  if (seen >> 32 == me) return static_cast<int>(seen & 0xffffffffU) - 1;
  const int fd = keep_above_stdio(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(me), 0)));
  const std::uint64_t mine = me << 32 | static_cast<std::uint64_t>(fd + 1);
  if (held.compare_exchange_strong(seen, mine, std::memory_order_acq_rel)) return fd;
  if (fd >= 0) ::close(fd);  // another thread's is kept
  return seen >> 32 == me ? static_cast<int>(seen & 0xffffffffU) - 1 : -1;
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
