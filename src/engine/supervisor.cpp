#include "engine/supervisor.hpp"

#include "base/sigpipe_guard.hpp"
#include "base/sys.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <utility>

namespace bounded_subprocess::detail {

namespace {

constexpr std::size_t kInitialReadSize = 64 * 1024;
constexpr std::size_t kLargeReadSize = 1024 * 1024;
// Bytes moved per readiness event before giving the other fds a turn.
constexpr std::size_t kEventBudget = 4 * 1024 * 1024;

Clock::duration to_clock(Seconds s) {
  // Clamp absurd values (1e30 s) instead of overflowing.
  constexpr double kMax = 100.0 * 365 * 24 * 3600;
  return std::chrono::duration_cast<Clock::duration>(Seconds(std::min(s.count(), kMax)));
}

}  // namespace

Supervisor::Supervisor(const std::vector<std::string>& argv, const EngineOptions& options,
                       FdCloseObserver* observer)
    : Supervisor(argv, options, capture_sink(options), capture_sink(options), observer) {}

Supervisor::Supervisor(const std::vector<std::string>& argv, const EngineOptions& options, Sink out, Sink err,
                       FdCloseObserver* observer)
    : observer_(observer), out_(std::move(out)), err_(std::move(err)) {
  // Validated once: the options by the entry point that made them
  // (entry_options.cpp), the command by Child::spawn, before anything starts.
  if (options.stdin_data) stdin_data_ = *options.stdin_data;
  if (options.memory_limit_mb) {
    memory_limit_kb_ = static_cast<std::uint64_t>(*options.memory_limit_mb) * 1024;
    watchdog_interval_ = to_clock(options.memory_watchdog_interval);
  }
  child_ = Child::spawn({
      .argv = argv,
      .env = options.env,
      .cwd = options.cwd,
      .stdin_mode = options.stdin_data ? StdioMode::pipe : StdioMode::null,
      .stdout_mode = StdioMode::pipe,
      .stderr_mode = StdioMode::pipe,
      .containment = {options.containment, options.min_containment},
      .stdin_prefill = stdin_data_,
      .isolation = options.isolation ? &*options.isolation : nullptr,
      .defer_start = options.defer_start,
  });  // last: nothing below may throw
  deadline_ = child_.started() + to_clock(options.timeout);
  stdin_written_ = child_.prefilled();
  if (child_.stdin_pipe()) {
    if (stdin_written_ == stdin_data_.size()) {
      stop_stdin(false);  // all of it is in the pipe: the child reads it, then EOF
    } else {
      stdin_deadline_ = child_.started() + to_clock(options.stdin_write_timeout);
    }
  }
}

Supervisor::~Supervisor() {
  abandon();
}

void Supervisor::abandon() noexcept {
  if (done_) return;
  release_fds();
  child_.kill_and_finish();
  done_ = true;
}

Clock::time_point Supervisor::next_deadline() const noexcept {
  if (done_ || kill_reason_) return Clock::time_point::max();
  return stdin_deadline_ ? std::min(deadline_, *stdin_deadline_) : deadline_;
}

void Supervisor::close_fd(UniqueFd& fd) noexcept {
  if (!fd) return;
  if (observer_ != nullptr) observer_->before_close(fd.get());
  fd.reset();
}

void Supervisor::release_fds() noexcept {
  close_fd(child_.stdin_pipe());
  close_fd(child_.stdout_pipe());
  close_fd(child_.stderr_pipe());
  if (observer_ != nullptr && child_.exit_fd() >= 0) observer_->before_close(child_.exit_fd());
  if (observer_ != nullptr && child_.start_fd() >= 0) observer_->before_close(child_.start_fd());
}

void Supervisor::stop_stdin(bool failed) noexcept {
  if (!child_.stdin_pipe()) return;
  stdin_failed_ = stdin_failed_ || failed;
  stdin_deadline_.reset();
  close_fd(child_.stdin_pipe());
  stdin_data_.clear();
  stdin_data_.shrink_to_fit();
}

void Supervisor::on_start_report() {
  if (done_ || child_.complete_start()) return;
  release_fds();
  done_ = true;
  child_.end_failed_start();
}

void Supervisor::on_stdin_writable() {
  switch (child_.write_some(stdin_data_, stdin_written_)) {
    case Io::done: stop_stdin(false); break;
    case Io::would_block: break;
    case Io::closed: stop_stdin(true); break;  // EPIPE: the child closed its stdin
  }
}

void Supervisor::on_stdout_readable() {
  read_stream(Stream::out);
}
void Supervisor::on_stderr_readable() {
  read_stream(Stream::err);
}

void Supervisor::read_stream(Stream which) {
  UniqueFd& fd = which == Stream::out ? child_.stdout_pipe() : child_.stderr_pipe();
  Sink& buf = which == Stream::out ? out_ : err_;
  std::size_t moved = 0;
  // A paused sink (lines waiting for their reader) stops the reading: the
  // child then blocks on its full pipe.
  while (fd && moved < kEventBudget && !buf.paused()) {
    if (buf.discarding() && splice_ok_) {
      // Nothing more is kept: let the kernel drop the bytes without copying.
      if (!devnull_) devnull_ = UniqueFd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
      const ssize_t n = devnull_ ? sys::splice(fd.get(), nullptr, devnull_.get(), nullptr, kLargeReadSize,
                                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
                                 : -1;
      if (n > 0) {
        buf.count_discarded(static_cast<std::uint64_t>(n));
        moved += static_cast<std::size_t>(n);
        if (static_cast<std::size_t>(n) >= kInitialReadSize) grow_pipe(which);
        continue;
      }
      if (n == 0) {
        close_fd(fd);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      splice_ok_ = false;  // unsupported here: fall back to reading
    }
    scratch_.make_room(kInitialReadSize);
    const ssize_t n = sys::read(fd.get(), scratch_.data(), scratch_.size());
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      buf.append(std::string_view(scratch_.data(), got));
      moved += got;
      if (got == scratch_.size() && scratch_.size() < kLargeReadSize) {
        scratch_.make_room(kLargeReadSize);  // a flood: read in large chunks
        grow_pipe(which);
      }
      continue;
    }
    if (n == 0) {
      close_fd(fd);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    close_fd(fd);  // EIO and the like: nothing more will come
    return;
  }
}

void Supervisor::grow_pipe(Stream which) noexcept {
  // A flood: a larger pipe means fewer wake-ups for the same bytes. Best
  // effort, once per stream (it may exceed the user's pipe quota).
  bool& grown = pipe_grown_[which == Stream::out ? 0 : 1];
  if (grown) return;
  grown = true;
  const UniqueFd& fd = which == Stream::out ? child_.stdout_pipe() : child_.stderr_pipe();
  ::fcntl(fd.get(), F_SETPIPE_SZ, static_cast<int>(kLargeReadSize));
}

void Supervisor::drain_after_exit() {
  // Read what is already in the pipes, and no more: a descendant that keeps
  // writing must not keep the run alive.
  for (auto which : {Stream::out, Stream::err}) {
    UniqueFd& fd = which == Stream::out ? child_.stdout_pipe() : child_.stderr_pipe();
    if (!fd) continue;
    int avail = 0;
    if (::ioctl(fd.get(), FIONREAD, &avail) != 0) avail = 0;
    Sink& buf = which == Stream::out ? out_ : err_;  // paused or not: the run is over
    std::size_t left = static_cast<std::size_t>(avail);
    scratch_.make_room(std::min(left, kLargeReadSize));
    while (left > 0) {
      const ssize_t n = sys::read(fd.get(), scratch_.data(), std::min(left, scratch_.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const auto got = static_cast<std::size_t>(n);
      buf.append(std::string_view(scratch_.data(), got));
      left -= got;
    }
  }
}

void Supervisor::on_child_exit() {
  if (done_) return;
  // The program exited, but what else the run holds is still being ended:
  // the pidfd turns readable again when it is (Child::exited).
  if (!child_.exited()) return;
  // Read what the pipes hold, then end everything the run contains (with a
  // process group: the leader is a zombie, so the group id cannot be reused
  // before the kill) and collect the status.
  drain_after_exit();
  stop_stdin(stdin_written_ < stdin_data_.size());
  release_fds();
  ExitInfo info;
  try {
    info = child_.finish();
  } catch (...) {
    done_ = true;  // everything is reaped; there is no status to report
    throw;
  }
  finish(info);
}

void Supervisor::on_time(Clock::time_point now) {
  if (done_ || kill_reason_) return;
  if (stdin_deadline_ && now >= *stdin_deadline_) stop_stdin(true);
  if (now >= deadline_) kill_as(EndReason::timeout);
}

void Supervisor::on_memory_sample(const MemorySample& sample) {
  if (done_ || kill_reason_ || !memory_limit_kb_) return;
  if (sample.error != 0) {
    watchdog_error_ = sample.error;
    kill_as(EndReason::watchdog_failed);
  } else if (sample.kb > *memory_limit_kb_) {
    kill_as(EndReason::memory_limit);
  }
}

void Supervisor::cancel() {
  if (done_ || kill_reason_) return;
  kill_as(EndReason::cancelled);
}

void Supervisor::kill_as(EndReason reason) noexcept {
  kill_reason_ = reason;
  child_.kill();
  // Unwritten stdin is a failed write; the pidfd reports the death next.
  stop_stdin(stdin_written_ < stdin_data_.size());
}

void Supervisor::finish(const ExitInfo& info) {
  devnull_.reset();
  Result& r = result_;
  if (WIFEXITED(info.status)) {
    r.exit_code = WEXITSTATUS(info.status);
    r.reason = EndReason::exited;
  } else if (WIFSIGNALED(info.status)) {
    r.term_signal = WTERMSIG(info.status);
    r.exit_code = -r.term_signal;
    r.reason = EndReason::signaled;
  }
  // The kernel's own verdicts: the init killed the run at its CPU limit, or
  // the OOM killer ended the program at the run's memory limit.
  if (!kill_reason_ && info.limits.cpu) {
    kill_reason_ = EndReason::cpu_limit;
  } else if (!kill_reason_ && info.memory_oom_kill && WIFSIGNALED(info.status) &&
             WTERMSIG(info.status) == SIGKILL) {
    kill_reason_ = EndReason::memory_limit;
  }
  r.limits_hit = info.limits;
  r.memory_enforcer = info.kernel_memory_limit ? MemoryEnforcer::kernel
                      : memory_limit_kb_       ? MemoryEnforcer::watchdog
                                               : MemoryEnforcer::none;
  if (kill_reason_) {
    r.reason = *kill_reason_;
    r.exit_code = -1;
    r.timeout = *kill_reason_ == EndReason::timeout;
    r.memory_limit_exceeded = *kill_reason_ == EndReason::memory_limit;
  }
  if (info.containment_broken) {
    r.reason = EndReason::containment_broken;
    if (!info.status_known) {
      r.exit_code = -1;
      r.term_signal = 0;
    }
  }
  r.stdin_write_failed = stdin_failed_;
  if (stdin_failed_) r.exit_code = -1;
  out_.end();
  err_.end();
  r.out = out_.take();
  r.err = err_.take();
  r.watchdog_error = watchdog_error_;
  r.containment = child_.containment();
  r.elapsed = Clock::now() - child_.started();
  r.usage.user_cpu = info.user_cpu;
  r.usage.system_cpu = info.system_cpu;
  r.usage.max_rss_kb = info.max_rss_kb;
  done_ = true;
}

Result Supervisor::take_result() {
  return std::move(result_);
}

}  // namespace bounded_subprocess::detail
