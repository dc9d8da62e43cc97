// The async twin of Interactive, on standalone Asio: a long-lived child
// spoken to line by line, with completion tokens (callbacks,
// asio::use_future, asio::use_awaitable, asio::experimental::deferred).
//
//   asio::awaitable<void> talk() {
//     bounded_subprocess::AsyncInteractive proc(co_await asio::this_coro::executor, {"cat"});
//     bool ok = co_await proc.async_write("hello\n", 1s, asio::use_awaitable);
//     std::optional<std::string> line = co_await proc.async_read_line(1s, asio::use_awaitable);
//     int code = co_await proc.async_close(1s, asio::use_awaitable);
//   }
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "bounded_subprocess/interactive.hpp"

namespace bounded_subprocess {

namespace detail {

/// What an AsyncInteractive and its pending operations share. Operations hold
/// it by shared_ptr, so one still queued when the object dies touches live
/// memory (and completes with false / no line). Not for direct use.
struct AsyncInteractiveState {
  AsyncInteractiveState(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                        const InteractiveOptions& options);
  ~AsyncInteractiveState();
  AsyncInteractiveState(const AsyncInteractiveState&) = delete;
  AsyncInteractiveState& operator=(const AsyncInteractiveState&) = delete;

  // Non-blocking steps, in src/interactive_async.cpp.
  bool can_write() const noexcept;              // open, child alive, stdin usable
  WriteStep write_step(std::string_view data, std::size_t& offset);
  ReadStep read_step();
  std::optional<std::string> pop_line();
  bool child_exited() const noexcept;
  std::optional<int> exit_code() const noexcept;
  /// Closes the pipes (releasing them from Asio first): pending reads and
  /// writes complete with false / no line.
  void begin_close() noexcept;
  /// For an exited child: kills the rest of the group, reaps, returns the code.
  int finish_exited() noexcept;
  void kill_group() noexcept;
  /// The destructor path: closes everything, SIGKILLs the group, reaps.
  void shutdown() noexcept;
  /// Races between our readiness check and a wait registered in Asio's
  /// edge-triggered reactor can lose a wakeup when another thread runs the
  /// reactor. Called right after a wait is registered: if the fd (or the
  /// pidfd) is ready already, cancels the wait so the operation re-checks.
  enum class Wait { write, read, exit };
  void kick_if_ready(Wait wait) noexcept;

  asio::any_io_executor executor;
  std::unique_ptr<InteractiveCore> core;
  asio::posix::stream_descriptor stdin_desc;
  asio::posix::stream_descriptor stdout_desc;
  asio::posix::stream_descriptor pid_desc;
  asio::steady_timer write_timer;
  asio::steady_timer read_timer;
  asio::steady_timer close_timer;
  bool closing = false;
};

using AsyncInteractiveStatePtr = std::shared_ptr<AsyncInteractiveState>;

/// The composed operation behind async_write.
struct AsyncWriteOp {
  AsyncWriteOp(AsyncInteractiveStatePtr state, std::string bytes, Seconds t)
      : st(std::move(state)), data(std::move(bytes)), timeout(t) {}

  AsyncInteractiveStatePtr st;
  std::string data;
  Seconds timeout;
  std::size_t offset = 0;
  std::chrono::steady_clock::time_point deadline{};
  bool started = false;
  bool result = false;

  template <typename Self>
  void operator()(Self& self) {
    if (started) {  // resumed by the post of an immediate result
      self.complete(result);
      return;
    }
    started = true;
    self.reset_cancellation_state(asio::enable_total_cancellation());
    deadline = interactive_deadline(timeout);
    step(self, true);
  }

  template <typename Self>
  void operator()(Self& self, std::array<std::size_t, 3> order, std::error_code ec_fd,
                  std::error_code ec_pid, std::error_code ec_timer) {
    (void)ec_fd;
    if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none || st->closing) {
      self.complete(false);
      return;
    }
    if (order[0] == 1 && !ec_pid) {  // the child exited before taking it all
      self.complete(false);
      return;
    }
    if (order[0] == 2 && !ec_timer) {  // deadline
      self.complete(false);
      return;
    }
    step(self, false);
  }

  template <typename Self>
  void step(Self& self, bool initiating) {
    const WriteStep outcome = st->can_write() ? st->write_step(data, offset) : WriteStep::failed;
    if (outcome != WriteStep::would_block) {
      finish(self, outcome == WriteStep::done, initiating);
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      finish(self, false, initiating);
      return;
    }
    st->write_timer.expires_at(deadline);
    AsyncInteractiveStatePtr s = st;
    auto* raw = s.get();
    asio::experimental::make_parallel_group(
        [raw](auto token) {
          return raw->stdin_desc.async_wait(asio::posix::descriptor_base::wait_write, token);
        },
        [raw](auto token) {
          return raw->pid_desc.async_wait(asio::posix::descriptor_base::wait_read, token);
        },
        [raw](auto token) { return raw->write_timer.async_wait(token); })
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
    s->kick_if_ready(AsyncInteractiveState::Wait::write);
  }

  template <typename Self>
  void finish(Self& self, bool value, bool initiating) {
    if (!initiating) {
      self.complete(value);
      return;
    }
    // Never complete inside the initiating function: go through the executor.
    result = value;
    asio::post(std::move(self));
  }
};

/// The composed operation behind async_read_line.
struct AsyncReadLineOp {
  AsyncReadLineOp(AsyncInteractiveStatePtr state, Seconds t) : st(std::move(state)), timeout(t) {}

  AsyncInteractiveStatePtr st;
  Seconds timeout;
  std::chrono::steady_clock::time_point deadline{};
  enum class Phase { start, resume, finish } phase = Phase::start;
  std::optional<std::string> result;

  template <typename Self>
  void operator()(Self& self) {
    switch (phase) {
      case Phase::finish:
        self.complete(std::move(result));
        return;
      case Phase::resume:  // after yielding to the executor mid-flood
        if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
          self.complete(std::nullopt);
          return;
        }
        step(self, false);
        return;
      case Phase::start:
        self.reset_cancellation_state(asio::enable_total_cancellation());
        deadline = interactive_deadline(timeout);
        step(self, true);
        return;
    }
  }

  template <typename Self>
  void operator()(Self& self, std::array<std::size_t, 2> order, std::error_code ec_fd,
                  std::error_code ec_timer) {
    (void)ec_fd;
    if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
      self.complete(std::nullopt);
      return;
    }
    if (order[0] == 1 && !ec_timer) {
      // Deadline: take a line that is already complete, but wait no more.
      if (!st->closing && st->read_step() == ReadStep::line) {
        self.complete(st->pop_line());
        return;
      }
      self.complete(std::nullopt);
      return;
    }
    step(self, false);
  }

  template <typename Self>
  void step(Self& self, bool initiating) {
    if (st->closing || st->exit_code()) {
      finish(self, std::nullopt, initiating);
      return;
    }
    switch (st->read_step()) {
      case ReadStep::line:
        finish(self, st->pop_line(), initiating);
        return;
      case ReadStep::eof:
        finish(self, std::nullopt, initiating);
        return;
      case ReadStep::more:  // flooded without a newline: yield, then go on until the deadline
        if (std::chrono::steady_clock::now() >= deadline) {
          finish(self, std::nullopt, initiating);
          return;
        }
        phase = Phase::resume;
        asio::post(std::move(self));
        return;
      case ReadStep::would_block:
        break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      finish(self, std::nullopt, initiating);
      return;
    }
    st->read_timer.expires_at(deadline);
    AsyncInteractiveStatePtr s = st;
    auto* raw = s.get();
    asio::experimental::make_parallel_group(
        [raw](auto token) {
          return raw->stdout_desc.async_wait(asio::posix::descriptor_base::wait_read, token);
        },
        [raw](auto token) { return raw->read_timer.async_wait(token); })
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
    s->kick_if_ready(AsyncInteractiveState::Wait::read);
  }

  template <typename Self>
  void finish(Self& self, std::optional<std::string> value, bool initiating) {
    if (!initiating) {
      self.complete(std::move(value));
      return;
    }
    result = std::move(value);
    phase = Phase::finish;
    asio::post(std::move(self));
  }
};

/// The composed operation behind async_close.
struct AsyncCloseOp {
  AsyncCloseOp(AsyncInteractiveStatePtr state, Seconds t) : st(std::move(state)), nice_timeout(t) {}

  AsyncInteractiveStatePtr st;
  Seconds nice_timeout;
  enum class Phase { start, finish, nice_wait, kill_wait } phase = Phase::start;
  int result = -1;

  template <typename Self>
  void operator()(Self& self) {
    if (phase == Phase::finish) {
      self.complete(result);
      return;
    }
    self.reset_cancellation_state(asio::enable_total_cancellation());
    if (auto code = st->exit_code()) {
      finish_now(self, *code);
      return;
    }
    st->begin_close();
    if (st->child_exited()) {
      finish_now(self, st->finish_exited());
      return;
    }
    const auto deadline = interactive_deadline(nice_timeout);
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(self);
      return;
    }
    phase = Phase::nice_wait;
    st->close_timer.expires_at(deadline);
    AsyncInteractiveStatePtr s = st;
    auto* raw = s.get();
    asio::experimental::make_parallel_group(
        [raw](auto token) {
          return raw->pid_desc.async_wait(asio::posix::descriptor_base::wait_read, token);
        },
        [raw](auto token) { return raw->close_timer.async_wait(token); })
        .async_wait(asio::experimental::wait_for_one(), std::move(self));
    s->kick_if_ready(AsyncInteractiveState::Wait::exit);
  }

  // The nice wait ended: the child exited, the time is up, or cancellation.
  template <typename Self>
  void operator()(Self& self, std::array<std::size_t, 2>, std::error_code, std::error_code) {
    if (done(self)) return;
    kill(self);  // time is up, or the close was cancelled: no more niceness
  }

  // The wait after SIGKILL ended (or was cancelled, or kicked): check again.
  template <typename Self>
  void operator()(Self& self, std::error_code) {
    if (done(self)) return;
    wait_for_death(self);
  }

  template <typename Self>
  bool done(Self& self) {
    if (auto code = st->exit_code()) {  // the destructor reaped it meanwhile
      self.complete(*code);
      return true;
    }
    if (st->child_exited()) {
      self.complete(st->finish_exited());
      return true;
    }
    return false;
  }

  template <typename Self>
  void kill(Self& self) {
    phase = Phase::kill_wait;
    wait_for_death(self);
  }

  // Registers the pidfd wait first, then SIGKILLs the group, so the exit
  // cannot happen before anyone waits for it.
  template <typename Self>
  void wait_for_death(Self& self) {
    AsyncInteractiveStatePtr s = st;
    s->pid_desc.async_wait(asio::posix::descriptor_base::wait_read, std::move(self));
    s->kill_group();
    s->kick_if_ready(AsyncInteractiveState::Wait::exit);
  }

  template <typename Self>
  void finish_now(Self& self, int code) {
    result = code;
    phase = Phase::finish;
    asio::post(std::move(self));
  }
};

}  // namespace detail

/// A child process with piped stdin and stdout (stderr inherited), in its
/// own session and process group, driven by Asio: the async twin of
/// `Interactive`, with the same behaviour and the same errors.
///
/// Waits are Asio waits on the pipes, on the child's pidfd and on a steady
/// timer with the exact deadline: no polling interval. A write really puts
/// its bytes into the pipe before it completes with true (an echo through
/// `cat` comes back).
///
/// Cancellation (per-operation, through the completion handler's
/// cancellation slot; all cancellation types are honoured): a pending write
/// completes with false (a prefix may have been written), a pending read
/// with no line (bytes already read stay buffered). Neither kills the child:
/// it keeps running until `async_close` or the destructor. A cancelled
/// `async_close` skips the rest of its nice wait: it SIGKILLs the group at
/// once and completes after the child is reaped.
///
/// At most one async_write, one async_read_line and one async_close may be
/// pending at a time (a write and a read may be pending together). Starting
/// `async_close` makes a pending write complete with false and a pending read
/// with no line.
///
/// Lifetime: the destructor of an object whose child was not closed closes
/// the pipes, SIGKILLs the group and reaps the child; that reap blocks the
/// calling thread for the moment the kernel needs to tear a killed process
/// down. Pending operations then complete with false / no line / the code.
/// The object must be destroyed before its execution context.
///
/// Thread safety: as for Asio I/O objects, the object and its operations
/// must not be used concurrently: with an io_context run by several
/// threads, construct it with a strand.
class AsyncInteractive {
 public:
  using executor_type = asio::any_io_executor;

  /// Starts `argv`; operations run on `executor`. Errors as for
  /// `Interactive::Interactive` (std::invalid_argument,
  /// std::system_error naming the program).
  AsyncInteractive(const executor_type& executor, std::vector<std::string> argv,
                   InteractiveOptions options = {});
  AsyncInteractive(asio::io_context& context, std::vector<std::string> argv,
                   InteractiveOptions options = {});
  /// Kills the group and reaps the child unless it was closed (see above).
  ~AsyncInteractive();
  AsyncInteractive(AsyncInteractive&& other) noexcept;
  AsyncInteractive& operator=(AsyncInteractive&& other) noexcept;
  AsyncInteractive(const AsyncInteractive&) = delete;
  AsyncInteractive& operator=(const AsyncInteractive&) = delete;

  executor_type get_executor() const;
  /// The child's pid (also its process group id).
  pid_t pid() const noexcept;
  /// True until the child has exited (or been closed). Does not reap.
  bool is_running() const noexcept;
  /// The code async_close completed with, once it has.
  std::optional<int> exit_code() const noexcept;

  /// Writes all of `data` (copied into the operation) to the child's stdin
  /// within `timeout`, measured from the start of the operation.
  /// Completion signature: void(bool): true once every byte is in the pipe;
  /// false if the child had exited or exits meanwhile, the pipe broke, the
  /// timeout passed, the object was closed, or the operation was cancelled.
  /// Errors (thrown at the call): std::invalid_argument for a negative or NaN
  /// timeout, std::logic_error on a moved-from object.
  template <typename CompletionToken>
  auto async_write(std::string data, Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout, "bounded_subprocess::AsyncInteractive::async_write");
    auto& s = state("async_write");
    return asio::async_compose<CompletionToken, void(bool)>(
        detail::AsyncWriteOp{s, std::move(data), timeout}, token, s->executor);
  }

  /// Reads the next line of the child's stdout (without its '\n') within
  /// `timeout`, measured from the start of the operation.
  /// Completion signature: void(std::optional<std::string>): the line, or no
  /// value on timeout, EOF (a partial line at EOF is dropped), close, or
  /// cancellation. Data read before a timeout stays buffered. Errors as for
  /// async_write.
  template <typename CompletionToken>
  auto async_read_line(Seconds timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(timeout,
                                      "bounded_subprocess::AsyncInteractive::async_read_line");
    auto& s = state("async_read_line");
    return asio::async_compose<CompletionToken, void(std::optional<std::string>)>(
        detail::AsyncReadLineOp{s, timeout}, token, s->executor);
  }

  /// Closes the pipes, waits up to `nice_timeout` for the child to exit,
  /// then SIGKILLs the group; in every case the rest of the group is killed
  /// and the child reaped. Completion signature: void(int): the exit status,
  /// or minus the signal number (-9 when it had to be killed); the same code
  /// again on later calls. Errors as for async_write.
  template <typename CompletionToken>
  auto async_close(Seconds nice_timeout, CompletionToken&& token) {
    detail::check_interactive_timeout(nice_timeout,
                                      "bounded_subprocess::AsyncInteractive::async_close");
    auto& s = state("async_close");
    return asio::async_compose<CompletionToken, void(int)>(
        detail::AsyncCloseOp{s, nice_timeout}, token, s->executor);
  }

 private:
  const detail::AsyncInteractiveStatePtr& state(const char* where) const;

  detail::AsyncInteractiveStatePtr state_;
};

}  // namespace bounded_subprocess
