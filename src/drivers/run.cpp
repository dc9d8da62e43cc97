// The sync driver (ppoll on the calling thread) and the host's side of `run`
// (run_observed), which drives a capturing Supervisor with it. `run` itself,
// which also runs in a container, is in entry/run.cpp.
#include <poll.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "base/sys.hpp"
#include "bounded_subprocess/detail/run_observed.hpp"
#include "drivers/sync_driver.hpp"
#include "engine/entry_options.hpp"
#include "engine/proc_memory.hpp"
#include "engine/supervisor.hpp"

namespace bounded_subprocess {

Result detail::run_observed(const std::vector<std::string>& argv, const Options& public_options,
                            const std::function<void(pid_t, Containment)>& on_spawn) {
  if (public_options.container)
    throw std::invalid_argument("bounded_subprocess: run_observed runs on the host only");
  const EngineOptions options = run_settings(public_options, EntryPoint::run);
  detail::Supervisor sup(argv, options);
  if (on_spawn) {
    const detail::Members m = sup.members();
    on_spawn(m.containment == Containment::process_group ? m.pgid : m.init_pid, m.containment);
  }
  detail::drive_sync(sup, options.on_interrupt, {});
  return sup.take_result();
}

void detail::drive_sync(Supervisor& sup, const std::function<void()>& on_interrupt,
                        const std::function<void()>& on_progress) {
  // The sync entry point samples its own group; async runs share one scan per tick.
  const bool watched = sup.memory_limit_kb().has_value();
  Clock::time_point next_sample =
      watched ? sup.started() + sup.memory_watchdog_interval() : Clock::time_point::max();

  enum Slot { kStdin, kStdout, kStderr, kPid };
  while (!sup.done()) {
    pollfd fds[4];
    int slot_of[4];
    nfds_t n = 0;
    auto add = [&](int fd, short events, Slot slot) {
      if (fd < 0) return;
      fds[n] = pollfd{fd, events, 0};
      slot_of[n++] = slot;
    };
    add(sup.stdin_fd(), POLLOUT, kStdin);
    if (!sup.killed()) {
      // Once the group is killed only its death matters: the drain on exit
      // reads what is left, and the pipes' hang-ups would only wake us early.
      // A paused sink is not read: the child blocks on its pipe meanwhile.
      if (sup.want_stdout()) add(sup.stdout_fd(), POLLIN, kStdout);
      if (sup.want_stderr()) add(sup.stderr_fd(), POLLIN, kStderr);
    }
    add(sup.pidfd(), POLLIN, kPid);

    const Clock::time_point wake = std::min(sup.next_deadline(), next_sample);
    Clock::time_point now = Clock::now();
    timespec ts = detail::sys::timeout_until(wake, now);
    const int rc = detail::sys::ppoll(fds, n, wake == Clock::time_point::max() ? nullptr : &ts, nullptr);
    if (rc < 0) {
      if (errno == EINTR) {
        // A signal handler ran: the caller may want to abandon the run
        // (throwing here kills and reaps it, in ~Supervisor).
        if (on_interrupt) on_interrupt();
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "ppoll");  // ~Supervisor kills and reaps
    }
    bool exited = false;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      switch (slot_of[i]) {
        case kStdin: sup.on_stdin_writable(); break;
        case kStdout: sup.on_stdout_readable(); break;
        case kStderr: sup.on_stderr_readable(); break;
        case kPid: exited = true; break;
      }
    }
    if (exited) {
      sup.on_child_exit();  // after the reads above, so no byte is missed
      if (sup.done()) break;
    }
    if (on_progress) on_progress();
    now = Clock::now();
    if (sup.killed()) next_sample = Clock::time_point::max();
    if (now >= next_sample) {
      const detail::Members members = sup.members();
      sup.on_memory_sample(detail::sample_members({&members, 1}).front());
      next_sample = now + sup.memory_watchdog_interval();
    }
    if (now >= sup.next_deadline()) sup.on_time(now);
  }
}

}  // namespace bounded_subprocess
