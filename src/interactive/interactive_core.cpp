#include "interactive/interactive_core.hpp"

#include "base/sigpipe_guard.hpp"

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

Clock::time_point interactive_deadline(Seconds timeout) {
  // Beyond a century, or infinite: no deadline (and no overflow).
  constexpr double kMax = 100.0 * 365 * 24 * 3600;
  if (!(timeout.count() < kMax)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
}

InteractiveCore::InteractiveCore(const std::vector<std::string>& argv, const InteractiveSettings& options)
    : lines_(options.max_line_size) {  // max_line_size >= 1: checked by interactive_settings
  child_ = Child::spawn({
      .argv = argv,
      .env = options.env,
      .cwd = options.cwd,
      .stdin_mode = StdioMode::pipe,
      .stdout_mode = StdioMode::pipe,
      .stderr_mode = StdioMode::inherit,
      .containment = {options.containment, options.min_containment},
      .isolation = options.isolation ? &*options.isolation : nullptr,
  });
}

bool InteractiveCore::child_exited() noexcept {
  return finished() || child_.exited();
}

WriteStep InteractiveCore::write_some(std::string_view data, std::size_t& offset) {
  if (stdin_failed_ || !child_.stdin_pipe()) return WriteStep::failed;
  switch (child_.write_some(data, offset)) {
    case Io::done: return WriteStep::done;
    case Io::would_block: return WriteStep::would_block;
    case Io::closed: break;
  }
  // EPIPE (the child closed its stdin) or worse: no later write can work.
  stdin_failed_ = true;
  return WriteStep::failed;
}

ReadStep InteractiveCore::buffered() const noexcept {
  if (lines_.has_line()) return ReadStep::line;
  if (eof_ || !child_.stdout_pipe()) return ReadStep::eof;
  return ReadStep::would_block;
}

void InteractiveCore::feed(std::string_view bytes) {
  lines_.append(bytes);
}

void InteractiveCore::mark_eof() noexcept {
  eof_ = true;
  lines_.end(FinalLine::drop);  // Interactive never yields a line without '\n'
  lines_.clear();
}

ReadStep InteractiveCore::read_some() {
  if (const ReadStep now = buffered(); now != ReadStep::would_block) return now;
  std::array<char, kReadChunk> buf;
  std::size_t budget = kReadBudget;
  while (budget > 0) {
    const ssize_t n = ::read(child_.stdout_pipe().get(), buf.data(), buf.size());
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
  child_.stdin_pipe().reset();
  child_.stdout_pipe().reset();
  stdin_failed_ = true;
  eof_ = true;
  lines_.clear();
}

int InteractiveCore::record(const ExitInfo& info) noexcept {
  limits_ = info.limits;
  exit_code_ = info.status_known ? exit_code_from_status(info.status) : -1;
  return *exit_code_;
}

int InteractiveCore::reap_exited() {
  if (exit_code_) return *exit_code_;
  return record(child_.finish());
}

int InteractiveCore::kill_and_reap_now() noexcept {
  if (exit_code_) return *exit_code_;
  return record(child_.kill_and_finish());
}

}  // namespace bounded_subprocess::detail
