// The host's side of a run's isolation. See isolation.hpp.
#include "spawn/isolation.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "bounded_subprocess/spawn_error.hpp"
#include "spawn/machine.hpp"

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kMaxMiB = std::size_t{1} << 40;  // RLIMIT_FSIZE and friends take bytes in 63 bits
constexpr std::size_t kMaxPids = 4194304;              // the kernel's PID_MAX_LIMIT
constexpr double kMaxCpuSeconds = 1e9;

[[noreturn]] void missing(const std::string& what) {
  throw SpawnError(ENOTSUP, SpawnError::Subject::containment, "isolation", what);
}

bool write_text(int dir, const char* name, const std::string& text) {
  const int fd = ::openat(dir, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// The number after `word` at the start of a line of `text`, 0 when none.
long long number_after(const std::string& text, std::string_view word) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, word.size(), word) != 0 || line.size() <= word.size() || line[word.size()] != ' ')
      continue;
    return std::atoll(line.c_str() + word.size() + 1);
  }
  return 0;
}

// The host's own cgroup of a v1 controller (its path), or "" where there is
// none or the caller is not root. Found once; opened by each run that uses
// it (no fd is kept for the life of the process). When found, the folders
// that runs of killed processes left there are removed (as the probe does
// for cgroup v2): a host killed with SIGKILL cannot remove its runs' limit
// cgroups, and v1 has no notification that would let anyone else do it.
struct V1Controllers {
  std::string pids;
  std::string memory;
};

std::string find_v1(const std::string& controller) {
  std::string own;
  {
    std::ifstream f("/proc/self/cgroup");
    for (std::string line; std::getline(f, line);) {
      const auto a = line.find(':');
      const auto b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::istringstream names(line.substr(a + 1, b - a - 1));
      for (std::string name; std::getline(names, name, ',');)
        if (name == controller) own = line.substr(b + 1);
    }
  }
  if (own.empty()) return "";
  std::ifstream f("/proc/self/mountinfo");
  for (std::string line; std::getline(f, line);) {
    const auto dash = line.find(" - cgroup ");
    if (dash == std::string::npos) continue;
    std::istringstream super(line.substr(dash + 10));
    std::string source, options;
    super >> source >> options;
    bool has = false;
    std::istringstream opts(options);
    for (std::string o; std::getline(opts, o, ',');) has = has || o == controller;
    if (!has) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (root != "/") continue;
    const std::string dir = mount_point + (own == "/" ? "" : own);
    struct stat st {};
    return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? dir : "";
  }
  return "";
}

const V1Controllers& v1_controllers() {
  static std::once_flag once;
  static V1Controllers c;
  std::call_once(once, [] {
    if (::geteuid() != 0) return;
    c.pids = find_v1("pids");
    c.memory = find_v1("memory");
    for (const std::string* dir : {&c.pids, &c.memory}) {
      if (dir->empty()) continue;
      const UniqueFd fd(::open(dir->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (fd) remove_stale_cgroups(fd.get());
    }
  });
  return c;
}

// The caller's cgroup v2 hands this controller to the runs' cgroups.
// `run_has_cgroup`: asked for a run that has its cgroup already (the
// parent is usable then, probed or proven by that run).
bool v2_controller(const char* name, bool run_has_cgroup = false) {
  const Machine& m = machine();
  // Asked first: the cgroup probe opens cgroup_parent_fd.
  if ((!run_has_cgroup && !m.available[static_cast<std::size_t>(Containment::cgroup)]) ||
      m.cgroup_parent_fd < 0)
    return false;
  // Read once, as the machine's other facts (every isolated run asks, and
  // the library never changes it).
  static std::once_flag once;
  static std::string handed;
  std::call_once(once, [&] { handed = read_small_file(m.cgroup_parent_fd, "cgroup.subtree_control"); });
  std::istringstream words(handed);
  for (std::string w; words >> w;)
    if (w == name) return true;
  return false;
}

bool has_limits(const Isolation& i) {
  return i.memory_limit_mb || i.pids_limit || i.cpu_limit;
}

// Empty network namespaces (loopback up), each lent to one run at a time:
// creating one costs milliseconds (the kernel initialises every network
// subsystem for it, serialized machine-wide), entering one costs a setns.
// Made by a short-lived thread of ours, which needs CAP_SYS_ADMIN: root
// callers only (an unprivileged run makes its own, in its user namespace).
class NetnsPool {
 public:
  static constexpr std::size_t kKept = 64;

  // A namespace for one run; none (the program makes its own) the first
  // time: a process that isolates one run (bounded-run) should not pay for
  // a thread and a namespace kept for runs that never come.
  UniqueFd take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        UniqueFd fd = std::move(free_.back());
        free_.pop_back();
        return fd;
      }
      if (!used_) {
        used_ = true;
        return UniqueFd();
      }
    }
    return make();
  }
  void give_back(UniqueFd fd) {
    std::lock_guard lock(mutex_);
    if (free_.size() < kKept && owner_ == ::getpid()) free_.push_back(std::move(fd));
  }

 private:
  UniqueFd make() {
    int fd = -1;
    int err = 0;
    std::thread([&] {
      if (::unshare(CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      if (const long r = bs_loopback_up(); r < 0) {
        err = static_cast<int>(-r);
        return;
      }
      fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (fd < 0) err = errno;
    }).join();
    if (fd < 0) missing("cannot make an empty network namespace: " + std::string(std::strerror(err)));
    return UniqueFd(keep_above_stdio(fd));
  }

  std::mutex mutex_;
  std::vector<UniqueFd> free_;
  bool used_ = false;
  pid_t owner_ = ::getpid();  ///< a forked host never uses its parent's
};

NetnsPool& netns_pool() {
  static NetnsPool pool;
  return pool;
}

// Removes a v1 limit cgroup (empty: its run is over, or it never had one).
void remove_v1_cgroup(V1Cgroup& g) noexcept {
  g.procs.reset();
  g.events.reset();
  g.current.reset();
  g.failcnt.reset();
  g.dir.reset();
  if (g.parent) ::unlinkat(g.parent.get(), g.name.c_str(), AT_REMOVEDIR);
  g.parent.reset();
}

// The v1 limit cgroups of finished runs, kept for the next runs (root on a
// hybrid host, where pids_limit and the kernel memory limit use them):
// making and removing one per run cost it 0.07-0.1 ms, most of it a memory
// cgroup's accounting and its 50-odd files. A cgroup is kept only once its
// run is over, when the run's program could not write to it (/sys/fs/cgroup
// read-only, no CAP_SYS_ADMIN: protect_cgroups), when nothing is in it,
// and, for memory, when the run left at most kMaxLeftover charged to it
// (the kernel objects and per-CPU reserve a run leaves; page cache it read
// or wrote is more, and would count against the next run's limit). The
// next run writes its own limits (unless they are the same); the counts it
// reports are its own (above what the cgroup counted before, or reset).
// Bounds: at most kKept per controller, each holding up to 6 fds; the rest,
// and all of them at exit or drop_warm_sandboxes(), are removed. None is
// kept after the process's first run (one that makes a single run pays
// nothing for the pool). A child of fork() never uses its parent's.
class V1Pool {
 public:
  static constexpr std::size_t kKept = 8;
  static constexpr long long kMaxLeftover = 1 << 20;

  std::optional<V1Cgroup> take(bool pids) {
    std::lock_guard lock(mutex_);
    adopt_after_fork();
    auto& list = pids ? pids_ : memory_;
    if (list.empty()) return std::nullopt;
    V1Cgroup g = std::move(list.back());
    list.pop_back();
    return g;
  }
  // Whether a finished run's cgroups are worth keeping: not the first
  // run's (a process that isolates one run, bounded-run, pays nothing for
  // a pool it never uses), the later ones'.
  bool keeps() noexcept {
    std::lock_guard lock(mutex_);
    adopt_after_fork();
    return std::exchange(released_once_, true);
  }
  // Kept, or removed when the pool is full.
  void give_back(V1Cgroup g) noexcept {
    {
      std::lock_guard lock(mutex_);
      adopt_after_fork();
      auto& list = g.pids ? pids_ : memory_;
      if (list.size() < kKept) {
        try {
          list.push_back(std::move(g));
          return;
        } catch (...) {
        }
      }
    }
    remove_v1_cgroup(g);
  }
  // The child of a fork(), single-threaded: the lock may have been held by
  // a thread that does not exist here.
  void after_fork() noexcept {
    new (&mutex_) std::mutex;
    adopt_after_fork();
  }
  void drop() noexcept {
    std::lock_guard lock(mutex_);
    adopt_after_fork();
    for (auto* list : {&pids_, &memory_}) {
      for (V1Cgroup& g : *list) remove_v1_cgroup(g);
      list->clear();
    }
  }

 private:
  // In a child of fork: the kept cgroups are the parent's (our copies of
  // their fds are closed; the parent's lock stays).
  void adopt_after_fork() noexcept {
    if (owner_ == ::getpid()) return;
    pids_.clear();
    memory_.clear();
    released_once_ = false;
    owner_ = ::getpid();
  }

  std::mutex mutex_;
  std::vector<V1Cgroup> pids_, memory_;
  bool released_once_ = false;
  pid_t owner_ = ::getpid();
};

V1Pool& v1_pool() {
  // Never destroyed (a thread may still end a run while the process
  // exits); emptied at exit instead.
  static V1Pool* pool = [] {
    auto* p = new V1Pool;
    std::atexit([] { v1_pool().drop(); });
    ::pthread_atfork(nullptr, nullptr, [] { v1_pool().after_fork(); });
    return p;
  }();
  return *pool;
}

// A file of a v1 limit cgroup, opened (kept open while the cgroup is).
UniqueFd open_in(const V1Cgroup& g, const char* name, int flags) {
  return UniqueFd(keep_above_stdio(::openat(g.dir.get(), name, flags | O_CLOEXEC)));
}

// The number an open cgroup file holds; -1 when it cannot be read.
long long read_number(int fd) noexcept {
  char buf[32];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof buf - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return std::atoll(buf);
}

}  // namespace

void validate_isolation(const Isolation& i) {
  auto size = [](const std::optional<std::size_t>& v, const char* name, std::size_t max) {
    if (!v) return;
    if (*v == 0) throw std::invalid_argument(std::string("isolation.") + name + " must be at least 1");
    if (*v > max)
      throw std::invalid_argument(std::string("isolation.") + name + " is above what the kernel takes (" +
                                  std::to_string(max) + ")");
  };
  size(i.scratch_mb, "scratch_mb", kMaxMiB);
  size(i.memory_limit_mb, "memory_limit_mb", kMaxMiB);
  size(i.pids_limit, "pids_limit", kMaxPids);
  size(i.file_size_limit_mb, "file_size_limit_mb", kMaxMiB);
  if (i.cpu_limit && (!std::isfinite(i.cpu_limit->count()) || i.cpu_limit->count() <= 0 ||
                      i.cpu_limit->count() > kMaxCpuSeconds))
    throw std::invalid_argument("isolation.cpu_limit must be a positive, finite duration (at most 1e9 s)");
  if (i.volumes.size() > static_cast<std::size_t>(kMaxVolumes))
    throw std::invalid_argument("isolation.volumes: at most " + std::to_string(kMaxVolumes) + " volumes");
  for (const Volume& v : i.volumes) {
    const std::string name = "volume '" + v.source + ":" + v.target + "'";
    if (v.source.empty() || v.source.front() != '/' || v.source.find('\0') != std::string::npos)
      throw std::invalid_argument(name + ": the source must be an absolute path");
    if (v.target.empty() || v.target.front() != '/' || v.target.find('\0') != std::string::npos)
      throw std::invalid_argument(name + ": the target must be an absolute path");
    struct stat st {};
    if (::stat(v.source.c_str(), &st) != 0)
      throw std::invalid_argument(name + ": the source " + v.source + " does not exist (" +
                                  std::strerror(errno) + ")");
    if (::stat(v.target.c_str(), &st) != 0) {
      const auto slash = v.target.rfind('/');
      const bool in_scratch = i.scratch_mb && v.target.compare(0, 5, "/tmp/") == 0 && slash == 4;
      if (!in_scratch)
        throw std::invalid_argument(
            name + ": the target " + v.target +
            " does not exist (it must exist, or be a folder directly in the scratch /tmp)");
    }
  }
}

ContainmentRequest isolation_request(const Isolation& i, const ContainmentRequest& request) {
  const Containment needed = i.cpu_limit ? Containment::cgroup : Containment::pid_namespace;
  if (request.exactly && *request.exactly < needed)
    throw SpawnError(ENOTSUP, SpawnError::Subject::containment, std::string(to_string(*request.exactly)),
                     "isolation needs containment " + std::string(to_string(needed)) +
                         (i.cpu_limit ? " (the CPU limit reads the run's cgroup)"
                                      : " or cgroup (the program's namespaces need the run's init)") +
                         ", not '" + std::string(to_string(*request.exactly)) + "'");
  ContainmentRequest r = request;
  if (r.at_least < needed) r.at_least = needed;
  return r;
}

ContainmentRequest isolation_containment(const Isolation& i, const ContainmentRequest& request) {
  const ContainmentRequest r = isolation_request(i, request);
  if (!r.exactly) {
    // Say what is missing, in the isolation's words.
    const Machine& m = machine();
    bool any = false;
    for (int c = 3; c >= static_cast<int>(r.at_least); --c) any = any || m.available[c];
    if (!any)
      missing(i.cpu_limit
                  ? "isolation.cpu_limit needs the run's own cgroup (containment cgroup), which is not "
                    "available here: " +
                        m.why_not[static_cast<std::size_t>(Containment::cgroup)]
                  : "isolation needs a PID namespace (containment pid_namespace), which is not available "
                    "here: " +
                        m.why_not[static_cast<std::size_t>(Containment::pid_namespace)]);
  }
  return r;
}

int IsolationSetup::cpu_count() noexcept {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

std::optional<Environment> isolated_env(const Isolation& i, const std::optional<Environment>& env) {
  if (!i.scratch_mb) return env;
  Environment e = env ? *env : inherited_env();
  e["TMPDIR"] = "/tmp";
  return e;
}

bool isolation_can_be_warm(const Isolation& i) {
  if (i.cpu_limit || i.file_size_limit_mb) return false;
  if (!i.pids_limit && !i.memory_limit_mb) return true;
  return !(i.pids_limit && v2_controller("pids")) && !(i.memory_limit_mb && v2_controller("memory"));
}

int IsolationSetup::make_scratch() {
  if (plan_.scratch_size == nullptr || plan_.view_entered) return -1;  // a view has its own
  if (scratch_) return scratch_.get();
  const long made = bs_make_scratch(plan_.scratch_size);
  const int fd = made < 0 ? -1 : keep_above_stdio(static_cast<int>(made));
  if (fd < 0) {
    const int err = made < 0 ? static_cast<int>(-made) : errno;
    throw SpawnError(err, SpawnError::Subject::containment, "isolation",
                     "cannot make the scratch tmpfs at /tmp: " + std::string(std::strerror(err)));
  }
  scratch_ = UniqueFd(fd);
  return fd;
}

IsolationSetup::IsolationSetup(const Isolation& i, Containment containment, int run_cgroup) {
  const Machine& m = machine();
  plan_.drop_capabilities = ::geteuid() == 0 && !m.user_namespace;
  plan_.protect_cgroups = plan_.drop_capabilities && has_limits(i);
  plan_.read_only = i.read_only;
  plan_.network_none = i.network == Network::none;
  if (plan_.network_none && plan_.drop_capabilities) {
    netns_ = netns_pool().take();
    plan_.netns_fd = netns_.get();
    plan_.protect_sysctls = static_cast<bool>(netns_);
  }
  if (i.scratch_mb) {
    scratch_options_ = std::to_string(*i.scratch_mb) + "m";
    plan_.scratch_size = scratch_options_.c_str();
  }
  plan_.volume_count = static_cast<int>(i.volumes.size());
  for (std::size_t k = 0; k < i.volumes.size(); ++k) {
    plan_.volume_source[k] = i.volumes[k].source.c_str();
    plan_.volume_target[k] = i.volumes[k].target.c_str();
    plan_.volume_read_only[k] = i.volumes[k].read_only;
    struct stat st {};
    plan_.volume_make_target[k] = ::stat(i.volumes[k].target.c_str(), &st) != 0;
  }
  plan_.new_mount_namespace = i.read_only || i.scratch_mb.has_value() || !i.volumes.empty() ||
                              plan_.protect_cgroups || plan_.protect_sysctls;
  if (i.file_size_limit_mb) plan_.file_size_limit = static_cast<long long>(*i.file_size_limit_mb) << 20;

  const bool in_run_cgroup = containment == Containment::cgroup && run_cgroup >= 0;
  // Finds the v1 hierarchies (and sweeps what killed hosts left there) even
  // where cgroup v2 enforces these limits: they may have been used before.
  if (i.pids_limit || i.memory_limit_mb) (void)v1_controllers();
  try {
    if (i.pids_limit) {
      const std::string value = std::to_string(*i.pids_limit);
      if (in_run_cgroup && v2_controller("pids", true)) {
        if (!write_text(run_cgroup, "pids.max", value))
          missing("cannot set pids.max of the run's cgroup: " + std::string(std::strerror(errno)));
        v2_limits_ = true;
      } else if (!v1_controllers().pids.empty()) {
        v1_.push_back(make_v1("pids", value, [&](int dir) { return write_text(dir, "pids.max", value); }));
      } else if (m.user_namespace) {
        // The run has a user namespace of its own: RLIMIT_NPROC counts the
        // tasks of its uid there, which are the run's (its init among them).
        plan_.nproc_limit = static_cast<long long>(*i.pids_limit) + 1;
      } else {
        missing(
            "isolation.pids_limit needs a pids controller for the run's cgroup (a delegated cgroup v2 with "
            "pids in cgroup.subtree_control, or the v1 pids hierarchy as root) or a user namespace of the "
            "run's own; this process has neither");
      }
    }
    if (i.memory_limit_mb) {
      const std::string bytes = std::to_string(static_cast<unsigned long long>(*i.memory_limit_mb) << 20);
      if (in_run_cgroup && v2_controller("memory", true)) {
        if (!write_text(run_cgroup, "memory.max", bytes))
          missing("cannot set memory.max of the run's cgroup: " + std::string(std::strerror(errno)));
        write_text(run_cgroup, "memory.swap.max", "0");
        v2_limits_ = true;
      } else if (!v1_controllers().memory.empty()) {
        v1_.push_back(make_v1("memory", bytes, [&](int dir) {
          // A kept cgroup has its last run's limits: memsw (where swap is
          // accounted) may not be below the memory limit, so it goes first.
          write_text(dir, "memory.memsw.limit_in_bytes", "-1");
          if (!write_text(dir, "memory.limit_in_bytes", bytes)) return false;
          write_text(dir, "memory.memsw.limit_in_bytes", bytes);  // no swap beyond it
          return true;
        }));
      } else {
        missing(
            "isolation.memory_limit_mb needs a memory controller for the run's cgroup (a delegated cgroup "
            "v2 with memory in cgroup.subtree_control, or the v1 memory hierarchy as root); this process "
            "has neither (Options::memory_limit_mb, the watchdog, needs none)");
      }
    }
  } catch (...) {
    release_v1(false);
    throw;
  }
  for (std::size_t k = 0; k < v1_.size() && k < 2; ++k) plan_.limit_procs_fd[k] = v1_[k].procs.get();
}

int IsolationSetup::use_view(WarmSandbox& sandbox, std::string_view cwd) {
  if (!plan_.new_mount_namespace || plan_.volume_count != 0) return -1;
  // The program finds the host's cwd again by its path in the view, where
  // /tmp is the scratch already (without a view, the scratch is placed
  // after: the cwd is the host's folder under it).
  if (plan_.scratch_size != nullptr && (cwd == "/tmp" || cwd.substr(0, 5) == "/tmp/")) return -1;
  view_ = take_mount_view(sandbox, plan_);
  plan_.view_entered = static_cast<bool>(view_);
  return view_ ? view_.ns.get() : -1;
}

IsolationSetup::~IsolationSetup() {
  give_back_mount_view(std::move(view_), run_gone_);
  release_v1(false);  // finish() gave them back already where it could
  // Every process of the run is gone (the init has been reaped): the
  // namespace is empty again for the next run.
  if (netns_ && run_over_) netns_pool().give_back(std::move(netns_));
}

V1Cgroup IsolationSetup::make_v1(const char* controller, const std::string& limit,
                                 const std::function<bool(int)>& set_limit) {
  const bool pids = std::string_view(controller) == "pids";
  if (std::optional<V1Cgroup> kept = v1_pool().take(pids)) {
    // Still there (nobody removed it from outside)?
    struct stat st {};
    const bool there = ::fstatat(kept->dir.get(), "cgroup.procs", &st, 0) == 0;
    if (there && kept->limit == limit) return std::move(*kept);
    kept->limit.clear();
    if (there && set_limit(kept->dir.get())) {
      kept->limit = limit;
      return std::move(*kept);
    }
    remove_v1_cgroup(*kept);  // gone, or its leftover above the new limit: a new one instead
  }
  V1Cgroup g;
  g.pids = pids;
  const std::string& path = g.pids ? v1_controllers().pids : v1_controllers().memory;
  g.parent = UniqueFd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!g.parent) missing("cannot open " + path + ": " + std::strerror(errno));
  // Locked for its life (the init keeps a copy of the fd), so the sweep of
  // another process leaves it alone; see v1_controllers.
  const int made =
      create_locked_cgroup(g.parent.get(), "bounded_subprocess." + std::to_string(::getpid()) + ".", g.name);
  if (made < 0)
    missing("cannot create the run's " + std::string(controller) + " cgroup in " + path + ": " +
            std::strerror(-made));
  g.dir = UniqueFd(made);
  g.procs = UniqueFd(keep_above_stdio(::openat(g.dir.get(), "cgroup.procs", O_WRONLY | O_CLOEXEC)));
  const bool opened = static_cast<bool>(g.procs);
  if (!opened || !set_limit(g.dir.get())) {
    const int e = errno;
    remove_v1_cgroup(g);
    missing(std::string(opened ? "cannot set the limit of" : "cannot open") + " the run's " + controller +
            " cgroup in " + path + ": " + std::strerror(e));
  }
  g.limit = limit;
  return g;
}

void IsolationSetup::release_v1(bool reusable) noexcept {
  reusable = reusable && !v1_.empty() && v1_pool().keeps();
  for (std::size_t k = 0; k < v1_.size(); ++k) {
    V1Cgroup& g = v1_[k];
    bool keep = reusable && g.dir && k < v1_counts_.size() && v1_counts_[k] >= 0;
    if (keep && !g.current)
      g.current = open_in(g, g.pids ? "pids.current" : "memory.usage_in_bytes", O_RDONLY);
    if (keep) {
      const long long held = read_number(g.current.get());
      keep = held >= 0 && held <= (g.pids ? 0 : V1Pool::kMaxLeftover);
    }
    if (keep && !g.pids && read_number(g.failcnt.get()) != 0)
      keep = ::pwrite(g.failcnt.get(), "0", 1, 0) == 1;
    if (keep) {
      g.counted_before = v1_counts_[k];
      v1_pool().give_back(std::move(g));
    } else {
      remove_v1_cgroup(g);
    }
  }
  v1_.clear();
  v1_counts_.clear();
}

LimitCounters IsolationSetup::finish() noexcept {
  run_over_ = true;
  LimitCounters c;
  c.scratch = (scratch_ && bs_file_system_full(scratch_.get())) ||
              (view_.tmp && bs_file_system_full(view_.tmp.get()));
  v1_counts_.clear();
  try {
    for (V1Cgroup& g : v1_) {
      if (g.dir && !g.events) g.events = open_in(g, g.pids ? "pids.events" : "memory.oom_control", O_RDONLY);
      if (g.dir && !g.pids && !g.failcnt) g.failcnt = open_in(g, "memory.failcnt", O_RDWR);
      // -1 where it cannot be read: the verdict is not known, the cgroup not kept.
      const long long count =
          g.events ? number_after(read_open_file(g.events.get()), g.pids ? "max" : "oom_kill") : -1;
      if (g.dir && g.pids) {
        c.pids = count > g.counted_before;
      } else if (g.dir) {
        c.memory_oom_kill = count > g.counted_before;
        c.memory = c.memory_oom_kill || read_number(g.failcnt.get()) > 0;
      }
      v1_counts_.push_back(count);
    }
  } catch (...) {
    v1_counts_.clear();  // out of memory: nothing is kept
  }
  release_v1(plan_.protect_cgroups);
  return c;
}

void drop_idle_v1_cgroups() noexcept {
  v1_pool().drop();
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

bool kernel_memory_limit_available() noexcept {
  try {
    return detail::v2_controller("memory") || !detail::v1_controllers().memory.empty();
  } catch (...) {
    return false;
  }
}

}  // namespace bounded_subprocess
