// The sync Interactive entry point: the shared core driven with ppoll(2) and exact
// deadlines (no sleeps, no polling intervals).
#include "bounded_subprocess/interactive.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "base/sys.hpp"
#include "base/unique_fd.hpp"
#include "interactive/interactive_access.hpp"
#include "interactive/interactive_core.hpp"

namespace bounded_subprocess {

namespace detail {

// The sync entry point's state: the shared core, and what lets `close` interrupt a
// pending write or read_line from another thread.
struct InteractiveSync {
  InteractiveSync(const std::vector<std::string>& argv, const InteractiveSettings& options)
      : core(argv, options),
        wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        on_interrupt(options.on_interrupt) {
    if (!wake) throw std::system_error(errno, std::generic_category(), "eventfd");
  }

  InteractiveCore core;
  UniqueFd wake;  ///< readable once `close` has begun (never read back)
  std::atomic<bool> closing{false};
  std::mutex read_mutex;   ///< held by read_line
  std::mutex write_mutex;  ///< held by write
  std::mutex close_mutex;
  std::function<void()> on_interrupt;
};

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

// Waits until one of `fds` is ready or `deadline` passes (max(): forever).
// Returns no error when one is ready, ETIMEDOUT on timeout, else ppoll's
// errno. EINTR calls `on_interrupt` (which may throw), then restarts the wait
// with the time left.
std::error_code wait_ready(pollfd* fds, nfds_t n, Clock::time_point deadline,
                           const std::function<void()>& on_interrupt) {
  const std::error_code timed_out(ETIMEDOUT, std::system_category());
  for (;;) {
    timespec ts{};
    const timespec* tsp = nullptr;
    if (deadline != Clock::time_point::max()) {
      const auto now = Clock::now();
      if (deadline <= now) return timed_out;
      ts = detail::sys::timeout_until(deadline, now);
      tsp = &ts;
    }
    const int r = detail::sys::ppoll(fds, n, tsp, nullptr);
    if (r > 0) return {};
    if (r == 0) {
      // ppoll may return a hair early; only give up once the clock agrees.
      if (Clock::now() >= deadline) return timed_out;
      continue;
    }
    if (errno != EINTR) return {errno, std::system_category()};
    if (on_interrupt) on_interrupt();
  }
}

// async_write's codes (Asio's values: errno in the system category).
WriteResult write_failed(int error, std::size_t written) {
  return {std::error_code(error, std::system_category()), written};
}

}  // namespace

Interactive::Interactive(std::vector<std::string> argv, Options options)
    : state_(std::make_unique<detail::InteractiveSync>(
          argv, detail::interactive_settings(options, detail::EntryPoint::interactive))) {}

Interactive::~Interactive() = default;
Interactive::Interactive(Interactive&& other) noexcept = default;
Interactive& Interactive::operator=(Interactive&& other) noexcept = default;

detail::InteractiveSync& Interactive::state(const char* where) const {
  if (!state_)
    throw std::logic_error(std::string("bounded_subprocess::Interactive::") + where +
                           ": the object was moved from");
  return *state_;
}

WriteResult Interactive::write(std::string_view data, Seconds timeout) {
  detail::check_interactive_timeout(timeout, "bounded_subprocess::Interactive::write");
  auto& s = state("write");
  std::lock_guard lock(s.write_mutex);
  auto& c = s.core;
  // In async_write's order: closed, then the child gone, then the time.
  if (s.closing.load()) return write_failed(ECANCELED, 0);
  if (c.child_exited()) return write_failed(EPIPE, 0);
  const auto deadline = detail::interactive_deadline(timeout);
  std::size_t offset = 0;
  for (;;) {
    switch (c.write_some(data, offset)) {
      case detail::WriteStep::done: return {{}, offset};
      case detail::WriteStep::failed: return write_failed(EPIPE, offset);
      case detail::WriteStep::would_block: break;
    }
    pollfd fds[3] = {{c.stdin_fd(), POLLOUT, 0}, {c.pidfd(), POLLIN, 0}, {s.wake.get(), POLLIN, 0}};
    if (const std::error_code ec = wait_ready(fds, 3, deadline, s.on_interrupt)) return {ec, offset};
    if (fds[2].revents != 0) return write_failed(ECANCELED, offset);  // close() from another thread
    if (fds[1].revents != 0) return write_failed(EPIPE, offset);      // the child exited meanwhile
  }
}

std::optional<std::string> Interactive::read_line(Seconds timeout) {
  detail::check_interactive_timeout(timeout, "bounded_subprocess::Interactive::read_line");
  auto& s = state("read_line");
  std::lock_guard lock(s.read_mutex);
  auto& c = s.core;
  if (s.closing.load() || c.finished()) return std::nullopt;
  switch (c.buffered()) {
    case detail::ReadStep::line: return c.pop_line();
    case detail::ReadStep::eof: return std::nullopt;
    default: break;
  }
  // Nothing buffered: wait first (an echo is rarely there yet), then read.
  const auto deadline = detail::interactive_deadline(timeout);
  for (;;) {
    pollfd fds[2] = {{c.stdout_fd(), POLLIN, 0}, {s.wake.get(), POLLIN, 0}};
    const bool ready = !wait_ready(fds, 2, deadline, s.on_interrupt);
    if (fds[1].revents != 0) return std::nullopt;  // close() from another thread
    switch (c.read_some()) {
      case detail::ReadStep::line: return c.pop_line();
      case detail::ReadStep::eof: return std::nullopt;
      case detail::ReadStep::more:
      case detail::ReadStep::would_block: break;
    }
    // The time is up (a zero timeout still took what was there above).
    if (!ready || Clock::now() >= deadline) return std::nullopt;
  }
}

int Interactive::close(Seconds nice_timeout) {
  detail::check_interactive_timeout(nice_timeout, "bounded_subprocess::Interactive::close");
  auto& s = state("close");
  // One close at a time. Wake a pending write or read_line, then wait for
  // them to return.
  std::lock_guard close_lock(s.close_mutex);
  if (!s.closing.exchange(true)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(s.wake.get(), &one, sizeof one);  // never fails: value 1
  }
  std::scoped_lock lock(s.read_mutex, s.write_mutex);
  // No call is waiting now, and every later one sees `closing` first.
  s.wake.reset();
  auto& c = s.core;
  if (auto code = c.exit_code()) return *code;
  c.close_pipes();
  if (c.child_exited()) return c.reap_exited();
  pollfd fd{c.pidfd(), POLLIN, 0};
  if (!wait_ready(&fd, 1, detail::interactive_deadline(nice_timeout), s.on_interrupt)) return c.reap_exited();
  return c.kill_and_reap_now();
}

pid_t Interactive::pid() const noexcept {
  return state_ ? state_->core.pid() : -1;
}

bool Interactive::is_running() const noexcept {
  return state_ && !state_->core.child_exited();
}

Containment Interactive::containment() const noexcept {
  return state_ ? state_->core.containment() : Containment::process_group;
}

std::optional<int> Interactive::exit_code() const noexcept {
  return state_ ? state_->core.exit_code() : std::nullopt;
}

std::optional<LimitsHit> Interactive::limits_hit() const noexcept {
  return state_ ? state_->core.limits_hit() : std::nullopt;
}

int detail::InteractiveAccess::stdin_fd(const Interactive& proc) noexcept {
  return proc.state_ ? proc.state_->core.stdin_fd() : -1;
}
int detail::InteractiveAccess::stdout_fd(const Interactive& proc) noexcept {
  return proc.state_ ? proc.state_->core.stdout_fd() : -1;
}
int detail::InteractiveAccess::pidfd(const Interactive& proc) noexcept {
  return proc.state_ ? proc.state_->core.pidfd() : -1;
}

int detail::InteractiveAccess::kill_pidfd(const Interactive& proc) noexcept {
  return proc.state_ ? proc.state_->core.kill_pidfd() : -1;
}

bool detail::InteractiveAccess::write_some(Interactive& proc, std::string_view data, std::size_t& offset) {
  auto& s = proc.state("write_some");
  std::lock_guard lock(s.write_mutex);
  if (s.closing.load()) return false;
  return s.core.write_some(data, offset) != detail::WriteStep::failed;
}

std::optional<std::string> detail::InteractiveAccess::read_line_now(Interactive& proc, bool& eof,
                                                                    bool read_pipe) {
  auto& s = proc.state("read_line_now");
  std::lock_guard lock(s.read_mutex);
  auto& c = s.core;
  eof = false;
  if (s.closing.load() || c.finished()) {
    eof = true;
    return std::nullopt;
  }
  switch (read_pipe ? c.read_some() : c.buffered()) {
    case detail::ReadStep::line: return c.pop_line();
    case detail::ReadStep::eof: eof = true; return std::nullopt;
    case detail::ReadStep::more:
    case detail::ReadStep::would_block: return std::nullopt;
  }
  return std::nullopt;
}

void detail::InteractiveAccess::close_pipes(Interactive& proc) {
  auto& s = proc.state("close_pipes");
  std::scoped_lock lock(s.read_mutex, s.write_mutex);
  s.core.close_pipes();
}

}  // namespace bounded_subprocess
