// The native module `bounded_subprocess._native`: the entry point that lets
// each face register itself, and the translation of C++ errors.
#include <pybind11/pybind11.h>

#include <system_error>

#include "native.hpp"
#include "reactor.hpp"

namespace bs_py = bounded_subprocess::python;

PYBIND11_MODULE(_native, m) {
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

  // At interpreter exit, cancel what is still running on the reactor and kill
  // the children of Interactive objects still alive, so nothing outlives us.
  pybind11::module_::import("atexit").attr("register")(pybind11::cpp_function(
      [] { bs_py::Reactor::shutdown_all(); bs_py::close_all_interactives(); },
      pybind11::call_guard<pybind11::gil_scoped_release>()));
}
