// The sync Interactive face: the shared core driven with ppoll(2) and exact
// deadlines (no sleeps, no polling intervals).
#include "bounded_subprocess/interactive.hpp"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <string>

#include "interactive_core.hpp"

namespace bounded_subprocess {

namespace {

using Clock = std::chrono::steady_clock;

// Waits until one of `fds` is ready or `deadline` passes (max(): forever).
// Returns false on timeout. EINTR restarts the wait with the time left.
bool wait_ready(pollfd* fds, nfds_t n, Clock::time_point deadline) {
  for (;;) {
    timespec ts{};
    const timespec* tsp = nullptr;
    if (deadline != Clock::time_point::max()) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    const int r = ::ppoll(fds, n, tsp, nullptr);
    if (r > 0) return true;
    if (r == 0) {
      // ppoll may return a hair early; only give up once the clock agrees.
      if (Clock::now() >= deadline) return false;
      continue;
    }
    if (errno != EINTR) return false;
  }
}

}  // namespace

Interactive::Interactive(std::vector<std::string> argv, InteractiveOptions options)
    : core_(std::make_unique<detail::InteractiveCore>(argv, options)) {}

Interactive::~Interactive() = default;
Interactive::Interactive(Interactive&& other) noexcept = default;
Interactive& Interactive::operator=(Interactive&& other) noexcept = default;

detail::InteractiveCore& Interactive::core(const char* where) const {
  if (!core_)
    throw std::logic_error(std::string("bounded_subprocess::Interactive::") + where +
                           ": the object was moved from");
  return *core_;
}

bool Interactive::write(std::string_view data, Seconds timeout) {
  detail::check_interactive_timeout(timeout, "bounded_subprocess::Interactive::write");
  auto& c = core("write");
  if (c.child_exited()) return false;
  const auto deadline = detail::interactive_deadline(timeout);
  std::size_t offset = 0;
  for (;;) {
    switch (c.write_some(data, offset)) {
      case detail::WriteStep::done: return true;
      case detail::WriteStep::failed: return false;
      case detail::WriteStep::would_block: break;
    }
    pollfd fds[2] = {{c.stdin_fd(), POLLOUT, 0}, {c.pidfd(), POLLIN, 0}};
    if (!wait_ready(fds, 2, deadline)) return false;
    if (fds[1].revents != 0) return false;  // the child exited meanwhile
  }
}

std::optional<std::string> Interactive::read_line(Seconds timeout) {
  detail::check_interactive_timeout(timeout, "bounded_subprocess::Interactive::read_line");
  auto& c = core("read_line");
  if (c.finished()) return std::nullopt;
  switch (c.buffered()) {
    case detail::ReadStep::line: return c.pop_line();
    case detail::ReadStep::eof: return std::nullopt;
    default: break;
  }
  // Nothing buffered: wait first (an echo is rarely there yet), then read.
  const auto deadline = detail::interactive_deadline(timeout);
  for (;;) {
    pollfd fd{c.stdout_fd(), POLLIN, 0};
    const bool ready = wait_ready(&fd, 1, deadline);
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
  auto& c = core("close");
  if (auto code = c.exit_code()) return *code;
  c.close_pipes();
  if (c.child_exited()) return c.reap_exited();
  pollfd fd{c.pidfd(), POLLIN, 0};
  if (wait_ready(&fd, 1, detail::interactive_deadline(nice_timeout))) return c.reap_exited();
  return c.kill_and_reap_now();
}

pid_t Interactive::pid() const noexcept { return core_ ? core_->pid() : -1; }

int Interactive::stdin_fd() const noexcept {
  return core_ ? core_->stdin_fd() : -1;
}
int Interactive::stdout_fd() const noexcept {
  return core_ ? core_->stdout_fd() : -1;
}
int Interactive::pidfd() const noexcept {
  return core_ ? core_->pidfd() : -1;
}
Containment Interactive::containment() const noexcept {
  return core_ ? core_->containment() : Containment::process_group;
}

bool Interactive::write_some(std::string_view data, std::size_t& offset) {
  return core("write_some").write_some(data, offset) != detail::WriteStep::failed;
}

std::optional<std::string> Interactive::read_line_now(bool& eof, bool read_pipe) {
  auto& c = core("read_line_now");
  eof = false;
  if (c.finished()) {
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

void Interactive::close_pipes() {
  core("close_pipes").close_pipes();
}

bool Interactive::is_running() const noexcept { return core_ && !core_->child_exited(); }

std::optional<int> Interactive::exit_code() const noexcept {
  return core_ ? core_->exit_code() : std::nullopt;
}

}  // namespace bounded_subprocess
