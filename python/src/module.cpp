// The native module `bounded_subprocess._native`: the entry point that lets
// each entry point register itself, and the translation of C++ errors.
#include <pybind11/pybind11.h>

#include <bounded_subprocess/containment.hpp>

#include <system_error>

#include "interpreter_exit.hpp"
#include "interrupt.hpp"
#include "native.hpp"

#ifndef BOUNDED_SUBPROCESS_VERSION
#error "BOUNDED_SUBPROCESS_VERSION must be defined by the build"
#endif

namespace bs_py = bounded_subprocess::python;

PYBIND11_MODULE(_native, m) {
  m.attr("__version__") = BOUNDED_SUBPROCESS_VERSION;
  m.doc() =
      "Native part of bounded_subprocess: the C++ library's run, Interactive and "
      "podman entry points. Use the pure-Python modules of the package, not this one.";

  // std::invalid_argument already becomes ValueError (pybind11's default).
  // A std::system_error that escapes an entry point without a program name still
  // becomes the right OSError subclass.
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::system_error& e) {
      try {
        bs_py::raise_os_error(e, {});
      } catch (pybind11::error_already_set& set) {
        set.restore();
      }
    }
  });

  bs_py::bind_result(m);
  bs_py::bind_run(m);
  bs_py::bind_pending(m);
  bs_py::bind_async_run(m);
  bs_py::bind_interactive(m);
  bs_py::bind_line_stream(m);
  m.def("drop_warm_sandboxes", &bounded_subprocess::drop_warm_sandboxes,
        pybind11::call_guard<pybind11::gil_scoped_release>(),
        "End this process's idle warm sandboxes now and wait until they are gone.");

  // Interpreter exit: kill what is still running (interpreter_exit.hpp).
  bs_py::install_exit_hooks();
  // Signals during the sync waits run Python's handlers (interrupt.hpp).
  bs_py::record_main_thread();
}
