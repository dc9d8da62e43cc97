// Shared declarations of the native module `bounded_subprocess._native`.
//
// The module is a thin layer: it converts Python arguments (already checked
// and encoded to bytes by the pure-Python package) into the C++ options,
// releases the GIL while the C++ library waits, and turns C++ errors into the
// exceptions Python's subprocess raises.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "interpreter_exit.hpp"

namespace bounded_subprocess::python {

namespace py = pybind11;

/// Calls `f()` with the GIL released and returns its result (or rethrows
/// its exception) with the GIL held again. Once the interpreter is exiting,
/// a thread other than the exiting one parks for good here instead of
/// touching Python again (see interpreter_exit.hpp).
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
  using R = decltype(f());
  PyThreadState* state = PyEval_SaveThread();
  exit_gate::enter();
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
    exit_gate::leave();
    PyEval_RestoreThread(state);
    exit_gate::returned();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<R> value;
    try {
      value.emplace(f());
    } catch (...) {
      error = std::current_exception();
    }
    exit_gate::leave();
    PyEval_RestoreThread(state);
    exit_gate::returned();
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
}

/// The one conversion of the native entry points' keyword arguments (names as in
/// `Options` and `Container`, values as the package passes them: strings as
/// bytes, durations as float seconds, None for "not given") into `Options`.
/// A container field (image, volumes, entrypoint, podman_args, podman_path,
/// cgroup_memory_limit_mb) makes the run a container's. No validation of the
/// values (the library validates); an unknown name is a TypeError, a bad
/// containment name a ValueError naming the argument.
Options to_options(const py::kwargs& kwargs);

/// Raises the OSError subclass Python's subprocess would raise for `error`
/// (FileNotFoundError for ENOENT, PermissionError for EACCES, ...), with the
/// errno, its strerror text and a filename: the program or cwd a SpawnError
/// names, else `fallback_filename` (bytes, decoded with the filesystem
/// encoding). Without one (a containment not available here, a resource of
/// the host), the library's message. Needs the GIL. Never returns.
[[noreturn]] void raise_os_error(const std::system_error& error, const std::string& fallback_filename);

/// The file a failed start is about, as subprocess reports it, for errors
/// that are not SpawnErrors: podman for a container, else the cwd when it
/// is given and is not a usable directory, else the program (argv[0]).
std::string failed_start_filename(const std::vector<std::string>& argv, const Options& options);

// Each entry point registers its classes and functions.
/// The names of the limits hit ("memory", "pids", "cpu", "file_size",
/// "scratch"), as Result.limits_hit gives them.
py::frozenset limit_names(const LimitsHit& hit);

void bind_result(py::module_& m);
void bind_run(py::module_& m);
void bind_async_run(py::module_& m);
void bind_pending(py::module_& m);
void bind_interactive(py::module_& m);
void bind_line_stream(py::module_& m);

}  // namespace bounded_subprocess::python
