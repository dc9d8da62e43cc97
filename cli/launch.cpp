#include "launch.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "bounded_subprocess/async.hpp"

namespace bounded_subprocess::cli {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
// Chunks read from a source that never blocks (a file, /dev/zero) before the
// loop gets a turn (signals, timers, other jobs).
constexpr int kChunksPerTurn = 16;

}  // namespace

std::shared_ptr<Launch> Launch::start(const asio::any_io_executor& ex, RunSpec spec, Done done) {
  auto launch = std::make_shared<Launch>(ex, std::move(spec), std::move(done));
  launch->begin();
  return launch;
}

Launch::Launch(const asio::any_io_executor& ex, RunSpec spec, Done done)
    : ex_(ex),
      spec_(std::move(spec)),
      done_(std::move(done)),
      started_(std::chrono::steady_clock::now()),
      deadline_(ex) {}

void Launch::begin() {
  if (!spec_.stdin_file) {
    run_program(spec_.stdin_data, spec_.timeout);
    return;
  }
  const std::string what = "stdin file '" + *spec_.stdin_file + "'";
  try {
    source_ = std::make_unique<FdSource>(ex_, FdSource::open_input(*spec_.stdin_file, what));
  } catch (const std::system_error& e) {
    // Out of fds or memory is the host's state, not a bad option: the error
    // keeps its errno, so that a batch can wait and start the job later.
    const int err = e.code().value();
    const bool resources = err == EMFILE || err == ENFILE || err == ENOMEM;
    finish(resources ? std::current_exception() : std::make_exception_ptr(UsageError(e.what())), {});
    return;
  }
  deadline_.expires_after(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(spec_.timeout)));
  deadline_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->phase_ != Phase::reading) return;
    self->timed_out_ = true;
    self->source_->cancel();
    self->finish(nullptr, self->unstarted(EndReason::timeout));
  });
  read_more();
}

void Launch::read_more() {
  if (phase_ != Phase::reading) return;
  for (int turn = 0; turn < kChunksPerTurn; ++turn) {
    const std::size_t old = stdin_bytes_.size();
    stdin_bytes_.resize(old + kChunk);
    std::size_t got = 0;
    FdSource::Status status;
    try {
      status = source_->read_now(stdin_bytes_.data() + old, kChunk, &got);
    } catch (const std::system_error& e) {
      read_done(std::make_exception_ptr(
          UsageError("cannot read stdin file '" + *spec_.stdin_file + "': " + e.code().message())));
      return;
    }
    stdin_bytes_.resize(old + got);
    if (status == FdSource::Status::eof) {
      read_done(nullptr);
      return;
    }
    if (stdin_bytes_.size() > kStdinFileLimit) {
      read_done(std::make_exception_ptr(UsageError("stdin file '" + *spec_.stdin_file +
                                                   "' holds more than 64 MiB, the limit of a stdin file")));
      return;
    }
    if (status == FdSource::Status::would_block) {
      source_->async_wait_readable([self = shared_from_this()](std::error_code ec) {
        if (!ec) self->read_more();
      });
      return;
    }
  }
  asio::post(ex_, [self = shared_from_this()] { self->read_more(); });
}

void Launch::read_done(std::exception_ptr error) {
  deadline_.cancel();
  source_.reset();
  if (error) {
    finish(std::move(error), {});
    return;
  }
  const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double left = spec_.timeout - spent;
  if (left <= 0) {
    finish(nullptr, unstarted(EndReason::timeout));
    return;
  }
  run_program(std::move(stdin_bytes_), left);
}

namespace {

// A run's completion code as this command reports it: a cancelled run is a
// Result (reason cancelled); a container left behind is podman's message.
std::exception_ptr error_of(std::error_code ec, const Result& result) {
  if (!ec || ec == asio::error::operation_aborted) return nullptr;
  if (ec == errc::cleanup_failed) return std::make_exception_ptr(std::runtime_error(result.cleanup_error));
  return std::make_exception_ptr(std::system_error(ec));
}

}  // namespace

void Launch::run_program(std::optional<std::string> stdin_bytes, double timeout) {
  phase_ = Phase::running;
  const auto before = std::chrono::steady_clock::now() - started_;
  // A start may fail after the call (the library does not wait for the
  // program's exec where the run has namespaces of its own): its error,
  // as the call would have thrown it, comes before the completion.
  auto start_error = std::make_shared<std::exception_ptr>();
  auto on_done = asio::bind_cancellation_slot(
      cancel_run_.slot(),
      [self = shared_from_this(), before, start_error](std::error_code ec, Result result) {
        result.elapsed += before;
        if (*start_error) self->program_started_ = false;  // nothing ran: it may be tried again
        // Read before the move below (argument order is unspecified).
        std::exception_ptr error = *start_error ? *start_error : error_of(ec, result);
        self->finish(std::move(error), std::move(result));
      });
  try {
    detail::async_run_late_start(
        ex_, spec_.argv, to_options(spec_, std::move(stdin_bytes), timeout),
        [start_error](std::exception_ptr e) { *start_error = std::move(e); }, std::move(on_done));
    program_started_ = true;
  } catch (...) {
    // Bad options (std::invalid_argument), or the program (or podman) cannot
    // start (SpawnError): thrown before anything started.
    finish(std::current_exception(), {});
  }
}

void Launch::cancel() {
  switch (phase_) {
    case Phase::reading:
      deadline_.cancel();
      if (source_) source_->cancel();
      finish(nullptr, unstarted(EndReason::cancelled));
      break;
    case Phase::running: cancel_run_.emit(asio::cancellation_type::terminal); break;
    case Phase::finished: break;
  }
}

void Launch::finish(std::exception_ptr error, Result result) {
  if (phase_ == Phase::finished) return;
  phase_ = Phase::finished;
  // Never inline: begin() and cancel() may call this from their caller.
  asio::post(ex_,
             [self = shared_from_this(), error = std::move(error), result = std::move(result)]() mutable {
               self->done_(std::move(error), std::move(result));
             });
}

Result Launch::unstarted(EndReason reason) const {
  Result r;
  r.exit_code = -1;
  r.reason = reason;
  r.timeout = reason == EndReason::timeout;
  r.stdin_write_failed = true;  // none of the stdin data reached a program
  r.elapsed = std::chrono::steady_clock::now() - started_;
  return r;
}

}  // namespace bounded_subprocess::cli
