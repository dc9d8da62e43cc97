// `_native.Pending` (see pending.hpp).
#include "pending.hpp"

#include <asio/error.hpp>

#include <pybind11/stl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "bounded_subprocess/error.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

PendingState::PendingState(Reactor& reactor, std::string error_filename)
    : reactor_(reactor), error_filename_(std::move(error_filename)) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  reactor_.begin_op();
}

PendingState::~PendingState() {
  if (event_fd_ >= 0) ::close(event_fd_);
  // In a forked copy of the process the reactor (and its lock) is the
  // parent's: nothing to account for.
  if (!reactor_.owned_by_this_process()) return;
  bool was_done = false;
  {
    std::lock_guard lock(mu_);
    was_done = done_;
  }
  if (!was_done) reactor_.end_op();
}

void PendingState::complete(std::exception_ptr error, PendingValue value) noexcept {
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    error_ = std::move(error);
    value_ = std::move(value);
    done_ = true;
    // Under the lock, so that result() cannot close the fd meanwhile. Cannot
    // fail short of a counter overflow; done() is the source of truth.
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(event_fd_, &one, sizeof one);
  }
  cv_.notify_all();
  reactor_.end_op();
}

void PendingState::on_handler(std::pair<std::exception_ptr, PendingValue> outcome) noexcept {
  completed_on_reactor_ = true;
  if (shutdown_id_) reactor_.forget(*std::exchange(shutdown_id_, std::nullopt));
  complete(std::move(outcome.first), std::move(outcome.second));
}

void PendingState::started_on_reactor() {
  if (completed_on_reactor_) return;
  std::weak_ptr<PendingState> weak = shared_from_this();
  shutdown_id_ = reactor_.remember([weak] {
    if (auto self = weak.lock()) {
      self->shutdown_id_.reset();
      if (!self->completed_on_reactor_) self->signal_.emit(asio::cancellation_type::terminal);
    }
  });
}

int PendingState::fileno() const {
  std::lock_guard lock(mu_);
  return event_fd_;
}

bool PendingState::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

void PendingState::cancel() {
  if (done()) return;
  reactor_.post([self = shared_from_this()] {
    if (!self->completed_on_reactor_) self->signal_.emit(asio::cancellation_type::terminal);
  });
}

void PendingState::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
}

py::object PendingState::result() {
  std::unique_lock lock(mu_);
  if (!done_) throw std::logic_error("Pending.result() before the operation completed");
  // The fd is no longer needed: close it now rather than when the last
  // reference goes (a traceback may keep this object alive for long).
  if (event_fd_ >= 0) ::close(std::exchange(event_fd_, -1));
  if (error_) {
    std::exception_ptr e = error_;
    lock.unlock();
    try {
      std::rethrow_exception(e);
    } catch (const std::system_error& se) {
      raise_os_error(se, error_filename_);
    }
  }
  return std::visit(
      [](const auto& v) -> py::object {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return py::none();
        } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
          if (!v) return py::none();
          return py::bytes(v->data(), v->size());
        } else {
          return py::cast(v);
        }
      },
      value_);
}

std::pair<std::exception_ptr, PendingValue> RunOutcome::operator()(std::error_code ec, Result r) const {
  std::exception_ptr error;
  if (start_error && *start_error) {
    error = *start_error;
  } else if (ec == errc::cleanup_failed) {
    error = std::make_exception_ptr(std::runtime_error(r.cleanup_error));
  } else if (ec && ec != asio::error::operation_aborted) {
    error = std::make_exception_ptr(std::system_error(ec));
  }
  return {std::move(error), PendingValue(std::in_place_type<Result>, std::move(r))};
}

std::pair<std::exception_ptr, PendingValue> LineOutcome::operator()(std::error_code ec,
                                                                    std::string line) const {
  using Line = std::optional<std::string>;
  if (!ec) return {nullptr, PendingValue(std::in_place_type<Line>, std::move(line))};
  if (ec == asio::error::eof) return {nullptr, PendingValue(std::in_place_type<Line>, std::nullopt)};
  return {std::make_exception_ptr(std::system_error(ec)),
          PendingValue(std::in_place_type<Line>, std::nullopt)};
}

void bind_pending(py::module_& m) {
  py::class_<PendingState, PendingPtr>(
      m, "Pending", "The outcome of a native async operation: fileno() becomes readable when done.")
      .def("fileno", &PendingState::fileno)
      .def("done", &PendingState::done)
      .def("cancel", &PendingState::cancel,
           "Cancels the operation (on the reactor's thread); it still completes, "
           "after cleaning up.")
      .def("wait", [](PendingState& p) { without_gil([&] { p.wait(); }); })
      .def("result", &PendingState::result);
}

}  // namespace bounded_subprocess::python
