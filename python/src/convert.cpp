// Conversions between Python and the C++ library: keyword arguments to
// Options (the one converter every entry point uses), Result out,
// std::system_error to OSError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bounded_subprocess/result.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

namespace {

Containment parse_containment(const py::handle& value, const char* what) {
  const auto name = value.cast<std::string>();
  if (auto c = containment_from_string(name)) return *c;
  throw std::invalid_argument(std::string(what) +
                              " must be \"process_group\", \"subreaper\", \"pid_namespace\" or "
                              "\"cgroup\", not \"" +
                              name + "\"");
}

template <class T>
std::optional<T> optional_of(const py::handle& value) {
  if (value.is_none()) return std::nullopt;
  return value.cast<T>();
}

std::optional<Seconds> optional_seconds(const py::handle& value) {
  if (value.is_none()) return std::nullopt;
  return Seconds{value.cast<double>()};
}

Container& container_of(Options& o) {
  if (!o.container) o.container.emplace();
  return *o.container;
}

using Setter = void (*)(Options&, const py::handle&);

// Every keyword a native entry point takes: the fields of Options and Container.
const std::map<std::string, Setter, std::less<>>& setters() {
  static const std::map<std::string, Setter, std::less<>> table{
      {"timeout", [](Options& o, const py::handle& v) { o.timeout = optional_seconds(v); }},
      {"max_output_size",
       [](Options& o, const py::handle& v) { o.max_output_size = optional_of<std::size_t>(v); }},
      {"tail", [](Options& o, const py::handle& v) { o.tail = optional_of<bool>(v); }},
      {"max_line_size",
       [](Options& o, const py::handle& v) { o.max_line_size = optional_of<std::size_t>(v); }},
      {"env",
       [](Options& o, const py::handle& v) {
         if (auto env = optional_of<std::map<std::string, std::string>>(v))
           o.env = Environment(env->begin(), env->end());
       }},
      {"stdin_data", [](Options& o, const py::handle& v) { o.stdin_data = optional_of<std::string>(v); }},
      {"stdin_write_timeout",
       [](Options& o, const py::handle& v) { o.stdin_write_timeout = optional_seconds(v); }},
      {"cwd", [](Options& o, const py::handle& v) { o.cwd = optional_of<std::string>(v); }},
      {"memory_limit_mb",
       [](Options& o, const py::handle& v) { o.memory_limit_mb = optional_of<std::size_t>(v); }},
      {"memory_watchdog_interval",
       [](Options& o, const py::handle& v) { o.memory_watchdog_interval = optional_seconds(v); }},
      {"containment",
       [](Options& o, const py::handle& v) {
         if (!v.is_none()) o.containment = parse_containment(v, "containment");
       }},
      {"min_containment",
       [](Options& o, const py::handle& v) { o.min_containment = parse_containment(v, "min_containment"); }},
      {"image", [](Options& o, const py::handle& v) { container_of(o).image = v.cast<std::string>(); }},
      {"volumes",
       [](Options& o, const py::handle& v) { container_of(o).volumes = v.cast<std::vector<std::string>>(); }},
      {"entrypoint",
       [](Options& o, const py::handle& v) { container_of(o).entrypoint = optional_of<std::string>(v); }},
      {"podman_args",
       [](Options& o, const py::handle& v) {
         container_of(o).podman_args = v.cast<std::vector<std::string>>();
       }},
      {"podman_path",
       [](Options& o, const py::handle& v) { container_of(o).podman_path = v.cast<std::string>(); }},
      {"isolation",
       [](Options& o, const py::handle& v) {
         const auto d = v.cast<py::dict>();
         Isolation i;
         for (const auto& [key, value] : d) {
           const auto name = key.cast<std::string>();
           if (name == "network") {
             i.network = value.cast<std::string>() == "none" ? Network::none : Network::host;
           } else if (name == "read_only") {
             i.read_only = value.cast<bool>();
           } else if (name == "scratch_mb") {
             i.scratch_mb = value.cast<std::size_t>();
           } else if (name == "pids_limit") {
             i.pids_limit = value.cast<std::size_t>();
           } else if (name == "file_size_limit_mb") {
             i.file_size_limit_mb = value.cast<std::size_t>();
           } else if (name == "cpu_limit") {
             i.cpu_limit = Seconds{value.cast<double>()};
           } else if (name == "volumes") {
             for (const auto& t : value.cast<py::list>()) {
               const auto [source, target, ro] = t.cast<std::tuple<std::string, std::string, bool>>();
               i.volumes.push_back({.source = source, .target = target, .read_only = ro});
             }
           } else {
             throw py::type_error("unexpected isolation option '" + name + "'");
           }
         }
         o.isolation = std::move(i);
       }},
      {"cgroup_memory_limit_mb",
       [](Options& o, const py::handle& v) {
         container_of(o).cgroup_memory_limit_mb = optional_of<std::size_t>(v);
       }},
  };
  return table;
}

}  // namespace

py::frozenset limit_names(const LimitsHit& hit) {
  py::list names;
  if (hit.memory) names.append("memory");
  if (hit.pids) names.append("pids");
  if (hit.cpu) names.append("cpu");
  if (hit.file_size) names.append("file_size");
  if (hit.scratch) names.append("scratch");
  return py::frozenset(names);
}

Options to_options(const py::kwargs& kwargs) {
  Options options;
  for (const auto& [key, value] : kwargs) {
    const auto name = key.cast<std::string>();
    const auto it = setters().find(name);
    if (it == setters().end()) throw py::type_error("unexpected option '" + name + "'");
    it->second(options, value);
  }
  // An isolated run's memory limit is the kernel's too, where the machine
  // has a memory controller for it (the watchdog stays).
  if (options.isolation && options.memory_limit_mb && kernel_memory_limit_available())
    options.isolation->memory_limit_mb = options.memory_limit_mb;
  return options;
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

std::string failed_start_filename(const std::vector<std::string>& argv, const Options& options) {
  if (options.container) return options.container->podman_path;
  if (options.cwd) {
    struct stat st {};
    if (::stat(options.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        ::access(options.cwd->c_str(), X_OK) != 0)
      return *options.cwd;
  }
  return argv.empty() ? std::string{} : argv.front();
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
      .def_property_readonly("memory_enforcer",
                             [](const Result& r) { return std::string(to_string(r.memory_enforcer)); })
      .def_property_readonly("limits_hit", [](const Result& r) { return limit_names(r.limits_hit); })
      .def("__str__", &Result::str);
}

}  // namespace bounded_subprocess::python
