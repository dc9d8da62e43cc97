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

Result run_blocking(RunArgs args) {
  RunOptions options = to_run_options(args);
  options.on_interrupt = run_python_signal_handlers;
  try {
    return without_gil([&] {
      LiveChild live;  // for the at-exit kill, while the run blocks this thread
      return detail::run_observed(args.argv, options, [&live](pid_t direct_pid, Containment c) {
        live = LiveChild(direct_pid, c);
        // A signal that came while the child was being started interrupted
        // no wait: its handler runs now (it may abandon the run) rather
        // than after the run.
        run_python_signal_handlers();
      });
    });
  } catch (const std::system_error& e) {
    raise_os_error(e, failed_start_filename(args));
  }
}

}  // namespace

void bind_run(py::module_& m) {
  m.def(
      "run",
      [](std::vector<std::string> argv, double timeout, std::size_t max_output_size, bool tail,
         std::optional<std::map<std::string, std::string>> env, std::optional<std::string> stdin_data,
         double stdin_write_timeout, std::optional<std::string> cwd,
         std::optional<std::size_t> memory_limit_mb, double memory_watchdog_interval,
         std::optional<std::string> containment, std::string min_containment) {
        return run_blocking(RunArgs{std::move(argv), timeout, max_output_size, tail, std::move(env),
                                    std::move(stdin_data), stdin_write_timeout, std::move(cwd),
                                    memory_limit_mb, memory_watchdog_interval,
                                    containment_args(containment, min_containment)});
      },
      py::arg("argv"), py::arg("timeout"), py::arg("max_output_size"), py::arg("tail"), py::arg("env"),
      py::arg("stdin_data"), py::arg("stdin_write_timeout"), py::arg("cwd"), py::arg("memory_limit_mb"),
      py::arg("memory_watchdog_interval"), py::arg("containment"), py::arg("min_containment"),
      "Runs argv (bytes) to completion with bounds; releases the GIL while it waits. "
      "Raises ValueError for bad options and OSError when the program cannot start.");
}

}  // namespace bounded_subprocess::python
