// AsyncInteractive's state machine. Every step runs on one strand of the
// caller's executor; the operations are erased completions (see
// async_completion.hpp), so only this file is compiled against the details.
//
// Waits, each in flight only while an operation needs it:
//  - stdout: one async_read_some into our buffer while a read is pending
//    (Asio reads speculatively first, so a line that is already there costs
//    one read(2) and no epoll round);
//  - stdin: an async_wait for writability while a write is blocked;
//  - the pidfd: while a write is blocked or a close waits for the exit;
//  - one steady_timer at the earliest deadline of the pending read and write,
//    and one for the close's nice wait.
// A wait that is no longer needed is cancelled, so that the execution context
// runs out of work as soon as no operation is pending.
#include "bounded_subprocess/async_interactive.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <asio/buffer.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>

#include "interactive/interactive_core.hpp"

namespace bounded_subprocess::detail {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kNoCode = INT_MIN;
constexpr std::size_t kReadChunk = 64 * 1024;

const char* op_name(InteractiveOp op) noexcept {
  switch (op) {
    case InteractiveOp::write: return "async_write";
    case InteractiveOp::read: return "async_read_line";
    case InteractiveOp::close: return "async_close";
  }
  return "?";
}

// Takes the fd back from Asio (deregistering it and aborting its waits)
// without closing it: the core owns and closes it.
void release(asio::posix::stream_descriptor& desc) noexcept {
  if (desc.is_open()) desc.release();
}

}  // namespace

class AsyncInteractiveImpl : public std::enable_shared_from_this<AsyncInteractiveImpl> {
 public:
  AsyncInteractiveImpl(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                       const InteractiveSettings& options)
      : strand_(asio::make_strand(ex)),
        strand_any_(strand_),
        core_(std::make_unique<InteractiveCore>(argv, options)),
        pid_(core_->pid()),
        direct_(core_->direct_pid()),
        in_(strand_),
        out_(strand_),
        pidd_(strand_),
        timer_(strand_),
        close_timer_(strand_),
        buf_(std::make_unique<std::array<char, kReadChunk>>()) {
    try {
      in_.assign(core_->stdin_fd());
      out_.assign(core_->stdout_fd());
      pidd_.assign(core_->pidfd());
    } catch (...) {
      // The core still owns the fds; its destructor kills and reaps.
      release_all();
      throw;
    }
  }

  ~AsyncInteractiveImpl() {
    shutdown();
    release_all();
  }

  AsyncInteractiveImpl(const AsyncInteractiveImpl&) = delete;
  AsyncInteractiveImpl& operator=(const AsyncInteractiveImpl&) = delete;

  const asio::any_io_executor& executor() const noexcept { return strand_any_; }
  pid_t pid() const noexcept { return pid_; }

  std::optional<int> exit_code() const noexcept {
    const int code = code_.load(std::memory_order_acquire);
    if (code == kNoCode) return std::nullopt;
    return code;
  }

  // Any thread: no fd is touched (the pidfd may be closed meanwhile).
  bool running() const noexcept {
    if (exit_code()) return false;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    // Our own child (the program or its init), not reaped (WNOWAIT); ECHILD
    // once we have reaped it.
    if (::waitid(P_PID, static_cast<id_t>(direct_), &info, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0)
      return false;
    return info.si_pid == 0;
  }

  // Any thread (the initiating one).
  std::uint64_t claim(InteractiveOp op) {
    if (busy(op).exchange(true, std::memory_order_acq_rel))
      throw std::logic_error(std::string("bounded_subprocess::AsyncInteractive::") + op_name(op) +
                             ": another one is still pending");
    return next_ticket_.fetch_add(1, std::memory_order_relaxed);
  }

  void start(std::uint64_t ticket, std::string data, Seconds timeout, Completion<bool> done) {
    launch(InteractiveOp::write, [self = shared_from_this(), ticket, data = std::move(data), timeout,
                                  done = std::move(done)]() mutable {
      self->begin_write(ticket, std::move(data), timeout, std::move(done));
    });
  }
  void start(std::uint64_t ticket, Seconds timeout, Completion<std::optional<std::string>> done) {
    launch(InteractiveOp::read,
           [self = shared_from_this(), ticket, timeout, done = std::move(done)]() mutable {
             self->begin_read(ticket, timeout, std::move(done));
           });
  }
  void start(std::uint64_t ticket, Seconds nice_timeout, Completion<int> done) {
    launch(InteractiveOp::close,
           [self = shared_from_this(), ticket, nice_timeout, done = std::move(done)]() mutable {
             self->begin_close(ticket, nice_timeout, std::move(done));
           });
  }

  // On the strand.
  void cancel(InteractiveOp op, std::uint64_t ticket) {
    switch (op) {
      case InteractiveOp::write:
        if (write_ && write_->ticket == ticket) finish_write(false);
        break;
      case InteractiveOp::read:
        if (read_ && read_->ticket == ticket) finish_read(std::nullopt);
        break;
      case InteractiveOp::close:
        if (close_ && close_->ticket == ticket && !close_->killed) kill_now();
        break;
    }
    update();
  }

  // The owner's thread, with none of our handlers running (see the class
  // comment in the header): close everything, kill and reap now.
  void shutdown() noexcept {
    if (!core_ || core_->finished()) return;
    stop_io();
    release(pidd_);
    close_timer_.cancel();
    const int code = core_->kill_and_reap_now();
    code_.store(code, std::memory_order_release);
    if (close_) finish_close(code);
  }

 private:
  struct WriteOp {
    std::uint64_t ticket;
    Completion<bool> done;
    std::string data;
    std::size_t offset;
    Clock::time_point deadline;
  };
  struct ReadOp {
    std::uint64_t ticket;
    Completion<std::optional<std::string>> done;
    Clock::time_point deadline;
  };
  struct CloseOp {
    std::uint64_t ticket;
    Completion<int> done;
    bool killed;
  };

  std::atomic<bool>& busy(InteractiveOp op) noexcept { return busy_[static_cast<int>(op)]; }

  // Runs `begin` of a claimed operation on the strand (inline when we are on
  // it already); gives the claim back if that cannot even be queued.
  template <class Begin>
  void launch(InteractiveOp op, Begin&& begin) {
    try {
      asio::dispatch(strand_, std::forward<Begin>(begin));
    } catch (...) {
      busy(op).store(false, std::memory_order_release);
      throw;
    }
  }

  // ---- operations (on the strand) -----------------------------------------

  void begin_write(std::uint64_t ticket, std::string data, Seconds timeout, Completion<bool> done) {
    WriteOp op{ticket, std::move(done), std::move(data), 0, interactive_deadline(timeout)};
    if (closing_ || core_->finished() || core_->child_exited()) return complete(std::move(op.done), false);
    switch (core_->write_some(op.data, op.offset)) {
      case WriteStep::done: return complete(std::move(op.done), true);
      case WriteStep::failed: return complete(std::move(op.done), false);
      case WriteStep::would_block: break;
    }
    if (Clock::now() >= op.deadline) return complete(std::move(op.done), false);
    write_ = std::move(op);
    update();
  }

  void begin_read(std::uint64_t ticket, Seconds timeout, Completion<std::optional<std::string>> done) {
    ReadOp op{ticket, std::move(done), interactive_deadline(timeout)};
    if (closing_ || core_->finished()) return complete(std::move(op.done), std::optional<std::string>{});
    switch (core_->buffered()) {
      case ReadStep::line: return complete(std::move(op.done), core_->pop_line());
      case ReadStep::eof: return complete(std::move(op.done), std::optional<std::string>{});
      default: break;
    }
    if (Clock::now() >= op.deadline && !out_reading_) {
      // No time to wait: take what is in the pipe now.
      const ReadStep step = core_->read_some();
      return complete(std::move(op.done), step == ReadStep::line ? core_->pop_line() : std::nullopt);
    }
    read_ = std::move(op);
    update();
  }

  void begin_close(std::uint64_t ticket, Seconds nice_timeout, Completion<int> done) {
    if (auto code = core_->exit_code()) return complete(std::move(done), *code);
    stop_io();
    if (core_->child_exited()) return complete(std::move(done), finish_exited());
    close_ = CloseOp{ticket, std::move(done), false};
    const auto deadline = interactive_deadline(nice_timeout);
    if (Clock::now() >= deadline) {
      kill_now();
    } else if (deadline != Clock::time_point::max()) {
      close_timer_.expires_at(deadline);
      close_timer_.async_wait([self = shared_from_this(), ticket](std::error_code ec) {
        if (!ec && self->close_ && self->close_->ticket == ticket && !self->close_->killed) self->kill_now();
      });
    }
    update();
  }

  template <class T, class V>
  void complete(Completion<T> done, V&& value) {
    busy(interactive_op_of<T>).store(false, std::memory_order_release);  // the handler may start the next one
    done(nullptr, T(std::forward<V>(value)));                            // posted, never inline
  }

  void finish_write(bool ok) {
    Completion<bool> done = std::move(write_->done);
    write_.reset();
    complete(std::move(done), ok);
  }
  void finish_read(std::optional<std::string> line) {
    Completion<std::optional<std::string>> done = std::move(read_->done);
    read_.reset();
    complete(std::move(done), std::move(line));
  }
  void finish_close(int code) {
    Completion<int> done = std::move(close_->done);
    close_.reset();
    complete(std::move(done), code);
  }

  // Closing: pending reads and writes end, the pipes are closed (the child
  // sees EOF), their waits are aborted.
  void stop_io() noexcept {
    closing_ = true;
    if (write_) finish_write(false);
    if (read_) finish_read(std::nullopt);
    release(in_);
    release(out_);
    timer_.cancel();
    timer_armed_ = false;
    core_->close_pipes();
  }

  // The child has exited: reap it (killing the rest of its group first).
  int finish_exited() noexcept {
    release(pidd_);
    close_timer_.cancel();
    int code;
    try {
      code = core_->reap_exited();
    } catch (...) {
      // The status cannot be known (its init died without a report): the
      // completion carries no exception, so say -1, never a made-up 0.
      code = -1;
    }
    code_.store(code, std::memory_order_release);
    return code;
  }

  void kill_now() noexcept {
    close_->killed = true;
    close_timer_.cancel();
    if (!core_->finished()) core_->kill();
  }

  // ---- waits (on the strand) -----------------------------------------------

  // Arms the waits the pending operations need and cancels the others.
  void update() {
    const bool io = !closing_ && !core_->finished();
    if (io && read_ && !out_reading_) {
      out_reading_ = true;
      out_.async_read_some(
          asio::buffer(*buf_),
          [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
    } else if (!read_ && out_reading_ && out_.is_open()) {
      std::error_code ignored;
      out_.cancel(ignored);
    }
    if (io && write_ && !in_waiting_) {
      in_waiting_ = true;
      in_.async_wait(asio::posix::descriptor_base::wait_write,
                     [self = shared_from_this()](std::error_code) { self->on_writable(); });
    } else if (!write_ && in_waiting_ && in_.is_open()) {
      std::error_code ignored;
      in_.cancel(ignored);
    }
    const bool want_exit = (write_ || close_) && pidd_.is_open();
    if (want_exit && !pid_waiting_) {
      pid_waiting_ = true;
      pidd_.async_wait(asio::posix::descriptor_base::wait_read,
                       [self = shared_from_this()](std::error_code ec) { self->on_exit(ec); });
    } else if (!want_exit && pid_waiting_ && pidd_.is_open()) {
      std::error_code ignored;
      pidd_.cancel(ignored);
    }
    update_timer();
  }

  void update_timer() {
    Clock::time_point at = Clock::time_point::max();
    if (read_) at = std::min(at, read_->deadline);
    if (write_) at = std::min(at, write_->deadline);
    if (at == Clock::time_point::max()) {
      if (timer_armed_) {
        timer_armed_ = false;
        timer_.cancel();
      }
      return;
    }
    if (timer_armed_ && timer_at_ == at) return;
    timer_armed_ = true;
    timer_at_ = at;
    const std::uint64_t gen = ++timer_gen_;
    timer_.expires_at(at);  // cancels the wait for the old deadline
    timer_.async_wait([self = shared_from_this(), gen](std::error_code) { self->on_deadline(gen); });
  }

  void on_deadline(std::uint64_t gen) {
    if (gen != timer_gen_ || !timer_armed_) return;  // superseded or cancelled
    timer_armed_ = false;
    const auto now = Clock::now();
    if (read_ && now >= read_->deadline) finish_read(std::nullopt);
    if (write_ && now >= write_->deadline) finish_write(false);
    update();
  }

  void on_read(std::error_code ec, std::size_t n) {
    out_reading_ = false;
    if (!closing_) {
      if (n > 0) core_->feed(std::string_view(buf_->data(), n));
      // EOF, or a read error (treated alike); not our own cancellation.
      if (ec && ec != asio::error::operation_aborted) core_->mark_eof();
      if (read_) {
        switch (core_->buffered()) {
          case ReadStep::line: finish_read(core_->pop_line()); break;
          case ReadStep::eof: finish_read(std::nullopt); break;
          default:
            if (Clock::now() >= read_->deadline) finish_read(std::nullopt);
            break;
        }
      }
    }
    update();
  }

  void on_writable() {
    in_waiting_ = false;
    if (write_ && !closing_) {
      if (core_->child_exited()) {
        finish_write(false);
      } else {
        switch (core_->write_some(write_->data, write_->offset)) {
          case WriteStep::done: finish_write(true); break;
          case WriteStep::failed: finish_write(false); break;
          case WriteStep::would_block:
            if (Clock::now() >= write_->deadline) finish_write(false);
            break;
        }
      }
    }
    update();
  }

  void on_exit(std::error_code ec) {
    pid_waiting_ = false;
    if (!ec && !core_->finished()) {
      if (write_) finish_write(false);  // the child exited before taking it all
      if (close_) finish_close(finish_exited());
    }
    update();
  }

  void release_all() noexcept {
    release(in_);
    release(out_);
    release(pidd_);
  }

  asio::strand<asio::any_io_executor> strand_;
  asio::any_io_executor strand_any_;
  std::unique_ptr<InteractiveCore> core_;
  pid_t pid_;
  pid_t direct_;  // our own child: the program or its init
  asio::posix::stream_descriptor in_;
  asio::posix::stream_descriptor out_;
  asio::posix::stream_descriptor pidd_;
  asio::steady_timer timer_;
  asio::steady_timer close_timer_;
  std::unique_ptr<std::array<char, kReadChunk>> buf_;

  std::atomic<bool> busy_[3] = {false, false, false};
  std::atomic<std::uint64_t> next_ticket_{1};
  std::atomic<int> code_{kNoCode};

  std::optional<WriteOp> write_;
  std::optional<ReadOp> read_;
  std::optional<CloseOp> close_;
  bool closing_ = false;
  bool out_reading_ = false;
  bool in_waiting_ = false;
  bool pid_waiting_ = false;
  bool timer_armed_ = false;
  Clock::time_point timer_at_{};
  std::uint64_t timer_gen_ = 0;
};

const asio::any_io_executor& interactive_strand(const AsyncInteractiveImplPtr& impl) noexcept {
  return impl->executor();
}

std::uint64_t interactive_claim(const AsyncInteractiveImplPtr& impl, InteractiveOp op) {
  return impl->claim(op);
}

void interactive_start_write(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, std::string data,
                             Seconds timeout, Completion<bool> done) {
  impl->start(ticket, std::move(data), timeout, std::move(done));
}

void interactive_start_read(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, Seconds timeout,
                            Completion<std::optional<std::string>> done) {
  impl->start(ticket, timeout, std::move(done));
}

void interactive_start_close(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, Seconds nice_timeout,
                             Completion<int> done) {
  impl->start(ticket, nice_timeout, std::move(done));
}

void interactive_cancel(const std::weak_ptr<AsyncInteractiveImpl>& impl, InteractiveOp op,
                        std::uint64_t ticket) noexcept {
  try {
    if (auto p = impl.lock()) asio::post(p->executor(), [p, op, ticket] { p->cancel(op, ticket); });
  } catch (...) {
    // Out of memory: the operation goes on until its deadline.
  }
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

AsyncInteractive::AsyncInteractive(const executor_type& executor, std::vector<std::string> argv,
                                   Options options)
    : impl_(std::make_shared<detail::AsyncInteractiveImpl>(
          executor, argv, detail::interactive_settings(options, detail::Face::async_interactive))) {}

AsyncInteractive::AsyncInteractive(asio::io_context& context, std::vector<std::string> argv, Options options)
    : AsyncInteractive(executor_type(context.get_executor()), std::move(argv), std::move(options)) {}

AsyncInteractive::~AsyncInteractive() {
  if (impl_) impl_->shutdown();
}

AsyncInteractive::AsyncInteractive(AsyncInteractive&& other) noexcept = default;

AsyncInteractive& AsyncInteractive::operator=(AsyncInteractive&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->shutdown();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

const detail::AsyncInteractiveImplPtr& AsyncInteractive::impl(const char* where) const {
  if (!impl_)
    throw std::logic_error(std::string("bounded_subprocess::AsyncInteractive::") + where +
                           ": the object was moved from");
  return impl_;
}

AsyncInteractive::executor_type AsyncInteractive::get_executor() const {
  return impl("get_executor")->executor();
}

pid_t AsyncInteractive::pid() const noexcept {
  return impl_ ? impl_->pid() : -1;
}

bool AsyncInteractive::is_running() const noexcept {
  return impl_ && impl_->running();
}

std::optional<int> AsyncInteractive::exit_code() const noexcept {
  return impl_ ? impl_->exit_code() : std::nullopt;
}

}  // namespace bounded_subprocess
