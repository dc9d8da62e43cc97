// `_native.start_run`: a bounded run (on the host or in a container) driven
// by the library's `async_run` on the module's reactor, completing a `Pending` (see pending.hpp). The child
// is spawned in the calling thread (asyncio's, with the GIL released, as
// asyncio.create_subprocess_exec does), the rest happens on the reactor. Cancelling
// the Pending cancels the run: the group is killed, the child reaped, and the
// result says `reason == "cancelled"`.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>

#include "bounded_subprocess/async.hpp"
#include "native.hpp"
#include "pending.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

namespace {

PendingPtr start_run(std::vector<std::string> argv, Options options) {
  std::string filename = failed_start_filename(argv, options);  // before argv moves below
  // The options are checked and the child (in a container: the podman
  // client, after its scratch folder) is spawned here, on the calling thread
  // with the GIL released; bad options raise ValueError at once.
  // A start that fails after this call (the library does not wait for the
  // program's exec where the run has namespaces of its own) raises the same
  // error from result().
  auto start_error = std::make_shared<std::exception_ptr>();
  return start_pending_here(Reactor::instance(), std::move(filename), [&](PendingState& p) {
    detail::async_run_late_start(
        p.reactor().executor(), std::move(argv), std::move(options),
        [start_error](std::exception_ptr e) { *start_error = std::move(e); },
        p.handler(RunOutcome{start_error}));
  });
}

}  // namespace

void bind_async_run(py::module_& m) {
  m.def(
      "start_run",
      [](std::vector<std::string> argv, const py::kwargs& options) {
        return start_run(std::move(argv), to_options(options));
      },
      py::arg("argv"),
      "Starts a bounded run (keyword arguments: the fields of Options and Container; a container "
      "when `image` is given) on the module's reactor; returns a Pending whose result() is the "
      "Result. Raises ValueError for bad options at once; a program (or podman) that cannot "
      "start raises OSError from result().");
}

}  // namespace bounded_subprocess::python
