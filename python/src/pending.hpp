// `_native.Pending`: the outcome of one native async operation, handed from
// the reactor's thread to asyncio.
//
// When the operation completes, an eventfd becomes readable: asyncio waits
// for it with loop.add_reader, so no Python thread is used per operation and
// any number of them may be in flight. `cancel()` emits the operation's Asio
// cancellation signal on the reactor's thread.
#pragma once

#include <pybind11/pybind11.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "bounded_subprocess/result.hpp"
#include "native.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

namespace py = pybind11;

/// What an operation can complete with.
using PendingValue = std::variant<std::monostate, Result, bool, std::optional<std::string>, int>;

class PendingState : public std::enable_shared_from_this<PendingState> {
 public:
  /// `error_filename`: the filename of the OSError raised for a
  /// std::system_error outcome (see raise_os_error).
  PendingState(Reactor& reactor, std::string error_filename);
  PendingState(const PendingState&) = delete;
  PendingState& operator=(const PendingState&) = delete;
  ~PendingState();

  /// Records the outcome and wakes the waiters. First call wins.
  void complete(std::exception_ptr error, PendingValue value) noexcept;

  /// A completion handler for an Asio operation, bound to this state's
  /// cancellation slot. Use on the reactor's thread only.
  template <class Convert>
  auto handler(Convert convert) {
    return asio::bind_cancellation_slot(signal_.slot(),
                                        [self = shared_from_this(), convert](auto&&... args) mutable {
                                          self->on_handler(convert(std::forward<decltype(args)>(args)...));
                                        });
  }

  /// Marks the start of the operation on the reactor's thread: registers it
  /// to be cancelled at interpreter exit.
  void started_on_reactor();

  Reactor& reactor() noexcept { return reactor_; }
  /// The eventfd, readable once done; -1 after result() was called.
  int fileno() const;
  bool done() const;
  /// Emits the cancellation signal on the reactor's thread (no-op once done).
  void cancel();
  /// Blocks until done. Call without the GIL.
  void wait();
  /// The value as a Python object, or raises the operation's error (OSError,
  /// ValueError, ...). Only once done().
  py::object result();

 private:
  void on_handler(std::pair<std::exception_ptr, PendingValue> outcome) noexcept;

  Reactor& reactor_;
  std::string error_filename_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  PendingValue value_;
  std::exception_ptr error_;
  int event_fd_ = -1;
  // Reactor thread only:
  asio::cancellation_signal signal_;
  bool completed_on_reactor_ = false;
  std::optional<std::uint64_t> shutdown_id_;
};

using PendingPtr = std::shared_ptr<PendingState>;

/// Converters for `handler`, from the completion's arguments. For `void(std::error_code, Result)` (async_run,
/// in a container too): the Python entry points keep their behaviour: a cancelled run is a Result (reason
/// "cancelled"), a container left behind is a RuntimeError with podman's
/// message, any other code an OSError.
struct RunOutcome {
  /// Where a start that failed after the call left its exception (the
  /// error raised then, rather than the bare code); may be null.
  std::shared_ptr<std::exception_ptr> start_error{};
  std::pair<std::exception_ptr, PendingValue> operator()(std::error_code ec, Result r) const;
};
/// For `void(std::error_code, std::string)` (LineStream::async_next): a
/// line; None at eof; any other code (a cancelled wait included) an error.
struct LineOutcome {
  std::pair<std::exception_ptr, PendingValue> operator()(std::error_code ec, std::string line) const;
};

/// Starts an operation on the reactor's thread and returns its Pending at
/// once: `initiate(PendingState&)` calls the async function with
/// `handler(...)`; an exception it throws becomes the Pending's outcome.
template <class Initiate>
PendingPtr start_pending(Reactor& reactor, std::string error_filename, Initiate initiate) {
  auto pending = std::make_shared<PendingState>(reactor, std::move(error_filename));
  reactor.post([pending, initiate = std::move(initiate)]() mutable {
    try {
      initiate(*pending);
      pending->started_on_reactor();
    } catch (...) {
      pending->complete(std::current_exception(), {});
    }
  });
  return pending;
}

/// Starts an operation from the calling thread (with the GIL released: the
/// spawn happens here) and returns its Pending: for the library's async
/// entry points whose work runs on an internal strand, so that they may be
/// initiated from any thread. Spawning here, not on the reactor's thread,
/// lets many runs spawn while the reactor serves the ones already started.
/// Bad options (std::invalid_argument) raise ValueError from this call;
/// any other exception `initiate` throws becomes the Pending's outcome.
template <class Initiate>
PendingPtr start_pending_here(Reactor& reactor, std::string error_filename, Initiate initiate) {
  auto pending = std::make_shared<PendingState>(reactor, std::move(error_filename));
  without_gil([&] {
    try {
      initiate(*pending);
    } catch (const std::invalid_argument&) {
      throw;
    } catch (...) {
      pending->complete(std::current_exception(), {});
      return;
    }
    reactor.post([pending] { pending->started_on_reactor(); });
  });
  return pending;
}

void bind_pending(py::module_& m);

}  // namespace bounded_subprocess::python
