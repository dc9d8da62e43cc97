// The native module `bounded_subprocess._native`: the entry point that lets
// each face register itself, and the translation of C++ errors.
#include <pybind11/pybind11.h>

#include <system_error>

#include "live_children.hpp"
#include "native.hpp"
#include "reactor.hpp"

#ifndef BOUNDED_SUBPROCESS_VERSION
#error "BOUNDED_SUBPROCESS_VERSION must be defined by the build"
#endif

namespace bs_py = bounded_subprocess::python;

PYBIND11_MODULE(_native, m) {
  m.attr("__version__") = BOUNDED_SUBPROCESS_VERSION;
  m.doc() =
      "Native part of bounded_subprocess: the C++ library's run, Interactive and "
      "podman faces. Use the pure-Python modules of the package, not this one.";

  // std::invalid_argument already becomes ValueError (pybind11's default).
  // A std::system_error that escapes a face without a program name still
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
  bs_py::bind_async_interactive(m);
  bs_py::bind_line_stream(m);
  bs_py::bind_podman(m);

  // Interpreter exit, in two steps. The atexit hook (after the non-daemon
  // threads are joined) cancels what runs on the reactor and kills every
  // live child, even those a daemon thread is blocked on, without taking
  // any object's lock. Py_AtExit, at the very end of finalization when no
  // Python code runs any more, does it again and from then on kills any
  // child at birth: a daemon thread that started one meanwhile leaves
  // nothing behind. A forked child kills only children it started itself.
  bs_py::install_live_children_fork_handlers();
  bs_py::Reactor::install_fork_handlers();
  pybind11::module_::import("atexit").attr("register")(pybind11::cpp_function([] {
    bs_py::without_gil([] {
      bs_py::kill_live_children(false);
      bs_py::Reactor::shutdown_all();
    });
  }));
  Py_AtExit([] {
    bs_py::kill_live_children(true);
    bs_py::Reactor::shutdown_all();
  });
}
