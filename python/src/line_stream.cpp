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
      [](std::vector<std::string> argv, double timeout, std::size_t max_line_size,
         std::size_t stderr_max_output_size, std::optional<std::map<std::string, std::string>> env,
         std::optional<std::string> stdin_data, double stdin_write_timeout, std::optional<std::string> cwd,
         std::optional<std::size_t> memory_limit_mb, double memory_watchdog_interval,
         std::optional<std::string> containment, std::string min_containment) {
        StreamOptions o;
        apply_containment(o, containment_args(containment, min_containment));
        o.timeout = Seconds{timeout};
        o.max_line_size = max_line_size;
        o.stderr_max_output_size = stderr_max_output_size;
        if (env) o.env = Environment(env->begin(), env->end());
        o.stdin_data = std::move(stdin_data);
        o.stdin_write_timeout = Seconds{stdin_write_timeout};
        o.cwd = cwd;
        o.memory_limit_mb = memory_limit_mb;
        o.memory_watchdog_interval = Seconds{memory_watchdog_interval};
        RunArgs where;
        where.argv = {argv.empty() ? std::string{} : argv.front()};
        where.cwd = std::move(cwd);
        return open_stream([&](const asio::any_io_executor& ex) { return open_line_stream(ex, argv, o); },
                           failed_start_filename(where));
      },
      py::arg("argv"), py::arg("timeout"), py::arg("max_line_size"), py::arg("stderr_max_output_size"),
      py::arg("env"), py::arg("stdin_data"), py::arg("stdin_write_timeout"), py::arg("cwd"),
      py::arg("memory_limit_mb"), py::arg("memory_watchdog_interval"), py::arg("containment"),
      py::arg("min_containment"), "Starts argv with its stdout read as lines; returns a LineStream.");
}

}  // namespace bounded_subprocess::python
