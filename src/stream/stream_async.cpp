// The async line stream: the Asio driver of the engine with a line sink on
// stdout (capped lines, back-pressure) and a tail capture on stderr. The
// lines wait in the sink until `async_next` takes them.
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "drivers/async_driver.hpp"
#include "engine/error.hpp"
#include "spawn/child.hpp"
#include "stream/line_stream_hooks.hpp"
#include "stream/stream_engine.hpp"

namespace bounded_subprocess::detail {

class LineStreamImpl final : public AsyncDriver {
 public:
  LineStreamImpl(const asio::any_io_executor& ex, StreamHooks hooks)
      : AsyncDriver(ex), hooks_(std::move(hooks)) {}

  // Any thread (the initiating one): the misuse check of async_next.
  std::uint64_t claim() {
    if (pending_.exchange(true, std::memory_order_acq_rel))
      throw std::logic_error("bounded_subprocess::LineStream::async_next: another call is pending");
    return next_ticket_.fetch_add(1, std::memory_order_relaxed);
  }

  void unclaim() noexcept { pending_.store(false, std::memory_order_release); }

  void next(std::uint64_t ticket, Completion<std::string> completion) {
    try {
      asio::post(strand(), [self = shared_self(), c = std::move(completion), ticket]() mutable {
        self->waiter_ = std::move(c);
        self->waiter_ticket_ = ticket;
        self->deliver();
        self->step();  // taking a line may have re-opened a paused stdout
      });
    } catch (...) {
      unclaim();
      throw;
    }
  }

  void cancel_next(std::uint64_t ticket) {
    asio::post(strand(), [self = shared_self(), ticket] {
      if (!self->waiter_ || self->waiter_ticket_ != ticket) return;
      self->complete(asio::error::operation_aborted, {});
    });
  }

  void close_now() noexcept { kill_and_finish_now(); }
  bool finished() const noexcept { return ended_ && hook_done_; }
  const Result& result() const {
    if (!finished()) throw std::logic_error("LineStream::result: the stream has not finished");
    return result_;
  }

 private:
  std::shared_ptr<LineStreamImpl> shared_self() {
    return std::static_pointer_cast<LineStreamImpl>(shared_from_this());
  }

  void on_progress() override { deliver(); }

  void on_finished(std::exception_ptr error, Result result) override {
    // The sink has the lines of everything read, the drain after the exit
    // and a last line without '\n' included; result.out counts them.
    result_ = std::move(result);
    error_ = error_code_of(error);
    ended_ = true;
    if (hooks_.on_end) {
      try {
        hooks_.on_end(result_, [self = shared_self()] {
          asio::post(self->strand(), [self] {
            self->hook_done_ = true;
            self->deliver();
          });
        });
      } catch (...) {
        if (!error_) error_ = error_code_of(std::current_exception(), errc::end_hook_failed);
        hook_done_ = true;
      }
    } else {
      hook_done_ = true;
    }
    deliver();
  }

  // Completes a pending async_next with the next line, or with the end once
  // the stream has finished. The caller re-arms the waits (step) if needed.
  void deliver() {
    if (!waiter_) return;
    if (auto line = sup().stdout_lines()->pop_line()) {
      complete({}, std::move(*line));
      return;
    }
    // An error once, then eof for this call and every later one.
    if (finished()) complete(error_ ? std::exchange(error_, {}) : asio::error::eof, {});
  }

  // The handler may call async_next again: the claim goes first.
  void complete(std::error_code ec, std::string line) {
    Completion<std::string> waiter = std::move(waiter_);
    pending_.store(false, std::memory_order_release);
    waiter(ec, std::move(line));  // posted, never inline
  }

  StreamHooks hooks_;
  Completion<std::string> waiter_;
  std::uint64_t waiter_ticket_ = 0;
  std::atomic<bool> pending_{false};
  std::atomic<std::uint64_t> next_ticket_{1};
  bool ended_ = false;
  bool hook_done_ = false;
  std::error_code error_;
  Result result_;
};

NextLineClaim::NextLineClaim(std::shared_ptr<LineStreamImpl> impl) : impl_(std::move(impl)) {
  if (!impl_) throw std::logic_error("bounded_subprocess::LineStream::async_next: moved-from stream");
  ticket_ = impl_->claim();
}

NextLineClaim::~NextLineClaim() {
  if (impl_) impl_->unclaim();  // never initiated
}

void NextLineClaim::start(Completion<std::string> completion) {
  std::exchange(impl_, nullptr)->next(ticket_, std::move(completion));
}

void next_line_cancel(const std::weak_ptr<LineStreamImpl>& impl, const std::uint64_t& ticket,
                      asio::cancellation_type_t) noexcept {
  try {
    if (auto p = impl.lock()) p->cancel_next(ticket);
  } catch (...) {
    // Out of memory: the wait simply goes on.
  }
}

}  // namespace bounded_subprocess::detail

namespace bounded_subprocess {

LineStream::LineStream(std::shared_ptr<detail::LineStreamImpl> impl) noexcept : impl_(std::move(impl)) {}
LineStream::LineStream(LineStream&&) noexcept = default;

LineStream& LineStream::operator=(LineStream&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

LineStream::~LineStream() {
  close();
}

LineStream::executor_type LineStream::get_executor() const {
  if (!impl_) throw std::logic_error("LineStream: moved-from stream");
  return impl_->strand();
}

void LineStream::close() noexcept {
  if (impl_) impl_->close_now();
}

pid_t LineStream::pid() const noexcept {
  return impl_ ? impl_->pid() : -1;
}

bool LineStream::finished() const noexcept {
  return impl_ && impl_->finished();
}

const Result& LineStream::result() const {
  if (!impl_) throw std::logic_error("LineStream: moved-from stream");
  return impl_->result();
}

LineStream detail::LineStreamAccess::open(const asio::any_io_executor& ex,
                                          const std::vector<std::string>& argv, const Options& options,
                                          StreamHooks hooks, EntryPoint entry) {
  const StreamSettings settings = stream_engine_options(options, entry);
  auto impl = std::make_shared<LineStreamImpl>(ex, std::move(hooks));
  impl->spawn(argv, settings.engine, stream_stdout_sink(settings), stream_stderr_sink(settings));
  impl->start();
  return LineStream(std::move(impl));
}

}  // namespace bounded_subprocess
