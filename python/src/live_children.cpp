// The registry of live children (see live_children.hpp).
#include "live_children.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)  // Linux 6.9
#endif

namespace bounded_subprocess::python {

namespace {

struct Entry {
  pid_t pid;  // with process_group: the group id (the program leads its group)
  Containment containment;
  int pidfd;    // ours, O_CLOEXEC; -1 if pidfd_open failed
  pid_t owner;  // the process that started the child
};

// Never destroyed: daemon threads may still unregister their children while
// exit() runs the static destructors.
std::mutex& g_mu = *new std::mutex;
std::map<std::uint64_t, Entry>& g_entries = *new std::map<std::uint64_t, Entry>;  // under g_mu
std::uint64_t g_next_id = 1;                                                      // under g_mu
bool g_final = false;                                                             // under g_mu

int pidfd_open(pid_t pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));  // O_CLOEXEC by default
}

int pidfd_send_signal(int pidfd, int sig, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, flags));
}

void kill_run(const Entry& e) noexcept {
  switch (e.containment) {
    case Containment::process_group: break;
    case Containment::pid_namespace:
    case Containment::cgroup:
      // The init is process 1 of the run's namespace: the kernel kills
      // everything in it when it dies.
      if (e.pidfd >= 0) pidfd_send_signal(e.pidfd, SIGKILL, 0);
      return;
    case Containment::subreaper:
      // Killing the init would free its descendants; it kills them all
      // itself when its channel to this process closes, at exit.
      return;
  }
  if (e.pidfd >= 0) {
    // The group of exactly this process, even if its pid is reused.
    if (pidfd_send_signal(e.pidfd, SIGKILL, PIDFD_SIGNAL_PROCESS_GROUP) == 0 || errno == ESRCH) return;
    // Older kernels: the group by number, once the pidfd says the leader is
    // not reaped (so its pid, the group's id, is not free for reuse).
    if (pidfd_send_signal(e.pidfd, 0, 0) != 0) return;
  }
  ::kill(-e.pid, SIGKILL);
}

void close_entry(const Entry& e) noexcept {
  if (e.pidfd >= 0) ::close(e.pidfd);
}

}  // namespace

LiveChild::LiveChild(pid_t direct_pid, Containment containment) noexcept {
  add(direct_pid, containment, pidfd_open(direct_pid));
}

LiveChild::LiveChild(int pidfd, pid_t program_pid, Containment containment) noexcept {
  add(program_pid, containment, pidfd < 0 ? -1 : ::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
}

void LiveChild::add(pid_t pid, Containment containment, int pidfd) noexcept {
  const Entry e{pid, containment, pidfd, ::getpid()};
  std::lock_guard lock(g_mu);
  if (g_final) {
    kill_run(e);
    close_entry(e);
    return;
  }
  id_ = g_next_id++;
  g_entries.emplace(id_, e);
}

LiveChild& LiveChild::operator=(LiveChild&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void LiveChild::reset() noexcept {
  if (id_ == 0) return;
  std::lock_guard lock(g_mu);
  auto it = g_entries.find(id_);
  if (it != g_entries.end()) {
    close_entry(it->second);
    g_entries.erase(it);
  }
  id_ = 0;
}

void kill_live_children(bool final) noexcept {
  std::lock_guard lock(g_mu);
  if (final) g_final = true;
  const pid_t self = ::getpid();
  for (const auto& [id, e] : g_entries) {
    if (e.owner == self) kill_run(e);
  }
}

void install_live_children_fork_handlers() {
  // Holding the lock across fork() keeps the registry consistent in the
  // child, which then forgets its parent's children (and their pidfds).
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork([] { g_mu.lock(); },  //
                     [] { g_mu.unlock(); },
                     [] {
                       for (const auto& [id, e] : g_entries) close_entry(e);
                       g_entries.clear();
                       g_final = false;
                       g_mu.unlock();
                     });
  });
}

}  // namespace bounded_subprocess::python
