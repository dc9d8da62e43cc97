// `_native.LineStream`: a library LineStream (a local process, or a podman
// container) owned from Python. Its member functions run on the reactor's
// thread; `next()` returns a Pending of the next line (bytes) or None at the
// end. Destroying it (or interpreter exit) stops the stream as the library
// documents: the group is killed, the child reaped, a container removed.
#pragma once

#include <pybind11/pybind11.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "bounded_subprocess/async.hpp"
#include "native.hpp"
#include "pending.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

class LineStreamHandle {
 public:
  /// Takes a stream already opened on `reactor`'s executor.
  LineStreamHandle(Reactor& reactor, LineStream stream);
  LineStreamHandle(const LineStreamHandle&) = delete;
  LineStreamHandle& operator=(const LineStreamHandle&) = delete;
  ~LineStreamHandle();

  /// A Pending of the next line (bytes), or None once the stream has ended
  /// (and, for podman, the container is removed). Cancelling it cancels only
  /// the wait: no line is lost.
  PendingPtr next();
  /// Stops the stream (SIGKILL to the group); the end is still reported by
  /// `next()` once the cleanup is done. Idempotent.
  void close();
  pid_t pid() const noexcept { return pid_; }

 private:
  struct Box {
    std::optional<LineStream> stream;
    std::optional<std::uint64_t> shutdown_id;
  };
  Reactor& reactor_;
  std::shared_ptr<Box> box_;
  pid_t pid_;
};

/// Opens a stream with the GIL released; std::system_error becomes OSError
/// naming `filename`.
template <class Open>
std::unique_ptr<LineStreamHandle> open_stream(Open&& open, const std::string& filename) {
  Reactor& reactor = Reactor::instance();
  std::optional<LineStream> stream;
  try {
    without_gil([&] { stream.emplace(open(reactor.executor())); });
  } catch (const std::system_error& e) {
    raise_os_error(e, filename);
  }
  return std::make_unique<LineStreamHandle>(reactor, std::move(*stream));
}

void bind_line_stream(py::module_& m);

}  // namespace bounded_subprocess::python
