// Test support shared by every test suite: leak checks (fds, processes,
// zombies), the path of the bs_misbehave helper and the PATTERN it writes.
//
// Usage in a test:
//   bs_test::NoLeaks leaks;                // records the open fds
//   auto r = run({bs_test::misbehave(), "print-ids"});
//   pid_t pgid = bs_test::field_after(r.out.data, "pgid");
//   leaks.expect_clean(pgid);              // fds back, group gone, no zombie
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <bounded_subprocess/containment.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifndef BS_MISBEHAVE_PATH
#error "BS_MISBEHAVE_PATH must be defined (link the bs_test_support target)"
#endif

namespace bs_test {

/// Absolute path of the bs_misbehave helper program.
inline std::string misbehave() {
  return BS_MISBEHAVE_PATH;
}

/// `n` bytes of the helper's PATTERN starting at byte `offset` (byte i is '\n'
/// when i % 64 == 63, else 'a' + i % 26).
inline std::string misbehave_pattern(unsigned long long offset, unsigned long long n) {
  std::string s;
  s.reserve(static_cast<std::size_t>(n));
  for (unsigned long long i = offset; i < offset + n; ++i) {
    s.push_back(i % 64 == 63 ? '\n' : static_cast<char>('a' + static_cast<int>(i % 26)));
  }
  return s;
}

/// Number of entries in /proc/self/fd (not counting the directory's own fd).
inline int count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int own = ::dirfd(dir);
  int count = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (std::atoi(e->d_name) == own) continue;
    ++count;
  }
  ::closedir(dir);
  return count;
}

/// The fields of /proc/PID/stat that the checks need.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
};

/// Reads /proc/PID/stat; false when the process does not exist (any more).
inline bool read_proc_stat(pid_t pid, ProcStat* out) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return false;
  std::string line;
  std::getline(f, line);
  // The command name is in parentheses and may hold spaces: parse after the
  // last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  ProcStat st;
  st.pid = pid;
  rest >> st.state >> st.ppid >> st.pgrp >> st.session;
  if (!rest) return false;
  *out = st;
  return true;
}

/// Every process currently visible in /proc.
inline std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> result;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return result;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    ProcStat st;
    if (read_proc_stat(static_cast<pid_t>(pid), &st)) result.push_back(st);
  }
  ::closedir(dir);
  return result;
}

/// Whether `st` is this process's descendant (its parent chain reaches us).
/// Ids a helper printed from inside a PID namespace are that namespace's
/// own numbers: the host processes that happen to carry them are not our
/// descendants, and leftovers of the run are (the test process is a child
/// subreaper, and a contained run keeps everything under its init).
inline bool is_my_descendant(const ProcStat& st) {
  const pid_t me = ::getpid();
  ProcStat cur = st;
  for (int depth = 0; depth < 4096; ++depth) {
    if (cur.ppid == me) return true;
    if (cur.ppid <= 1 || !read_proc_stat(cur.ppid, &cur)) return false;
  }
  return false;
}

/// The processes of group `pgid` that still exist among our descendants. A
/// zombie counts (it has not been reaped) unless its parent is init (pid 1)
/// or a subreaper other than us, which reaps it on its own.
inline std::vector<ProcStat> group_members(pid_t pgid) {
  std::vector<ProcStat> members;
  for (const ProcStat& st : all_processes()) {
    if (st.pgrp != pgid || !is_my_descendant(st)) continue;
    if (st.state == 'Z' && st.ppid != ::getpid()) {
      ProcStat parent;
      // Reaped by init, or by a parent outside the test (e.g. a container's
      // init): not ours to count.
      if (st.ppid == 1 || !read_proc_stat(st.ppid, &parent) || parent.pgrp != pgid) continue;
    }
    members.push_back(st);
  }
  return members;
}

/// True while any process of group `pgid` is left (zombies included, except
/// those init is about to reap).
inline bool group_alive(pid_t pgid) {
  if (pgid <= 0) return false;
  return !group_members(pgid).empty();
}

/// True while `pid` exists among our descendants and is not a zombie of
/// someone else (a zombie of ours counts as alive: it was not reaped).
inline bool pid_alive(pid_t pid) {
  if (pid <= 0) return false;
  ProcStat st;
  if (!read_proc_stat(pid, &st) || !is_my_descendant(st)) return false;
  if (st.state == 'Z' && st.ppid != ::getpid()) return false;
  return true;
}

/// Zombies whose parent is this process: children the library forgot to reap.
inline int count_my_zombie_children() {
  int n = 0;
  pid_t me = ::getpid();
  for (const ProcStat& st : all_processes()) {
    if (st.ppid == me && st.state == 'Z') ++n;
  }
  return n;
}

/// Waits until `pred()` is false, up to `limit` (processes killed by SIGKILL
/// and reparented to init can take a moment to vanish). Returns the last
/// value of `pred()`. Tests only: the library never sleeps like this.
template <class Pred>
bool still_true_after(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (pred()) {
    if (std::chrono::steady_clock::now() >= end) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

/// The fields of the NSpid: line of /proc/PID/status: the pid in each PID
/// namespace from ours inwards (one field when the process is in ours).
inline std::vector<long> ns_pids(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::vector<long> out;
  while (std::getline(f, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    for (long v; fields >> v;) out.push_back(v);
  }
  return out;
}

/// The pid that process `host_pid` sees for itself (in a run contained by a
/// PID namespace, its number there): what a helper prints as "pid". -1 when
/// it is gone.
inline long pid_inside(pid_t host_pid) {
  const std::vector<long> v = ns_pids(host_pid);
  return v.empty() ? -1 : v.back();
}

/// Whether `inside`, the pid a run's process printed for itself, fits
/// `host_pid`, our pid of it, under containment `c`: the same number outside
/// a PID namespace; inside one, any number but its init's (1). Which number
/// depends on how many programs the run's warm sandbox has started before
/// (2 for the first), so no test may assume one.
inline bool same_process_inside(long inside, pid_t host_pid, bounded_subprocess::Containment c) {
  const bool namespaced =
      c == bounded_subprocess::Containment::pid_namespace || c == bounded_subprocess::Containment::cgroup;
  return namespaced ? inside > 1 : inside == static_cast<long>(host_pid);
}

inline std::string pid_namespace_of(pid_t pid) {
  char buf[64];
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/pid";
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/// Our pid of the process that a run's process printed as `inside` (its own
/// view), given `reference`, our pid of any live process of the same run:
/// `inside` itself when the run is in our PID namespace. -1 when no such
/// process exists (any more).
inline pid_t host_pid(long inside, pid_t reference) {
  if (ns_pids(reference).size() <= 1) return static_cast<pid_t>(inside);
  const std::string ns = pid_namespace_of(reference);
  for (const ProcStat& st : all_processes()) {
    const std::vector<long> v = ns_pids(st.pid);
    if (v.size() > 1 && v.back() == inside && pid_namespace_of(st.pid) == ns) return st.pid;
  }
  return -1;
}

/// The integer after the word `key` in `text` ("pgid 123" -> 123), or -1.
inline long field_after(std::string_view text, std::string_view key) {
  std::string k = std::string(key) + " ";
  auto pos = text.find(k);
  if (pos == std::string_view::npos) return -1;
  return std::strtol(std::string(text.substr(pos + k.size())).c_str(), nullptr, 10);
}

/// Every integer that follows `key` in `text` (e.g. all "child PID" lines).
inline std::vector<pid_t> all_fields_after(std::string_view text, std::string_view key) {
  std::vector<pid_t> out;
  std::string k = std::string(key) + " ";
  std::size_t pos = 0;
  while ((pos = text.find(k, pos)) != std::string_view::npos) {
    pos += k.size();
    out.push_back(static_cast<pid_t>(std::strtol(std::string(text.substr(pos, 20)).c_str(), nullptr, 10)));
  }
  return out;
}

/// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER):
/// orphaned descendants of the runs are re-parented to the test process
/// instead of init, so `NoLeaks` can see every process a run left behind,
/// whatever its group. It also tests the library where it is pid 1 of a
/// container. Call once, before the first run (e.g. from a gtest Environment).
inline bool become_subreaper() {
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

inline bool is_subreaper() {
  int flag = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) == 0 && flag != 0;
}

/// Reaps zombie child `pid` (this pid only); false while it cannot be reaped
/// yet. A leader shows 'Z' in /proc as soon as it has exited, but waitpid
/// returns 0 until its other threads (a sanitizer's background thread, say)
/// have exited too.
inline bool reap_zombie(pid_t pid) {
  return ::waitpid(pid, nullptr, WNOHANG) != 0;  // reaped, or not ours any more
}

/// Our live descendants. With `reap`, zombie children are reaped on the way
/// (adopted orphans: pass false while a run of the library is in flight, its
/// own child is the library's to reap).
/// Whether `pid` is the init of a warm sandbox (its name is "bs-warm").
inline bool is_warm_sandbox_init(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  return std::getline(f, comm) && comm == "bs-warm";
}

/// Our live descendants, a run's leftovers. The warm sandboxes of this
/// process are dropped first (they are the library's, not a run's); those of
/// a host process that has exited end by themselves a moment later
/// (`warm_sandboxes_left` says whether any is still there): they are not
/// counted here, but the processes in their namespaces are.
inline std::vector<pid_t> live_descendants(bool reap = true) {
  bounded_subprocess::drop_warm_sandboxes();
  std::vector<pid_t> alive;
  for (const ProcStat& st : all_processes()) {
    if (st.state != 'Z' && is_warm_sandbox_init(st.pid)) continue;
    if (st.ppid == ::getpid() && st.state == 'Z') {
      if (reap && !reap_zombie(st.pid)) alive.push_back(st.pid);  // adopted: ours to reap
      continue;
    }
    if (st.state != 'Z' && is_my_descendant(st)) alive.push_back(st.pid);
  }
  return alive;
}

/// Whether a warm sandbox's init is among our live descendants.
inline bool warm_sandboxes_left() {
  for (const ProcStat& st : all_processes())
    if (st.state != 'Z' && is_warm_sandbox_init(st.pid) && is_my_descendant(st)) return true;
  return false;
}

/// Every containment this machine offers, weakest first.
inline std::vector<bounded_subprocess::Containment> available_containments() {
  std::vector<bounded_subprocess::Containment> out;
  for (auto c : {bounded_subprocess::Containment::process_group, bounded_subprocess::Containment::subreaper,
                 bounded_subprocess::Containment::pid_namespace, bounded_subprocess::Containment::cgroup})
    if (bounded_subprocess::containment_available(c)) out.push_back(c);
  return out;
}

/// Every test program that includes this header is a child subreaper from
/// its start, so that NoLeaks sees whatever a run leaves behind.
inline const bool kBecameSubreaper = become_subreaper();

/// For a subreaper: waits (up to `limit`) until no orphan adopted from a run
/// is alive, reaping the adopted zombies (never a run's direct child: those
/// lead their own session and are the library's to reap; an ended warm
/// sandbox of an exited host is reaped). Returns the
/// adopted orphans still alive at the end: processes a run left behind.
inline std::vector<pid_t> reap_adopted_orphans(
    std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::vector<pid_t> alive;
    for (const ProcStat& st : all_processes()) {
      if (st.ppid != ::getpid()) continue;
      // A session leader is a run's direct child, the library's to reap,
      // unless it is the ended warm sandbox of a host that exited before it
      // (bounded-run killed by a test): adopted, ours.
      const bool ended_sandbox = st.state == 'Z' && is_warm_sandbox_init(st.pid);
      if (st.session == st.pid && !ended_sandbox) continue;
      if (st.state != 'Z' || !reap_zombie(st.pid)) alive.push_back(st.pid);
    }
    if (alive.empty() || std::chrono::steady_clock::now() >= end) return alive;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

/// Records the open fds at construction; `expect_clean` asserts (gtest
/// EXPECTs) that the count is back, no zombie child of ours is left, and the
/// given groups/pids are gone.
class NoLeaks {
 public:
  /// `grace`: how long processes may take to vanish (SIGKILLed orphans are
  /// reaped by their new parent a moment later; on a loaded machine that
  /// moment can be long). The default only bounds a hang: a clean run costs
  /// nothing of it, a leak fails after it.
  explicit NoLeaks(std::chrono::milliseconds grace = std::chrono::milliseconds(10000))
      : fds_(baseline_fds()), grace_(grace) {}

  int fds_at_start() const { return fds_; }

  /// Asserts: fd count back to the start; when this process is a subreaper
  /// (see become_subreaper), no descendant of a run is alive (adopted
  /// zombies are reaped); no child of this process left, zombie or running
  /// (when `check_zombies`: pass false while other threads' runs may be
  /// mid-flight); and each
  /// of `pgids` has no process left and each of `pids` is gone. The grace
  /// period lets SIGKILLed processes vanish.
  void expect_clean(std::vector<pid_t> pgids = {}, std::vector<pid_t> pids = {},
                    bool check_zombies = true) const {
    // The idle warm sandboxes (their processes and fds) are the library's
    // cache, not a run's: they go first, and must leave nothing.
    bounded_subprocess::drop_warm_sandboxes();
    EXPECT_EQ(count_open_fds(), fds_) << "fd leak";
    if (is_subreaper()) {
      std::vector<pid_t> left = reap_adopted_orphans(grace_);
      EXPECT_TRUE(left.empty()) << left.size() << " descendant(s) of a run still alive, e.g. pid "
                                << (left.empty() ? 0 : left[0]);
    }
    if (check_zombies) {
      EXPECT_EQ(count_my_zombie_children(), 0) << "unreaped child";
      // No run is in flight: any child of ours still alive was leaked.
      int alive = 0;
      for (const ProcStat& st : all_processes()) {
        if (st.ppid == ::getpid() && st.state != 'Z') ++alive;
      }
      EXPECT_EQ(alive, 0) << "a child of this process is still running";
    }
    for (pid_t g : pgids) {
      EXPECT_GT(g, 0) << "no pgid to check (the helper did not print it?)";
      EXPECT_FALSE(still_true_after([g] { return group_alive(g); }, grace_))
          << "process group " << g << " still has processes";
    }
    for (pid_t p : pids) {
      EXPECT_GT(p, 0) << "no pid to check";
      EXPECT_FALSE(still_true_after([p] { return pid_alive(p); }, grace_)) << "pid " << p << " still alive";
    }
  }

 private:
  // The library's containment probe keeps two fds (/proc, the caller's
  // cgroup) open for the life of the process: make them exist first.
  static int baseline_fds() {
    (void)bounded_subprocess::strongest_containment();
    bounded_subprocess::drop_warm_sandboxes();
    return count_open_fds();
  }

  int fds_;
  std::chrono::milliseconds grace_;
};

/// VmRSS of this process in KiB (0 if unknown).
inline long self_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace bs_test
