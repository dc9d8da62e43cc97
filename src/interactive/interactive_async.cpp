// AsyncInteractive: each operation (write, read_line, close) is one
// asio::async_compose on the object's strand. A step calls the non-blocking
// primitives of the sync core (write_some, read_some, reap_exited); when one
// would block, the operation waits with stream_descriptor::async_wait on
// what it needs (stdin writable, stdout readable, the pidfd) raced against
// its own steady_timer in an asio::experimental::parallel_group, then steps
// again. Cancellation reaches the waits through the handler's slot; close
// releases the pipes from Asio, which aborts the waits of a pending write or
// read, whose next step sees the object closed.
#include "bounded_subprocess/async_interactive.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <asio/compose.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
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

#include "drivers/signalled_completion.hpp"
#include "engine/error.hpp"
#include "interactive/interactive_core.hpp"

namespace bounded_subprocess::detail {

namespace {

using Clock = std::chrono::steady_clock;
using Descriptor = asio::posix::stream_descriptor;
constexpr int kNoCode = INT_MIN;
constexpr auto kDeferred = asio::experimental::deferred;

const char* op_name(InteractiveOp op) noexcept {
  switch (op) {
    case InteractiveOp::write: return "async_write";
    case InteractiveOp::read: return "async_read_line";
    case InteractiveOp::close: return "async_close";
  }
  return "?";
}

// Takes the fd back from Asio (deregistering it and aborting its waits with
// operation_aborted) without closing it: the core owns and closes it.
void release(Descriptor& desc) noexcept {
  if (desc.is_open()) desc.release();
}

// The first step of every operation: the cancellation types it can honour
// (Asio's meaning: `total` only when nothing happened, `partial` when what
// happened is well defined and reported, `terminal` when the object may be
// left for closing only); any other type is ignored.
//  - async_read_line: every type (bytes read before stay buffered for the
//    next call: nothing is lost);
//  - async_write: terminal and partial, as Asio's own write (a prefix may be
//    in the pipe; the value says how much);
//  - async_close: terminal and partial (the group is killed at once and
//    reaped: the object is closed, the code delivered).
template <class Self>
void accept_cancellation(Self& self, InteractiveOp op) {
  if (op == InteractiveOp::read) {
    self.reset_cancellation_state(asio::enable_total_cancellation());
  } else {
    self.reset_cancellation_state(asio::enable_partial_cancellation());
  }
}

template <class Self>
bool cancelled(Self& self) {
  return self.get_cancellation_state().cancelled() != asio::cancellation_type::none;
}

}  // namespace

class AsyncInteractiveImpl : public std::enable_shared_from_this<AsyncInteractiveImpl> {
 public:
  using Strand = asio::strand<asio::any_io_executor>;

  AsyncInteractiveImpl(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                       const InteractiveSettings& options)
      : strand_(asio::make_strand(ex)),
        strand_any_(strand_),
        core_(std::make_unique<InteractiveCore>(argv, options)),
        pid_(core_->pid()),
        direct_(core_->direct_pid()),
        in_(strand_),
        out_(strand_),
        pidd_(strand_) {
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

  // Any thread: the core recorded the limits before the code was published.
  std::optional<LimitsHit> limits_hit() const noexcept {
    if (!exit_code() || !core_) return std::nullopt;
    return core_->limits_hit();
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

  // Any thread (the initiating one). Not a wait flag: only the misuse check
  // that lets a second pending operation of a kind throw at its call.
  void claim(InteractiveOp op) {
    if (pending(op).exchange(true, std::memory_order_acq_rel))
      throw std::logic_error(std::string("bounded_subprocess::AsyncInteractive::") + op_name(op) +
                             ": another one is still pending");
  }
  void unclaim(InteractiveOp op) noexcept { pending(op).store(false, std::memory_order_release); }

  // Runs the composed operation `Op` on the strand (inline when we are on it
  // already); its completion handler is `done`, with `signal`'s slot.
  // The claim passes to the operation (its handler gives it back).
  template <class Op, class T>
  void start(InteractiveClaim& claim, InteractiveOp kind, Op op, Completion<T> done,
             InteractiveSignal signal) {
    asio::dispatch(strand_, [self = shared_from_this(), kind, op = std::move(op), done = std::move(done),
                             signal = std::move(signal)]() mutable {
      Handler<T> handler{self, kind, std::move(done), std::move(signal)};
      asio::async_compose<Handler<T>, void(std::error_code, T)>(std::move(op), handler, self->strand_);
    });
    claim.release();
  }

  // The owner's thread, with none of our handlers running (see the class
  // comment in the header): close everything, kill and reap now. Pending
  // operations see their waits aborted and complete on the strand.
  void shutdown() noexcept {
    if (!core_ || core_->finished()) return;
    closed_ = true;
    release_all();
    core_->close_pipes();
    code_.store(core_->kill_and_reap_now(), std::memory_order_release);
  }

  // ---- what the operations use (on the strand) -----------------------------

  const Strand& strand() const noexcept { return strand_; }
  InteractiveCore& core() noexcept { return *core_; }
  bool closed() const noexcept { return closed_; }
  Descriptor& in() noexcept { return in_; }
  Descriptor& out() noexcept { return out_; }
  Descriptor& pidfd() noexcept { return pidd_; }

  // Closing: the pipes are taken from Asio (aborting a pending write's or
  // read's wait) and closed (the child sees EOF on stdin).
  void close_io() noexcept {
    closed_ = true;
    release(in_);
    release(out_);
    core_->close_pipes();
  }

  // The child has exited: reap it (killing the rest of its group first).
  // Returns the code, or -1 with `ec` set when the status cannot be known.
  int reap(std::error_code& ec) noexcept {
    release(pidd_);
    int code = -1;
    try {
      code = core_->reap_exited();
    } catch (...) {
      ec = error_code_of(std::current_exception());
      if (auto known = core_->exit_code()) code = *known;
    }
    code_.store(code, std::memory_order_release);
    return code;
  }

 private:
  // The handler async_compose completes: gives the claim back, then posts
  // the caller's handler through its associated executor (never inline).
  // It has no executor of its own, so every step runs on the strand.
  template <class T>
  struct Handler : SignalledCompletion<T> {
    Handler(std::shared_ptr<AsyncInteractiveImpl> s, InteractiveOp k, Completion<T> d, InteractiveSignal sig)
        : SignalledCompletion<T>{std::move(d), std::move(sig)}, self(std::move(s)), kind(k) {}

    std::shared_ptr<AsyncInteractiveImpl> self;
    InteractiveOp kind;

    void operator()(std::error_code ec, T value) {
      self->unclaim(kind);
      SignalledCompletion<T>::operator()(ec, std::move(value));
    }
  };

  std::atomic<bool>& pending(InteractiveOp op) noexcept { return pending_[static_cast<int>(op)]; }

  void release_all() noexcept {
    release(in_);
    release(out_);
    release(pidd_);
  }

  Strand strand_;
  asio::any_io_executor strand_any_;
  std::unique_ptr<InteractiveCore> core_;
  pid_t pid_;
  pid_t direct_;  // our own child: the program or its init
  Descriptor in_;
  Descriptor out_;
  Descriptor pidd_;
  bool closed_ = false;
  std::atomic<bool> pending_[3] = {false, false, false};
  std::atomic<int> code_{kNoCode};
};

namespace {

using Impl = AsyncInteractiveImpl;

// One deadline of one operation: a steady_timer, made at its first wait.
struct Deadline {
  Clock::time_point at;
  std::unique_ptr<asio::steady_timer> timer;

  bool passed() const { return Clock::now() >= at; }
  asio::steady_timer& arm(const Impl::Strand& strand) {
    if (!timer) {
      timer = std::make_unique<asio::steady_timer>(strand);
      timer->expires_at(at);
    }
    return *timer;
  }
};

// async_write: every byte into the pipe. Completes with the bytes written
// and: none; timed_out; broken_pipe (the child exited, or closed its stdin);
// operation_aborted (cancelled, or the object was closed).
struct WriteOp {
  std::shared_ptr<Impl> impl;
  std::string data;
  Deadline deadline;
  std::size_t offset = 0;
  bool started = false;

  template <class Self>
  void operator()(Self& self) {
    if (!std::exchange(started, true)) accept_cancellation(self, InteractiveOp::write);
    if (impl->closed() || cancelled(self)) return self.complete(asio::error::operation_aborted, offset);
    InteractiveCore& core = impl->core();
    if (core.child_exited()) return self.complete(asio::error::broken_pipe, offset);
    switch (core.write_some(data, offset)) {
      case WriteStep::done: return self.complete(std::error_code{}, offset);
      case WriteStep::failed: return self.complete(asio::error::broken_pipe, offset);
      case WriteStep::would_block: break;
    }
    if (deadline.passed()) return self.complete(asio::error::timed_out, offset);
    // Room in the pipe, the child's exit, or the deadline: whichever first.
    asio::experimental::make_parallel_group(impl->in().async_wait(Descriptor::wait_write, kDeferred),
                                            impl->pidfd().async_wait(Descriptor::wait_read, kDeferred),
                                            deadline.arm(impl->strand()).async_wait(kDeferred))
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
  }

  template <class Self>
  void operator()(Self& self, std::array<std::size_t, 3>, std::error_code, std::error_code, std::error_code) {
    (*this)(self);  // whatever woke us, look again
  }
};

// async_read_line: the next line. Completes with it and: none; timed_out;
// eof (a partial line at EOF is dropped); operation_aborted (cancelled, or
// the object was closed). Bytes read before a timeout stay buffered.
struct ReadOp {
  std::shared_ptr<Impl> impl;
  Deadline deadline;
  bool started = false;

  template <class Self>
  void operator()(Self& self) {
    if (!std::exchange(started, true)) accept_cancellation(self, InteractiveOp::read);
    if (impl->closed() || cancelled(self))
      return self.complete(asio::error::operation_aborted, std::string{});
    InteractiveCore& core = impl->core();
    switch (core.read_some()) {
      case ReadStep::line: return self.complete(std::error_code{}, std::move(*core.pop_line()));
      case ReadStep::eof: return self.complete(asio::error::eof, std::string{});
      case ReadStep::more:
        // A budget's worth without a line: give the strand a turn first.
        if (deadline.passed()) return self.complete(asio::error::timed_out, std::string{});
        return asio::post(impl->strand(), std::move(self));
      case ReadStep::would_block: break;
    }
    if (deadline.passed()) return self.complete(asio::error::timed_out, std::string{});
    asio::experimental::make_parallel_group(impl->out().async_wait(Descriptor::wait_read, kDeferred),
                                            deadline.arm(impl->strand()).async_wait(kDeferred))
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
  }

  template <class Self>
  void operator()(Self& self, std::array<std::size_t, 2>, std::error_code, std::error_code) {
    (*this)(self);
  }
};

// async_close: closes the pipes, waits for the exit until the nice deadline
// (or a cancellation), then SIGKILLs the group; completes once the child is
// reaped, with its code and: none; operation_aborted when cancelled (the
// group was killed at once); the reap's error when the status cannot be
// known (code -1).
struct CloseOp {
  std::shared_ptr<Impl> impl;
  Deadline deadline;
  bool started = false;
  bool killed = false;

  template <class Self>
  void operator()(Self& self) {
    InteractiveCore& core = impl->core();
    if (!std::exchange(started, true)) {
      accept_cancellation(self, InteractiveOp::close);
      if (auto code = core.exit_code()) return self.complete(std::error_code{}, *code);  // closed before
      impl->close_io();
    }
    const std::error_code why = cancelled(self) ? asio::error::operation_aborted : std::error_code{};
    if (auto code = core.exit_code()) return self.complete(why, *code);  // reaped by the destructor
    if (core.child_exited()) {
      std::error_code ec;
      const int code = impl->reap(ec);
      return self.complete(ec ? ec : why, code);
    }
    if (!killed && (why || deadline.passed())) {
      killed = true;
      core.kill();
    }
    if (killed) {
      // Gone within milliseconds; a further cancellation only re-arms this.
      impl->pidfd().async_wait(Descriptor::wait_read, std::move(self));
      return;
    }
    asio::experimental::make_parallel_group(impl->pidfd().async_wait(Descriptor::wait_read, kDeferred),
                                            deadline.arm(impl->strand()).async_wait(kDeferred))
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
  }

  template <class Self>
  void operator()(Self& self, std::error_code) {
    (*this)(self);
  }
  template <class Self>
  void operator()(Self& self, std::array<std::size_t, 2>, std::error_code, std::error_code) {
    (*this)(self);
  }
};

}  // namespace

const asio::any_io_executor& interactive_strand(const AsyncInteractiveImplPtr& impl) noexcept {
  return impl->executor();
}

InteractiveClaim::InteractiveClaim(AsyncInteractiveImplPtr impl, InteractiveOp op)
    : impl_(std::move(impl)), op_(op) {
  impl_->claim(op_);
}

InteractiveClaim::~InteractiveClaim() {
  if (impl_) impl_->unclaim(op_);
}

void interactive_start_write(InteractiveClaim claim, std::string data, Seconds timeout,
                             Completion<std::size_t> done, InteractiveSignal signal) {
  auto impl = claim.impl();
  impl->start(claim, InteractiveOp::write,
              WriteOp{impl, std::move(data), {interactive_deadline(timeout), nullptr}}, std::move(done),
              std::move(signal));
}

void interactive_start_read(InteractiveClaim claim, Seconds timeout, Completion<std::string> done,
                            InteractiveSignal signal) {
  auto impl = claim.impl();
  impl->start(claim, InteractiveOp::read, ReadOp{impl, {interactive_deadline(timeout), nullptr}},
              std::move(done), std::move(signal));
}

void interactive_start_close(InteractiveClaim claim, Seconds nice_timeout, Completion<int> done,
                             InteractiveSignal signal) {
  auto impl = claim.impl();
  impl->start(claim, InteractiveOp::close, CloseOp{impl, {interactive_deadline(nice_timeout), nullptr}},
              std::move(done), std::move(signal));
}

void interactive_cancel(const std::weak_ptr<AsyncInteractiveImpl>& impl,
                        const std::weak_ptr<asio::cancellation_signal>& signal,
                        asio::cancellation_type_t type) noexcept {
  try {
    auto p = impl.lock();
    auto s = signal.lock();
    if (p && s) asio::post(p->strand(), [s, type] { s->emit(type); });
  } catch (...) {
    // Out of memory: the operation goes on until its deadline.
  }
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

AsyncInteractive::AsyncInteractive(const executor_type& executor, std::vector<std::string> argv,
                                   Options options)
    : impl_(std::make_shared<detail::AsyncInteractiveImpl>(
          executor, argv, detail::interactive_settings(options, detail::EntryPoint::async_interactive))) {}

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

std::optional<LimitsHit> AsyncInteractive::limits_hit() const noexcept {
  return impl_ ? impl_->limits_hit() : std::nullopt;
}

}  // namespace bounded_subprocess
