// The end of a run whose init was killed before it could report.
#include "spawn/broken_run.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "spawn/tree_kill.hpp"

namespace bounded_subprocess::detail {

namespace {

constexpr int kSweeps = 4;         // sweeps of one tree (later ones catch what a dying parent hid)
constexpr int kSessionScans = 64;  // scans of /proc for the session, at most

// The process group and session of `pid` (its /proc stat); false when it
// is gone or already dead (a zombie).
bool group_of(int proc_fd, pid_t pid, pid_t& pgrp, pid_t& session) {
  char path[32];
  std::snprintf(path, sizeof path, "%d/stat", static_cast<int>(pid));
  const int fd = ::openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // The command name is in parentheses and may hold anything: parse after
  // the last ')'.
  const char* close = std::strrchr(buf, ')');
  if (close == nullptr) return false;
  char state = 0;
  int ppid = 0, group = 0, sid = 0;
  if (std::sscanf(close + 1, " %c %d %d %d", &state, &ppid, &group, &sid) != 4) return false;
  if (state == 'Z' || state == 'X' || state == 'x') return false;
  pgrp = group;
  session = sid;
  return true;
}

void wait_readable(int fd, short events) {
  pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

// The pidfds of the processes killed, to wait until they are gone: the
// run ends when nothing of it is left, as when its init ends it.
class Killed {
 public:
  Killed() = default;
  Killed(const Killed&) = delete;
  Killed& operator=(const Killed&) = delete;
  ~Killed() {
    for (int fd : fds_) ::close(fd);
  }

  static void note(void* self, int pidfd) {
    auto& k = *static_cast<Killed*>(self);
    const int fd = ::fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return;  // no fd left: that one is not waited for
    try {
      k.fds_.push_back(fd);
    } catch (...) {
      ::close(fd);
    }
  }

  void wait_all() {
    for (int fd : fds_) wait_readable(fd, POLLIN);
  }

 private:
  std::vector<int> fds_;
};

// Stops the tree below the process of `pidfd` (and it), then kills it (see
// the subreaper init's kill_all_children, which does the same).
void kill_tree_with_root(int proc_fd, int pidfd, pid_t pid, Killed& killed) {
  for (int i = 0; i < kSweeps; ++i)
    if (sweep_tree_of(proc_fd, pidfd, pid, TreeSignal::stop).complete) break;
  sweep_tree_of(proc_fd, pidfd, pid, TreeSignal::kill_frozen, &Killed::note, &killed);
  for (int i = 0; i < kSweeps; ++i)
    if (sweep_tree_of(proc_fd, pidfd, pid, TreeSignal::kill, &Killed::note, &killed).complete) return;
}

// Every live process of the session or process group `id`, and what is
// below each, until a scan of /proc finds no member it had not killed.
void kill_session(int proc_fd, pid_t id, Killed& killed_trees) {
  std::unordered_set<pid_t> killed;
  for (int scan = 0; scan < kSessionScans; ++scan) {
    const int fd = ::openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      return;
    }
    bool fresh = false;
    while (const dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
      pid_t pgrp = 0, session = 0;
      if (!group_of(proc_fd, static_cast<pid_t>(pid), pgrp, session)) continue;
      if (pgrp != id && session != id) continue;
      // Pinned first, then checked again: the pid is the member's.
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
      if (pidfd < 0) continue;
      if (group_of(proc_fd, static_cast<pid_t>(pid), pgrp, session) && (pgrp == id || session == id)) {
        kill_tree_with_root(proc_fd, pidfd, static_cast<pid_t>(pid), killed_trees);
        fresh |= killed.insert(static_cast<pid_t>(pid)).second;
      }
      ::close(pidfd);
    }
    ::closedir(dir);
    if (!fresh) return;
  }
}

// cgroup.kill again, then until the kernel says the cgroup is empty.
void kill_cgroup(int parent_fd, const std::string& name) {
  const int dir = ::openat(parent_fd, name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  if (const int kill = ::openat(dir, "cgroup.kill", O_WRONLY | O_CLOEXEC); kill >= 0) {
    [[maybe_unused]] const ssize_t n = ::write(kill, "1", 1);
    ::close(kill);
  }
  if (const int events = ::openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC); events >= 0) {
    for (;;) {
      char buf[256];
      const ssize_t n = ::pread(events, buf, sizeof buf - 1, 0);
      if (n < 0) break;
      buf[n] = '\0';
      if (std::strstr(buf, "populated 0") != nullptr) break;
      wait_readable(events, POLLPRI);
    }
    ::close(events);
  }
  ::close(dir);
}

}  // namespace

ExitInfo end_broken_run(const BrokenRun& run) noexcept {
  ExitInfo info;
  info.containment_broken = true;
  info.status_known = false;
  info.status = SIGKILL;
  try {
    if (run.containment == Containment::subreaper) {
      Killed killed;
      if (run.program_pidfd >= 0)
        kill_tree_with_root(run.proc_fd, run.program_pidfd, run.program_pid, killed);
      // The program is the leader of its session and group: their members
      // that the walk could not reach (orphans the killed init left to the
      // host's subreaper or to the machine's init) are found by id.
      if (run.program_pid > 0 && run.proc_fd >= 0) kill_session(run.proc_fd, run.program_pid, killed);
      killed.wait_all();
    }
    if (run.containment == Containment::cgroup && run.cgroup_parent_fd >= 0 && !run.cgroup_name.empty())
      kill_cgroup(run.cgroup_parent_fd, run.cgroup_name);
    if (run.program_pidfd >= 0) {
      // Never returns while the program lives; its status is ours to take
      // only when the host became its parent (a subreaper host).
      wait_readable(run.program_pidfd, POLLIN);
      siginfo_t si{};
      if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(run.program_pidfd), &si,
                   WEXITED | WNOHANG | __WALL) == 0 &&
          si.si_pid != 0) {
        info.status_known = true;
        if (si.si_code == CLD_EXITED)
          info.status = (si.si_status & 0xff) << 8;
        else if (si.si_code == CLD_DUMPED)
          info.status = (si.si_status & 0x7f) | 0x80;
        else
          info.status = si.si_status & 0x7f;
      }
    }
  } catch (...) {
    // Out of memory for the scan's set: what was killed stays killed.
  }
  return info;
}

}  // namespace bounded_subprocess::detail
