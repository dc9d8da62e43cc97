// `_native.run`: the synchronous bounded run, with the GIL released while the
// C++ library waits, and Python's signal handlers run when a signal
// interrupts that wait (a handler that raises abandons the run).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <system_error>

#include "bounded_subprocess/detail/run_observed.hpp"
#include "bounded_subprocess/run.hpp"
#include "interrupt.hpp"
#include "live_children.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

namespace {

Result run_blocking(const std::vector<std::string>& argv, Options options) {
  options.on_interrupt = run_python_signal_handlers;
  try {
    return without_gil([&] {
      LiveChild live;  // for the at-exit kill, while the run blocks this thread
      return detail::run_observed(argv, options, [&live](pid_t direct_pid, Containment c) {
        live = LiveChild(direct_pid, c);
        // A signal that came while the child was being started interrupted
        // no wait: its handler runs now (it may abandon the run) rather
        // than after the run.
        run_python_signal_handlers();
      });
    });
  } catch (const std::system_error& e) {
    raise_os_error(e, failed_start_filename(argv, options));
  }
}

}  // namespace

void bind_run(py::module_& m) {
  m.def(
      "run",
      [](const std::vector<std::string>& argv, const py::kwargs& options) {
        return run_blocking(argv, to_options(options));
      },
      py::arg("argv"),
      "Runs argv (bytes) to completion with bounds (keyword arguments: the fields of Options); "
      "releases the GIL while it waits. Raises ValueError for bad options and OSError when "
      "the program cannot start.");
}

}  // namespace bounded_subprocess::python
