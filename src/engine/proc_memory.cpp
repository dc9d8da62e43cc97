// Peak RSS of runs, from /proc.
#include "engine/proc_memory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/unique_fd.hpp"
#include "spawn/machine.hpp"

namespace bounded_subprocess::detail {

namespace {

// A bound on the processes one run is walked through per sample, so that a
// fork storm cannot make the watchdog itself unbounded.
constexpr std::size_t kMaxProcessesPerRun = 100000;

bool gone(int err) {
  return err == ENOENT || err == ESRCH;
}

// Reads all of a /proc file (a status file can be far longer than a page:
// a process in many supplementary groups has a long Groups: line, and
// VmHWM comes after it). Returns 0 or an errno.
int read_whole(int dirfd, const char* path, std::string& out) {
  out.clear();
  UniqueFd fd(::openat(dirfd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) return errno;
  std::size_t size = 0;
  for (;;) {
    if (out.size() < size + 4096) out.resize(size + 4096);
    const ssize_t n = ::read(fd.get(), out.data() + size, out.size() - size);
    if (n > 0) {
      size += static_cast<std::size_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      return errno;
    }
  }
  out.resize(size);
  return 0;
}

// The number after `key` at the start of a line of `text`, if any.
bool field(std::string_view text, std::string_view key, std::uint64_t& value) {
  for (std::size_t at = 0; at < text.size();) {
    if (text.compare(at, key.size(), key) == 0) {
      value = std::strtoull(text.data() + at + key.size(), nullptr, 10);
      return true;
    }
    const auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return false;
}

struct Walker {
  int proc_fd;
  std::string buf;
  std::vector<pid_t> pending;
  char path[96];

  // VmHWM (else VmRSS) of `pid` into `kb`, and its thread count. Returns 0,
  // or an errno (ENOENT/ESRCH: it is gone).
  int status(pid_t pid, std::uint64_t& kb, std::uint64_t& threads) {
    std::snprintf(path, sizeof path, "%d/status", pid);
    if (const int e = read_whole(proc_fd, path, buf); e != 0) return e;
    std::uint64_t v = 0;
    kb = field(buf, "VmHWM:", v) || field(buf, "VmRSS:", v) ? v : 0;  // 0: a zombie
    threads = field(buf, "Threads:", v) ? v : 1;
    return 0;
  }

  // Appends the children of task `tid` of `pid` to `pending`.
  int children(pid_t pid, pid_t tid) {
    std::snprintf(path, sizeof path, "%d/task/%d/children", pid, tid);
    if (const int e = read_whole(proc_fd, path, buf); e != 0) return e;
    const char* p = buf.c_str();
    while (*p != '\0') {
      char* end = nullptr;
      const long child = std::strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) pending.push_back(static_cast<pid_t>(child));
      p = end;
    }
    return 0;
  }

  // Children of every thread of `pid` (a thread that forks is the parent).
  int all_children(pid_t pid, std::uint64_t threads) {
    if (threads <= 1) return children(pid, pid);
    std::snprintf(path, sizeof path, "%d/task", pid);
    const int dfd = ::openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno;
    DIR* dir = ::fdopendir(dfd);
    if (dir == nullptr) {
      const int e = errno;
      ::close(dfd);
      return e;
    }
    std::vector<pid_t> tids;
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9') tids.push_back(std::atoi(e->d_name));
    }
    ::closedir(dir);
    for (pid_t tid : tids) {
      if (const int e = children(pid, tid); e != 0 && !gone(e)) return e;
    }
    return 0;
  }

  // Every descendant of `init` (and `init` itself when `with_root`):
  // subreaper and namespace runs keep all their processes in that tree,
  // orphans included.
  MemorySample tree(pid_t init, bool with_root = false) {
    MemorySample s;
    pending.clear();
    if (with_root) {
      pending.push_back(init);
    } else if (const int e = children(init, init); e != 0) {
      if (!gone(e)) s.error = e;
      return s;
    }
    std::size_t seen = 0;
    while (!pending.empty() && seen++ < kMaxProcessesPerRun) {
      const pid_t pid = pending.back();
      pending.pop_back();
      std::uint64_t kb = 0, threads = 1;
      int e = status(pid, kb, threads);
      if (e == 0) e = all_children(pid, threads);
      if (e != 0 && !gone(e)) {
        s.error = e;
        return s;
      }
      s.kb += kb;
    }
    return s;
  }

  // The members of a cgroup, from its cgroup.procs.
  MemorySample cgroup(const UniqueFd& procs) {
    MemorySample s;
    buf.resize(64 * 1024);
    std::size_t size = 0;
    for (;;) {
      if (buf.size() - size < 4096) buf.resize(buf.size() * 2);
      const ssize_t n = ::pread(procs.get(), buf.data() + size, buf.size() - size, static_cast<off_t>(size));
      if (n > 0) {
        size += static_cast<std::size_t>(n);
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        // ENODEV: the cgroup was removed, which happens only once it is
        // empty (the run has ended).
        if (!gone(errno) && errno != ENODEV) s.error = errno;
        return s;
      }
    }
    std::vector<pid_t> pids;
    for (std::size_t at = 0; at < size;) {
      const auto nl = std::string_view(buf.data(), size).find('\n', at);
      pids.push_back(static_cast<pid_t>(std::atol(buf.data() + at)));
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
    for (pid_t pid : pids) {
      if (pid <= 0) continue;
      std::uint64_t kb = 0, threads = 1;
      if (const int e = status(pid, kb, threads); e != 0) {
        if (!gone(e)) {
          s.error = e;
          return s;
        }
        continue;
      }
      s.kb += kb;
    }
    return s;
  }
};

// The process group of `pid` from /proc/PID/stat ("pid (comm) state ppid
// pgrp ..."; comm may hold spaces and parentheses, so parse after the last ')').
bool read_pgrp(int procfd, const char* pid, pid_t& pgrp) {
  char path[300];
  std::snprintf(path, sizeof path, "%s/stat", pid);
  char buf[512];
  UniqueFd fd(::openat(procfd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* close = std::strrchr(buf, ')');
  char state = 0;
  int ppid = 0, group = 0;
  if (close == nullptr || std::sscanf(close + 1, " %c %d %d", &state, &ppid, &group) != 3) return false;
  pgrp = group;
  return true;
}

// Process-group runs: one pass over /proc serves all of them.
void scan_groups(Walker& w, std::span<const Members> runs, std::vector<MemorySample>& out) {
  UniqueFd dfd(::openat(w.proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = dfd ? ::fdopendir(dfd.get()) : nullptr;
  if (dir == nullptr) {
    const int e = errno;
    for (std::size_t i = 0; i < runs.size(); ++i)
      if (runs[i].containment == Containment::process_group) out[i].error = e;
    return;
  }
  dfd.release();  // the DIR owns it now
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (name[0] < '1' || name[0] > '9') continue;
    pid_t pgrp = 0;
    if (!read_pgrp(w.proc_fd, name, pgrp)) continue;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].containment != Containment::process_group || runs[i].pgid != pgrp) continue;
      std::uint64_t kb = 0, threads = 1;
      const int e = w.status(static_cast<pid_t>(std::atoi(name)), kb, threads);
      if (e != 0 && !gone(e)) out[i].error = e;
      out[i].kb += kb;
    }
  }
  ::closedir(dir);
}

}  // namespace

std::vector<MemorySample> sample_members(std::span<const Members> runs) {
  std::vector<MemorySample> out(runs.size());
  Walker w{machine().proc_fd, {}, {}, {}};
  if (w.proc_fd < 0) {
    for (auto& s : out) s.error = ENOENT;
    return out;
  }
  bool any_group = false;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Members& run = runs[i];
    if (run.containment == Containment::process_group) {
      any_group = true;
    } else if (run.cgroup_procs && *run.cgroup_procs) {
      out[i] = w.cgroup(*run.cgroup_procs);
    } else {
      // A warm sandbox entered directly: the program is our child itself.
      out[i] = run.program_pid > 0 ? w.tree(run.program_pid, true) : w.tree(run.init_pid);
      if (run.sandbox_init_pid > 0 && out[i].error == 0) {
        // A warm sandbox: the program is the shepherd's child (or ours), its
        // orphans are the sandbox init's (which holds nothing of another run).
        const MemorySample orphans = w.tree(run.sandbox_init_pid);
        out[i].kb += orphans.kb;
        out[i].error = orphans.error;
      }
    }
  }
  if (any_group) scan_groups(w, runs, out);
  return out;
}

}  // namespace bounded_subprocess::detail
