// Conversions between Python and the C++ library: options in, Result out,
// std::system_error to OSError.
#include <pybind11/pybind11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <system_error>

#include "bounded_subprocess/result.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

ContainmentArgs containment_args(const std::optional<std::string>& containment,
                                 const std::string& min_containment) {
  auto parse = [](const std::string& name, const char* what) {
    if (auto c = containment_from_string(name)) return *c;
    throw std::invalid_argument(std::string(what) +
                                " must be \"process_group\", \"subreaper\", \"pid_namespace\" or "
                                "\"cgroup\", not \"" +
                                name + "\"");
  };
  ContainmentArgs c;
  if (containment) c.containment = parse(*containment, "containment");
  c.min_containment = parse(min_containment, "min_containment");
  return c;
}

RunOptions to_run_options(const RunArgs& args) {
  RunOptions o;
  apply_containment(o, args.containment);
  o.timeout = Seconds{args.timeout};
  o.max_output_size = args.max_output_size;
  o.tail = args.tail;
  if (args.env) o.env = Environment(args.env->begin(), args.env->end());
  o.stdin_data = args.stdin_data;
  o.stdin_write_timeout = Seconds{args.stdin_write_timeout};
  o.cwd = args.cwd;
  o.memory_limit_mb = args.memory_limit_mb;
  o.memory_watchdog_interval = Seconds{args.memory_watchdog_interval};
  return o;
}

void raise_os_error(const std::system_error& error, const std::string& fallback_filename) {
  // A SpawnError says what failed: the program or the cwd (the filename, as
  // subprocess reports them), or the containment (the library's message).
  std::string program = fallback_filename;
  if (const auto* spawn = dynamic_cast<const SpawnError*>(&error)) {
    switch (spawn->subject()) {
      case SpawnError::Subject::program:
      case SpawnError::Subject::cwd: program = spawn->path(); break;
      case SpawnError::Subject::containment:
      case SpawnError::Subject::system: program.clear(); break;
    }
  }
  // OSError(errno, message, filename) picks the subclass from errno, as
  // PyErr_SetFromErrno does.
  py::object filename = py::none();
  if (!program.empty()) {
    PyObject* decoded =
        PyUnicode_DecodeFSDefaultAndSize(program.data(), static_cast<Py_ssize_t>(program.size()));
    if (decoded == nullptr) throw py::error_already_set();
    filename = py::reinterpret_steal<py::object>(decoded);
  }
  // The message and filename as subprocess gives them: "[Errno 2] No such
  // file or directory: 'prog'". Without a filename, the library's message.
  py::str message(program.empty() ? std::string(error.what()) : error.code().message());
  py::object exc = py::reinterpret_borrow<py::object>(PyExc_OSError)(error.code().value(), message, filename);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

std::string failed_start_filename(const RunArgs& args) {
  if (args.cwd) {
    struct stat st {};
    if (::stat(args.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(args.cwd->c_str(), X_OK) != 0)
      return *args.cwd;
  }
  return args.argv.empty() ? std::string{} : args.argv.front();
}

namespace {

double seconds(std::chrono::microseconds us) {
  return static_cast<double>(us.count()) / 1e6;
}

py::bytes to_bytes(const std::string& s) {
  return py::bytes(s.data(), s.size());
}

}  // namespace

void bind_result(py::module_& m) {
  py::class_<Result>(m, "Result",
                     "The C++ result of a run; the package turns it into "
                     "bounded_subprocess.util.Result.")
      .def_readonly("exit_code", &Result::exit_code)
      .def_readonly("timeout", &Result::timeout)
      .def_readonly("memory_limit_exceeded", &Result::memory_limit_exceeded)
      .def_readonly("stdin_write_failed", &Result::stdin_write_failed)
      .def_readonly("term_signal", &Result::term_signal)
      .def_property_readonly("reason", [](const Result& r) { return std::string(to_string(r.reason)); })
      .def_property_readonly("stdout", [](const Result& r) { return to_bytes(r.out.data); })
      .def_property_readonly("stderr", [](const Result& r) { return to_bytes(r.err.data); })
      .def_property_readonly("stdout_truncated", [](const Result& r) { return r.out.truncated; })
      .def_property_readonly("stderr_truncated", [](const Result& r) { return r.err.truncated; })
      .def_property_readonly("stdout_total_bytes", [](const Result& r) { return r.out.total_bytes; })
      .def_property_readonly("stderr_total_bytes", [](const Result& r) { return r.err.total_bytes; })
      .def_property_readonly("elapsed_seconds", [](const Result& r) { return r.elapsed.count(); })
      .def_property_readonly("user_cpu_seconds", [](const Result& r) { return seconds(r.usage.user_cpu); })
      .def_property_readonly("system_cpu_seconds",
                             [](const Result& r) { return seconds(r.usage.system_cpu); })
      .def_property_readonly("max_rss_kb", [](const Result& r) { return r.usage.max_rss_kb; })
      .def_readonly("watchdog_error", &Result::watchdog_error)
      .def_property_readonly("containment",
                             [](const Result& r) { return std::string(to_string(r.containment)); })
      .def("__str__", &Result::str);
}

}  // namespace bounded_subprocess::python
