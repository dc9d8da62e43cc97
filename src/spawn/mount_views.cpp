// Mount views (see mount_views.hpp).
#include "spawn/mount_views.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "spawn/launch.hpp"
#include "spawn/machine.hpp"
#include "spawn/warm_pool.hpp"

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kViewsPerSandbox = 3;
constexpr auto kIdle = std::chrono::seconds(10);

// What a view protects: the host's files read-only (which protects the
// rest too), or which of /sys/fs/cgroup and /proc/sys.
constexpr unsigned kReadOnly = 1, kCgroups = 2, kSysctls = 4;

unsigned flags_of(const IsolationPlan& plan) noexcept {
  if (plan.read_only) return kReadOnly;
  return (plan.protect_cgroups ? kCgroups : 0U) | (plan.protect_sysctls ? kSysctls : 0U);
}

struct Kind {
  unsigned flags;
  std::string scratch;
  bool operator==(const Kind&) const = default;
};

Kind kind_of(const MountView& v) {
  return {v.flags, v.scratch};
}

// Whether the scratch holds what it held when made (a sanity check; the
// watch is what tells, Maker::touched).
bool scratch_filled(const MountView& v) noexcept {
  if (!v.tmp) return false;
  struct statfs room {};
  if (::fstatfs(v.tmp.get(), &room) != 0) return true;
  return room.f_bfree != v.tmp_room.f_bfree || room.f_ffree != v.tmp_room.f_ffree;
}

void end_view(MountView view) noexcept;

}  // namespace

struct MountViews {
  std::mutex mu;
  UniqueFd pidfd;                ///< a copy of the sandbox's init's pidfd, for the maker's setns
  std::vector<MountView> ready;  ///< not lent (their `home` is empty)
  std::vector<Kind> asked;       ///< to make
  bool queued = false;           ///< in the maker's queue

  ~MountViews() {
    for (MountView& v : ready) end_view(std::move(v));
  }
};

namespace {

// `view` among the ready ones of `views` (its lock held), unless one of
// its kind is there already (then it goes to `evicted`); the least recently
// used goes to `evicted` when they are as many as kept.
void keep(MountViews& views, MountView view, MountView& evicted) noexcept {
  auto& ready = views.ready;
  if (std::any_of(ready.begin(), ready.end(),
                  [&](const MountView& v) { return kind_of(v) == kind_of(view); })) {
    evicted = std::move(view);
    return;
  }
  try {
    if (ready.size() >= kViewsPerSandbox) {
      evicted = std::move(ready.front());
      ready.erase(ready.begin());
    }
    ready.push_back(std::move(view));
  } catch (...) {
    evicted = std::move(view);
  }
}

// The maker: one per process (a child of fork makes its own), never freed
// (its thread may outlive static destructors at exit).
class Maker {
 public:
  explicit Maker(int proc_fd) : proc_fd_(proc_fd) {}

  const pid_t owner = ::getpid();

  // The process's first isolated warm run asks for nothing: a process that
  // makes one run pays for no thread.
  bool first_ask() {
    std::lock_guard lock(mu_);
    return !std::exchange(asked_once_, true);
  }

  bool off() {
    std::lock_guard lock(mu_);
    return off_;
  }

  // A view of `kind` wanted in `views`; starts the thread if it is not running.
  void ask(const std::shared_ptr<MountViews>& views, const Kind& kind) {
    {
      std::lock_guard lock(views->mu);
      if (std::find(views->asked.begin(), views->asked.end(), kind) == views->asked.end())
        views->asked.push_back(kind);
      if (std::exchange(views->queued, true)) return;
    }
    std::lock_guard lock(mu_);
    if (off_) return;
    queue_.push_back(views);
    if (!running_) start_locked();
    if (running_) wake_.notify_one();
  }

  void end(MountView view) noexcept {
    std::lock_guard lock(mu_);
    unwatch_locked(view.wd);
    try {
      if (running_) {
        to_end_.push_back(std::move(view));
        wake_.notify_one();
        return;
      }
    } catch (...) {
    }
    // No thread (or no memory): it ends here, with `view`.
  }

  // In a child of fork(), for its parent's maker: its watch and its
  // thread's fd are not ours (its lock may be held by a thread that is not
  // here; nobody else uses it). Once: the fds are forgotten.
  void drop_foreign() noexcept {
    ::close(watch_.release());
    if (home_ >= 0) ::close(std::exchange(home_, -1));
  }

  // Whether anything was done in the scratch of `view` (or to it) since
  // it was made: any event of its watch, or events lost.
  bool touched(const MountView& view) noexcept {
    if (view.wd < 0) return false;
    std::lock_guard lock(mu_);
    alignas(inotify_event) char buf[4096];
    for (;;) {
      const ssize_t n = watch_ ? ::read(watch_.get(), buf, sizeof buf) : -1;
      if (n <= 0) break;
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        if ((e->mask & IN_Q_OVERFLOW) != 0) {
          for (auto& w : watched_) w.second = true;
        } else if (auto it = watched_.find(e->wd); it != watched_.end()) {
          it->second = true;
        }
      }
    }
    const auto it = watched_.find(view.wd);
    return it == watched_.end() || it->second;
  }

  // Lets the thread finish its work and end (with the fd it holds), then
  // ends what was given up meanwhile here.
  void settle() noexcept {
    std::unique_lock lock(mu_);
    stopping_ = true;
    wake_.notify_one();
    settled_.wait(lock, [&] { return !running_; });
    stopping_ = false;
    std::vector<MountView> ending = std::move(to_end_);
    to_end_.clear();
    lock.unlock();
  }

 private:
  void start_locked() noexcept {
    // The thread takes none of the host's signals.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    try {
      std::thread([this] { serve(); }).detach();
      running_ = true;
    } catch (...) {
      off_ = true;
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void serve() noexcept {
    // A thread can enter another mount namespace only with a cwd and root
    // of its own. Its way back is a member, so that a child of fork can
    // close its copy (drop_foreign).
    const int home = ::unshare(CLONE_FS) == 0
                         ? keep_above_stdio(::openat(proc_fd_, "thread-self/ns/mnt", O_RDONLY | O_CLOEXEC))
                         : -1;
    std::unique_lock lock(mu_);
    home_ = home;
    if (home < 0) off_ = true;
    for (;;) {
      if ((off_ || stopping_) && queue_.empty() && to_end_.empty()) break;
      if (!wake_.wait_for(lock, kIdle, [&] { return stopping_ || !queue_.empty() || !to_end_.empty(); }))
        break;
      if (queue_.empty() && to_end_.empty()) continue;  // stopping
      const bool off = off_;
      std::vector<MountView> ending = std::move(to_end_);
      to_end_.clear();
      std::deque<std::shared_ptr<MountViews>> work;
      if (off) {
        work.swap(queue_);  // dropped below, unlocked: a last reference ends its views through end()
      } else if (!queue_.empty()) {
        work.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      ending.clear();  // the namespaces end here, off every run's path
      const bool can = off || work.empty() || make_for(*work.front(), home);
      work.clear();
      lock.lock();
      if (!can) off_ = true;
    }
    if (home >= 0) ::close(home);
    home_ = -1;
    running_ = false;
    settled_.notify_all();
  }

  // Makes the views `views` asked for. False when this process cannot
  // make views (or cannot come back to its own namespace).
  bool make_for(MountViews& views, int home) noexcept {
    std::vector<Kind> kinds;
    {
      std::lock_guard lock(views.mu);
      kinds.swap(views.asked);
      views.queued = false;
    }
    for (Kind& kind : kinds) {
      if (::setns(views.pidfd.get(), CLONE_NEWNS) != 0) return errno == ESRCH;  // the sandbox ended
      MountView view = make(std::move(kind));
      if (::setns(home, CLONE_NEWNS) != 0 || !view) {
        end_view(std::move(view));
        return false;
      }
      MountView evicted;
      {
        std::lock_guard lock(views.mu);
        keep(views, std::move(view), evicted);
      }
      end_view(std::move(evicted));
    }
    return true;
  }

 private:
  // A view of `kind` of the mount namespace this thread is in, this thread
  // left in it; empty when it cannot be made.
  MountView make(Kind kind) noexcept {
    MountView v;
    v.flags = kind.flags;
    v.scratch = std::move(kind.scratch);
    IsolationPlan plan;
    plan.read_only = (v.flags & kReadOnly) != 0;
    plan.protect_cgroups = (v.flags & kCgroups) != 0;
    plan.protect_sysctls = (v.flags & kSysctls) != 0;
    if (bs_make_view(&plan) != 0) return {};
    if (!v.scratch.empty()) {
      const long made = bs_make_scratch(v.scratch.c_str());
      if (made < 0) return {};
      const long placed = bs_place_scratch(static_cast<int>(made));
      ::close(static_cast<int>(made));
      if (placed != 0) return {};
      v.tmp = UniqueFd(keep_above_stdio(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
      if (!v.tmp || ::fstatfs(v.tmp.get(), &v.tmp_room) != 0) return {};
    }
    v.ns = UniqueFd(keep_above_stdio(::openat(proc_fd_, "thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)));
    v.mounts = UniqueFd(keep_above_stdio(::openat(proc_fd_, "thread-self/mounts", O_RDONLY | O_CLOEXEC)));
    if (!v.ns || !v.mounts) return {};
    // Watched last: nothing of its making is an event.
    if (v.tmp && (v.wd = watch_tmp()) < 0) return {};
    return v;
  }

  // A watch of the scratch at /tmp of the mount namespace this thread is
  // in; -1 when none can be had.
  int watch_tmp() noexcept {
    std::lock_guard lock(mu_);
    if (!watch_) watch_ = UniqueFd(keep_above_stdio(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)));
    if (!watch_) return -1;
    const int wd = ::inotify_add_watch(watch_.get(), "/tmp", IN_ALL_EVENTS | IN_ONLYDIR);
    try {
      if (wd >= 0) watched_[wd] = false;
    } catch (...) {
      unwatch_locked(wd);
      return -1;
    }
    if (wd < 0 && watched_.empty()) watch_.reset();
    return wd;
  }

  void unwatch_locked(int wd) noexcept {
    if (wd < 0 || watched_.erase(wd) == 0) return;
    ::inotify_rm_watch(watch_.get(), wd);
    if (watched_.empty()) watch_.reset();  // the instance goes with the last view
  }

  const int proc_fd_;
  std::mutex mu_;
  /// One inotify instance (a user has 128) watches every view's scratch:
  /// made with the first, closed with the last.
  UniqueFd watch_;
  std::map<int, bool> watched_;  ///< watch descriptor: touched
  std::condition_variable wake_;
  std::condition_variable settled_;
  std::deque<std::shared_ptr<MountViews>> queue_;
  std::vector<MountView> to_end_;
  bool asked_once_ = false;
  bool running_ = false;
  bool stopping_ = false;  ///< settle() waits for the thread to end
  int home_ = -1;          ///< the thread's fd of this process's mount namespace, while it runs
  bool off_ = false;
};

std::atomic<Maker*> the_maker{nullptr};

// This process's maker; nullptr when none can be had.
Maker* maker() noexcept {
  Maker* m = the_maker.load(std::memory_order_acquire);
  if (m != nullptr && m->owner == ::getpid()) return m;
  // None yet, or our parent's (we are a child of fork: its thread is not
  // here and its lock may be held by a thread that is not here either).
  static std::once_flag at_fork;
  std::call_once(at_fork, [] {
    ::pthread_atfork(nullptr, nullptr, [] {
      Maker* parents = the_maker.load(std::memory_order_relaxed);
      if (parents != nullptr && parents->owner != ::getpid()) parents->drop_foreign();
    });
  });
  auto* made = new (std::nothrow) Maker(machine().proc_fd);
  if (made == nullptr) return nullptr;
  Maker* const foreign = m;
  if (the_maker.compare_exchange_strong(m, made, std::memory_order_acq_rel)) {
    if (foreign != nullptr) foreign->drop_foreign();
    return made;
  }
  delete made;  // another thread of this process was first
  return m->owner == ::getpid() ? m : nullptr;
}

void end_view(MountView view) noexcept {
  if (!view.ns && !view.mounts && !view.tmp) return;
  view.home.reset();
  Maker* m = the_maker.load(std::memory_order_acquire);
  if (m != nullptr && m->owner == ::getpid()) m->end(std::move(view));
}

}  // namespace

MountView take_mount_view(WarmSandbox& sandbox, const IsolationPlan& plan) {
  Maker* m = maker();
  if (m == nullptr || m->off()) return {};
  const Kind kind{flags_of(plan), plan.scratch_size != nullptr ? plan.scratch_size : ""};
  if (!sandbox.views) {
    if (m->first_ask()) return {};
    auto views = std::make_shared<MountViews>();
    views->pidfd = UniqueFd(keep_above_stdio(::fcntl(sandbox.pidfd.get(), F_DUPFD_CLOEXEC, 3)));
    if (!views->pidfd) return {};
    sandbox.views = std::move(views);
  }
  MountView taken;
  {
    std::lock_guard lock(sandbox.views->mu);
    auto& ready = sandbox.views->ready;
    auto it =
        std::find_if(ready.begin(), ready.end(), [&](const MountView& v) { return kind_of(v) == kind; });
    if (it != ready.end()) {
      taken = std::move(*it);
      ready.erase(it);
    }
  }
  if (taken && mounts_changed(taken.mounts.get())) end_view(std::exchange(taken, {}));
  if (!taken) {
    m->ask(sandbox.views, kind);
    return {};
  }
  taken.home = sandbox.views;
  return taken;
}

void give_back_mount_view(MountView view, bool run_gone) noexcept {
  if (!view) return;
  std::shared_ptr<MountViews> home = std::move(view.home);
  Maker* m = the_maker.load(std::memory_order_acquire);
  if (home == nullptr || m == nullptr || m->owner != ::getpid()) return;  // ends here
  MountView ending;
  if (run_gone && !mounts_changed(view.mounts.get()) && !m->touched(view) && !scratch_filled(view)) {
    std::lock_guard lock(home->mu);
    keep(*home, std::move(view), ending);
  } else {
    try {
      m->ask(home, kind_of(view));  // another in its place
    } catch (...) {
    }
    ending = std::move(view);
  }
  end_view(std::move(ending));
}

void settle_mount_views() noexcept {
  Maker* m = the_maker.load(std::memory_order_acquire);
  if (m != nullptr && m->owner == ::getpid()) m->settle();
}

}  // namespace bounded_subprocess::detail
