// The async line stream: the Asio driver of the engine, with stdout read
// here (line by line, with back-pressure) instead of by the Supervisor.
#include <unistd.h>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <cerrno>
#include <deque>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "drivers/async_driver.hpp"
#include "engine/line_splitter.hpp"
#include "spawn/child.hpp"
#include "stream/line_stream_hooks.hpp"

namespace bounded_subprocess::detail {

namespace {

// While the caller does not ask for lines, reading pauses once this many
// bytes of lines are queued (the child then blocks on its full pipe).
constexpr std::size_t kQueueCap = 1024 * 1024;
constexpr std::size_t kReadSize = 64 * 1024;
// Bytes read per readiness event before giving other fds a turn.
constexpr std::size_t kEventBudget = 1024 * 1024;

}  // namespace

class LineStreamImpl final : public AsyncDriver {
 public:
  LineStreamImpl(const asio::any_io_executor& ex, std::size_t max_line, StreamHooks hooks)
      : AsyncDriver(ex), splitter_(max_line), hooks_(std::move(hooks)) {}

  std::uint64_t take_ticket() noexcept { return next_ticket_++; }

  void next(std::uint64_t ticket, Completion<std::optional<std::string>> completion) {
    asio::post(strand(), [self = shared_self(), c = std::move(completion), ticket]() mutable {
      if (self->waiter_) {
        c(std::make_exception_ptr(std::logic_error("LineStream::async_next: another call is pending")),
          std::nullopt);
        return;
      }
      self->waiter_ = std::move(c);
      self->waiter_ticket_ = ticket;
      self->deliver();
    });
  }

  void cancel_next(std::uint64_t ticket) {
    asio::post(strand(), [self = shared_self(), ticket] {
      if (!self->waiter_ || self->waiter_ticket_ != ticket) return;
      self->waiter_(std::make_exception_ptr(std::system_error(asio::error::operation_aborted)), std::nullopt);
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

  bool want_stdout() const override { return !stdout_eof_ && queued_bytes_ < kQueueCap; }

  void on_stdout_ready() override {
    read_stdout(kEventBudget);
    deliver();
  }

  void before_child_exit() override {
    // Everything the child wrote is in the pipe now: take it all as lines
    // (bounded by the pipe's size), so the Supervisor's drain finds little.
    read_stdout(static_cast<std::size_t>(-1));
  }

  void read_stdout(std::size_t budget) {
    const int fd = sup().stdout_fd();
    if (fd < 0 || stdout_eof_) return;
    if (buf_.size() < kReadSize) buf_.resize(kReadSize);
    std::size_t moved = 0;
    while (moved < budget) {
      const ssize_t n = ::read(fd, buf_.data(), buf_.size());
      if (n > 0) {
        const auto got = static_cast<std::size_t>(n);
        moved += got;
        take_bytes(std::string_view(buf_.data(), got));
        if (budget == kEventBudget && queued_bytes_ >= kQueueCap) return;  // back-pressure
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      stdout_eof_ = true;  // EOF (or EIO): the Supervisor closes the fd at the end
      return;
    }
  }

  void take_bytes(std::string_view bytes) {
    stdout_total_ += bytes.size();
    splitter_.feed(bytes, [this](std::string&& line) {
      queued_bytes_ += line.size();
      lines_.push_back(std::move(line));
    });
  }

  void on_finished(std::exception_ptr error, Result result) override {
    // What the Supervisor drained after the exit (the tail of it, if much).
    const std::uint64_t drained = result.out.total_bytes;
    const std::uint64_t kept = result.out.data.size();
    take_bytes(result.out.data);
    if (auto last = splitter_.flush()) {
      queued_bytes_ += last->size();
      lines_.push_back(std::move(*last));
    }
    result.out.data.clear();
    result.out.total_bytes = stdout_total_ + (drained - kept);
    result.out.truncated = splitter_.truncated() || drained > kept;
    result_ = std::move(result);
    error_ = std::move(error);
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
        if (!error_) error_ = std::current_exception();
        hook_done_ = true;
      }
    } else {
      hook_done_ = true;
    }
    deliver();
  }

  void deliver() {
    if (!waiter_) return;
    if (!lines_.empty()) {
      std::string line = std::move(lines_.front());
      lines_.pop_front();
      queued_bytes_ -= line.size();
      waiter_(nullptr, std::move(line));
      step();  // reading may resume below the cap
      return;
    }
    if (finished()) waiter_(std::exchange(error_, nullptr), std::nullopt);
  }

  LineSplitter splitter_;
  StreamHooks hooks_;
  std::deque<std::string> lines_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t stdout_total_ = 0;
  bool stdout_eof_ = false;
  std::string buf_;
  Completion<std::optional<std::string>> waiter_;
  std::uint64_t waiter_ticket_ = 0;
  std::atomic<std::uint64_t> next_ticket_{1};
  bool ended_ = false;
  bool hook_done_ = false;
  std::exception_ptr error_;
  Result result_;
};

std::uint64_t next_line_ticket(const std::shared_ptr<LineStreamImpl>& impl) noexcept {
  return impl ? impl->take_ticket() : 0;
}

void next_line_start(const std::shared_ptr<LineStreamImpl>& impl, std::uint64_t ticket,
                     Completion<std::optional<std::string>> completion) {
  if (!impl) {
    completion(std::make_exception_ptr(std::logic_error("LineStream::async_next on a moved-from stream")),
               std::nullopt);
    return;
  }
  impl->next(ticket, std::move(completion));
}

void next_line_cancel(const std::weak_ptr<LineStreamImpl>& impl, std::uint64_t ticket) noexcept {
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

LineStream open_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                            const Options& options) {
  if (options.container)
    return detail::open_container_line_stream(ex, argv, options, detail::Face::open_line_stream);
  return detail::LineStreamAccess::open(ex, argv, options, {}, detail::Face::open_line_stream);
}

LineStream detail::LineStreamAccess::open(const asio::any_io_executor& ex,
                                          const std::vector<std::string>& argv, const Options& options,
                                          StreamHooks hooks, Face face) {
  if (options.container) throw std::logic_error("LineStreamAccess::open: on the host only");
  // The Supervisor keeps the tail of stderr; stdout is read here, so its
  // capture only ever sees bytes drained after the child exited.
  const StreamSettings settings = stream_settings(options, face);
  validate_command(argv, settings.engine.env, settings.engine.cwd);
  auto impl = std::make_shared<LineStreamImpl>(ex, settings.max_line_size, std::move(hooks));
  impl->spawn(argv, settings.engine);
  impl->start();
  return LineStream(std::move(impl));
}

}  // namespace bounded_subprocess
