// `_native.start_run`: a bounded run driven by the library's `async_run` on
// the module's reactor, completing a `Pending` (see pending.hpp). The child
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

PendingPtr start_run(RunArgs args) {
  RunOptions options = to_run_options(args);
  // Bad input raises ValueError here, before anything starts.
  detail::validate_async_run(args.argv, options);
  std::string filename = failed_start_filename(args);  // before argv moves below
  return start_pending_here(Reactor::instance(), std::move(filename), [&](PendingState& p) {
    async_run(p.reactor().executor(), std::move(args.argv), std::move(options), p.handler(RunOutcome{}));
  });
}

}  // namespace

void bind_async_run(py::module_& m) {
  m.def(
      "start_run",
      [](std::vector<std::string> argv, double timeout, std::size_t max_output_size, bool tail,
         std::optional<std::map<std::string, std::string>> env, std::optional<std::string> stdin_data,
         double stdin_write_timeout, std::optional<std::string> cwd,
         std::optional<std::size_t> memory_limit_mb, double memory_watchdog_interval,
         std::optional<std::string> containment, std::string min_containment) {
        return start_run(RunArgs{std::move(argv), timeout, max_output_size, tail, std::move(env),
                                 std::move(stdin_data), stdin_write_timeout, std::move(cwd), memory_limit_mb,
                                 memory_watchdog_interval, containment_args(containment, min_containment)});
      },
      py::arg("argv"), py::arg("timeout"), py::arg("max_output_size"), py::arg("tail"), py::arg("env"),
      py::arg("stdin_data"), py::arg("stdin_write_timeout"), py::arg("cwd"), py::arg("memory_limit_mb"),
      py::arg("memory_watchdog_interval"), py::arg("containment"), py::arg("min_containment"),
      "Starts a bounded run on the module's reactor; returns a Pending whose result() "
      "is the Result. Raises ValueError for bad options at once; a program that cannot "
      "start raises OSError from result().");
}

}  // namespace bounded_subprocess::python
