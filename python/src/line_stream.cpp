// `_native.LineStream` and `_native.open_line_stream` (see line_stream.hpp).
#include "line_stream.hpp"

#include <pybind11/stl.h>

#include <exception>
#include <system_error>

#include "native.hpp"

namespace bounded_subprocess::python {

LineStreamHandle::LineStreamHandle(Reactor& reactor, LineStream stream)
    : reactor_(reactor), box_(std::make_shared<Box>()), pid_(stream.pid()) {
  box_->stream.emplace(std::move(stream));
  reactor_.post([box = box_, r = &reactor_] {
    std::weak_ptr<Box> weak = box;
    box->shutdown_id = r->remember([weak] {
      if (auto b = weak.lock()) {
        b->shutdown_id.reset();
        if (b->stream) b->stream->close();
      }
    });
  });
}

LineStreamHandle::~LineStreamHandle() {
  // In a forked copy of the process the stream is the parent's: left alone.
  if (!reactor_.owned_by_this_process()) {
    new std::shared_ptr<Box>(std::move(box_));  // never destroyed, on purpose
    return;
  }
  // Destroyed on the reactor's thread: kills the group, and a podman stream
  // then removes its container asynchronously there.
  reactor_.post([box = std::move(box_), r = &reactor_] {
    if (box->shutdown_id) r->forget(*box->shutdown_id);
    box->stream.reset();
  });
}

PendingPtr LineStreamHandle::next() {
  return start_pending(reactor_, std::string{}, [box = box_](PendingState& p) {
    if (!box->stream) throw std::logic_error("LineStream: the stream is gone");
    box->stream->async_next(p.handler(LineOutcome{}));
  });
}

void LineStreamHandle::close() {
  reactor_.post([box = box_] {
    if (box->stream) box->stream->close();
  });
}

void bind_line_stream(py::module_& m) {
  py::class_<LineStreamHandle>(m, "LineStream", "A stream of stdout lines; next() returns a Pending.")
      .def("next", &LineStreamHandle::next)
      .def("close", &LineStreamHandle::close)
      .def_property_readonly("pid", &LineStreamHandle::pid);

  m.def(
      "open_line_stream",
      [](const std::vector<std::string>& argv, const py::kwargs& kwargs) {
        const Options options = to_options(kwargs);
        return open_stream(
            [&](const asio::any_io_executor& ex) { return open_line_stream(ex, argv, options); },
            failed_start_filename(argv, options));
      },
      py::arg("argv"),
      "Starts argv (keyword arguments: the fields of Options and Container; in a container when "
      "`image` is given) with its stdout read as lines; returns a LineStream.");
}

}  // namespace bounded_subprocess::python
