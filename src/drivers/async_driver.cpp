#include "drivers/async_driver.hpp"

#include <poll.h>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <cerrno>
#include <utility>

#include "drivers/memory_watchdog.hpp"

namespace bounded_subprocess::detail {

AsyncDriver::AsyncDriver(const asio::any_io_executor& ex)
    : strand_(asio::make_strand(ex)),
      in_(strand_),
      out_(strand_),
      err_(strand_),
      pidfd_(strand_),
      start_(strand_),
      timer_(strand_) {}

AsyncDriver::~AsyncDriver() {
  if (watchdog_ != nullptr) watchdog_->remove(watchdog_key_);
  // Asio lets go of every fd first; then the Supervisor (if the run is not
  // over) kills the group, reaps the child and closes its fds.
  release_all();
  sup_.reset();
}

void AsyncDriver::spawn(const std::vector<std::string>& argv, const EngineOptions& options) {
  spawn(argv, options, capture_sink(options), capture_sink(options));
}

void AsyncDriver::spawn(const std::vector<std::string>& argv, const EngineOptions& options, Sink out,
                        Sink err) {
  sup_.emplace(argv, options, std::move(out), std::move(err), static_cast<FdCloseObserver*>(this));
  pid_ = sup_->pid();
  try {
    if (sup_->stdin_fd() >= 0) in_.desc.assign(sup_->stdin_fd());
    if (sup_->stdout_fd() >= 0) out_.desc.assign(sup_->stdout_fd());
    if (sup_->stderr_fd() >= 0) err_.desc.assign(sup_->stderr_fd());
    pidfd_.desc.assign(sup_->pidfd());
    if (sup_->start_fd() >= 0) start_.desc.assign(sup_->start_fd());
  } catch (...) {
    release_all();
    sup_.reset();  // kills and reaps
    throw;
  }
}

void AsyncDriver::start() {
  if (sup_->memory_limit_kb()) {
    watchdog_ = &MemoryWatchdog::of(strand_.get_inner_executor());
    std::weak_ptr<AsyncDriver> weak = weak_from_this();
    watchdog_key_ =
        watchdog_->add(strand_.get_inner_executor(), sup_->members(), sup_->memory_watchdog_interval(),
                       [weak, strand = strand_](const MemorySample& sample) {
                         asio::post(strand, [weak, sample] {
                           auto self = weak.lock();
                           if (!self || self->finished_) return;
                           self->sup_->on_memory_sample(sample);
                           self->step();
                         });
                       });
  }
  asio::post(strand_, [self = shared_from_this()] { self->step(); });
}

void AsyncDriver::cancel_async() noexcept {
  try {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->finished_) return;
      self->sup_->cancel();
      self->step();
    });
  } catch (...) {
    // Out of memory: nothing sensible to do; the deadline still bounds the run.
  }
}

void AsyncDriver::before_close(int fd) noexcept {
  for (Watch* w : {&in_, &out_, &err_, &pidfd_, &start_}) {
    if (w->desc.is_open() && w->desc.native_handle() == fd) {
      // Deregisters from the reactor; a pending wait completes with
      // operation_aborted. The Supervisor then closes the fd itself.
      try {
        w->desc.release();
      } catch (...) {
        // release() reports nothing in practice; the fd stays ours either way.
      }
    }
  }
}

void AsyncDriver::release_all() noexcept {
  for (Watch* w : {&in_, &out_, &err_, &pidfd_, &start_}) {
    if (w->desc.is_open()) {
      try {
        w->desc.release();
      } catch (...) {
        // release() reports nothing in practice; the fd stays ours either way.
      }
    }
  }
}

void AsyncDriver::arm(Watch& w, asio::posix::stream_descriptor::wait_type type,
                      void (AsyncDriver::*on_ready)()) {
  if (w.waiting || !w.desc.is_open()) return;
  w.waiting = true;
  w.desc.async_wait(type, [self = shared_from_this(), &w, on_ready](const std::error_code& ec) {
    w.waiting = false;
    if (self->finished_) return;
    if (ec != asio::error::operation_aborted) {
      try {
        ((*self).*on_ready)();
      } catch (...) {
        self->error_ = std::current_exception();
        self->kill_and_finish_now();
        return;
      }
    }
    self->step();
  });
}

void AsyncDriver::arm_timer() {
  const Clock::time_point due = sup_->next_deadline();
  if (due == Clock::time_point::max()) {
    if (timer_waiting_) {
      ++timer_gen_;
      timer_waiting_ = false;
      timer_.cancel();
    }
    return;
  }
  if (timer_waiting_ && due == timer_due_) return;
  timer_due_ = due;
  timer_waiting_ = true;
  const std::uint64_t gen = ++timer_gen_;
  timer_.expires_at(due);  // cancels an older wait, whose handler sees an old gen
  timer_.async_wait([self = shared_from_this(), gen](const std::error_code& ec) {
    if (gen != self->timer_gen_) return;
    self->timer_waiting_ = false;
    if (self->finished_) return;
    if (!ec) {
      try {
        self->sup_->on_time(Clock::now());
      } catch (...) {
        self->error_ = std::current_exception();
        self->kill_and_finish_now();
        return;
      }
    }
    self->step();
  });
}

void AsyncDriver::step() {
  if (finished_) return;
  if (sup_->done()) {
    finish();
    return;
  }
  try {
    if (sup_->start_fd() >= 0) {
      // Nothing of the program can happen before it has exec'd; a kill
      // (deadline, cancel) reaches it once it has.
      arm(start_, asio::posix::stream_descriptor::wait_read, &AsyncDriver::start_reported);
      arm_timer();
      return;
    }
    on_progress();
    arm(in_, asio::posix::stream_descriptor::wait_write, &AsyncDriver::stdin_ready);
    if (sup_->want_stdout()) arm(out_, asio::posix::stream_descriptor::wait_read, &AsyncDriver::stdout_ready);
    if (sup_->want_stderr()) arm(err_, asio::posix::stream_descriptor::wait_read, &AsyncDriver::stderr_ready);
    arm(pidfd_, asio::posix::stream_descriptor::wait_read, &AsyncDriver::child_exited);
    arm_timer();
  } catch (...) {
    // Could not wait (out of memory, say): end the run rather than hang.
    error_ = std::current_exception();
    kill_and_finish_now();
  }
}

void AsyncDriver::start_reported() {
  // The Child keeps the fd (its init's channel), and closes it if the start
  // failed: Asio lets go of it first.
  try {
    start_.desc.release();
  } catch (...) {
    // release() reports nothing in practice; the fd stays the Child's either way.
  }
  try {
    sup_->on_start_report();
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    stop_waiting();
    on_start_failed(error);
    return;
  }
  pid_ = sup_->pid();
}

void AsyncDriver::kill_and_finish_now() {
  if (finished_) return;
  if (!sup_->done()) {
    sup_->cancel();
    // The group was just sent SIGKILL: the child is gone within
    // milliseconds. Wait for its pidfd (an event, not a sleep), again
    // while the rest of the run is being ended.
    for (int fd = sup_->pidfd(); fd >= 0 && !sup_->done(); fd = sup_->pidfd()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) break;
      try {
        child_exited();
      } catch (...) {
        if (!error_) error_ = std::current_exception();
        break;
      }
    }
  }
  if (sup_->done()) {
    finish();
  } else {
    // Not expected: the engine could not conclude. Its destructor kills and
    // reaps; report what we know.
    finished_ = true;
    if (watchdog_ != nullptr) watchdog_->remove(std::exchange(watchdog_key_, 0));
    release_all();
    sup_->abandon();  // kills and reaps; its sinks stay readable
    Result r;
    r.reason = EndReason::cancelled;
    on_finished(error_, std::move(r));
  }
}

void AsyncDriver::stop_waiting() {
  finished_ = true;
  if (watchdog_ != nullptr) watchdog_->remove(std::exchange(watchdog_key_, 0));
  ++timer_gen_;
  timer_waiting_ = false;
  timer_.cancel();
  release_all();
}

void AsyncDriver::finish() {
  stop_waiting();
  on_finished(error_, sup_->take_result());
}

}  // namespace bounded_subprocess::detail
