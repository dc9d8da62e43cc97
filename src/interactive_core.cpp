#include "interactive_core.hpp"

#include "sigpipe_guard.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <stdexcept>
#include <string>

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// Bytes read per read_some call before the caller looks at its deadline
// again: a child that floods without '\n' must not keep read_line past it.
constexpr std::size_t kReadBudget = 1024 * 1024;

}  // namespace

void check_interactive_timeout(Seconds timeout, const char* where) {
  if (std::isnan(timeout.count()) || timeout.count() < 0)
    throw std::invalid_argument(std::string(where) + ": timeout must not be negative or NaN");
}

std::chrono::steady_clock::time_point interactive_deadline(Seconds timeout) {
  using Clock = std::chrono::steady_clock;
  // Beyond a century, or infinite: no deadline (and no overflow).
  constexpr double kMax = 100.0 * 365 * 24 * 3600;
  if (!(timeout.count() < kMax)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
}

int exit_code_from_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

InteractiveCore::InteractiveCore(const std::vector<std::string>& argv,
                                 const InteractiveOptions& options)
    : lines_(options.read_buffer_size) {  // throws for read_buffer_size 0
  validate_command(argv, options.env, options.cwd);
  const SpawnRequest request{
      .argv = &argv,
      .env = &options.env,
      .cwd = &options.cwd,
      .stdin_mode = StdioMode::pipe,
      .stdout_mode = StdioMode::pipe,
      .stderr_mode = StdioMode::inherit,
  };
  child_ = spawn_child(request);
}

InteractiveCore::~InteractiveCore() {
  if (!finished() && child_.pid > 0) kill_and_reap(child_.pid);
}

bool InteractiveCore::child_exited() const noexcept {
  if (finished()) return true;
  if (!child_.pidfd) return true;
  pollfd p{child_.pidfd.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

WriteStep InteractiveCore::write_some(std::string_view data, std::size_t& offset) {
  if (stdin_failed_ || !child_.stdin_fd) return WriteStep::failed;
  if (offset >= data.size()) return WriteStep::done;
  SigpipeGuard guard;
  while (offset < data.size()) {
    const ssize_t n = ::write(child_.stdin_fd.get(), data.data() + offset, data.size() - offset);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return WriteStep::would_block;
    } else {
      // EPIPE (the child closed its stdin) or worse: no later write can work.
      if (n < 0 && errno == EPIPE) guard.note_epipe();
      stdin_failed_ = true;
      return WriteStep::failed;
    }
  }
  return WriteStep::done;
}

ReadStep InteractiveCore::buffered() const noexcept {
  if (lines_.has_line()) return ReadStep::line;
  if (eof_ || !child_.stdout_fd) return ReadStep::eof;
  return ReadStep::would_block;
}

void InteractiveCore::feed(std::string_view bytes) { lines_.append(bytes); }

void InteractiveCore::mark_eof() noexcept {
  eof_ = true;
  lines_.clear();
}

ReadStep InteractiveCore::read_some() {
  if (const ReadStep now = buffered(); now != ReadStep::would_block) return now;
  std::array<char, kReadChunk> buf;
  std::size_t budget = kReadBudget;
  while (budget > 0) {
    const ssize_t n = ::read(child_.stdout_fd.get(), buf.data(), buf.size());
    if (n > 0) {
      lines_.append(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (lines_.has_line()) return ReadStep::line;
      budget -= std::min(budget, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return ReadStep::would_block;
    } else {
      // EOF (or a read error, treated alike): the partial line is dropped.
      mark_eof();
      return ReadStep::eof;
    }
  }
  return ReadStep::more;
}

void InteractiveCore::close_pipes() noexcept {
  child_.stdin_fd.reset();
  child_.stdout_fd.reset();
  stdin_failed_ = true;
  eof_ = true;
  lines_.clear();
}

int InteractiveCore::record(const ExitInfo& info) noexcept {
  child_.pidfd.reset();
  exit_code_ = exit_code_from_status(info.status);
  return *exit_code_;
}

int InteractiveCore::reap_exited() noexcept {
  if (exit_code_) return *exit_code_;
  // The leader is a zombie, so its pid (the group id) cannot be reused yet:
  // kill what is left of the group first, then reap.
  kill_group(child_.pid);
  if (auto info = try_reap(child_.pid)) return record(*info);
  return record(kill_and_reap(child_.pid));
}

int InteractiveCore::kill_and_reap_now() noexcept {
  if (exit_code_) return *exit_code_;
  return record(kill_and_reap(child_.pid));
}

}  // namespace bounded_subprocess::detail
