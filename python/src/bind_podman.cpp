// The container faces: `_native.start_podman_run` (async_podman_run on the
// reactor, completing a Pending) and `_native.open_podman_line_stream`.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>

#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/podman_async.hpp"
#include "line_stream.hpp"
#include "native.hpp"
#include "pending.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

namespace {

using OptEnv = std::optional<std::map<std::string, std::string>>;

/// The settings the two faces share, as the package passes them.
template <class Options>
void fill_common(Options& o, std::string image, double timeout, OptEnv env,
                 std::optional<std::string> stdin_data, double stdin_write_timeout,
                 std::vector<std::string> volumes, std::optional<std::string> cwd,
                 std::optional<std::size_t> memory_limit_mb, std::optional<std::string> entrypoint,
                 std::vector<std::string> podman_args, std::string podman_path,
                 const ContainmentArgs& containment) {
  apply_containment(o, containment);
  o.image = std::move(image);
  o.timeout = Seconds{timeout};
  if (env) o.env = Environment(env->begin(), env->end());
  o.stdin_data = std::move(stdin_data);
  o.stdin_write_timeout = Seconds{stdin_write_timeout};
  o.volumes = std::move(volumes);
  o.cwd = std::move(cwd);
  o.memory_limit_mb = memory_limit_mb;
  o.entrypoint = std::move(entrypoint);
  o.podman_args = std::move(podman_args);
  o.podman_path = std::move(podman_path);
}

PendingPtr start_podman_run(std::vector<std::string> argv, PodmanOptions options) {
  detail::validate_podman_run(argv, options);  // ValueError at once
  std::string filename = options.podman_path;  // before options moves below
  return start_pending(Reactor::instance(), std::move(filename),
                       [argv = std::move(argv), options = std::move(options)](PendingState& p) mutable {
                         async_podman_run(p.reactor().executor(), std::move(argv), std::move(options),
                                          p.handler(RunOutcome{}));
                       });
}

}  // namespace

void bind_podman(py::module_& m) {
  m.def(
      "start_podman_run",
      [](std::vector<std::string> argv, std::string image, double timeout, std::size_t max_output_size,
         bool tail, OptEnv env, std::optional<std::string> stdin_data, double stdin_write_timeout,
         std::vector<std::string> volumes, std::optional<std::string> cwd,
         std::optional<std::size_t> memory_limit_mb, std::optional<std::string> entrypoint,
         std::vector<std::string> podman_args, std::string podman_path,
         std::optional<std::string> containment, std::string min_containment) {
        PodmanOptions o;
        fill_common(o, std::move(image), timeout, std::move(env), std::move(stdin_data), stdin_write_timeout,
                    std::move(volumes), std::move(cwd), memory_limit_mb, std::move(entrypoint),
                    std::move(podman_args), std::move(podman_path),
                    containment_args(containment, min_containment));
        o.max_output_size = max_output_size;
        o.tail = tail;
        return start_podman_run(std::move(argv), std::move(o));
      },
      py::arg("argv"), py::arg("image"), py::arg("timeout"), py::arg("max_output_size"), py::arg("tail"),
      py::arg("env"), py::arg("stdin_data"), py::arg("stdin_write_timeout"), py::arg("volumes"),
      py::arg("cwd"), py::arg("memory_limit_mb"), py::arg("entrypoint"), py::arg("podman_args"),
      py::arg("podman_path"), py::arg("containment"), py::arg("min_containment"),
      "Starts argv in a podman container on the reactor; returns a Pending of the Result.");

  m.def(
      "open_podman_line_stream",
      [](std::vector<std::string> argv, std::string image, double timeout, std::size_t max_line_size,
         std::size_t stderr_max_output_size, OptEnv env, std::optional<std::string> stdin_data,
         double stdin_write_timeout, std::vector<std::string> volumes, std::optional<std::string> cwd,
         std::optional<std::size_t> memory_limit_mb, std::optional<std::string> entrypoint,
         std::vector<std::string> podman_args, std::string podman_path,
         std::optional<std::string> containment, std::string min_containment) {
        PodmanStreamOptions o;
        fill_common(o, std::move(image), timeout, std::move(env), std::move(stdin_data), stdin_write_timeout,
                    std::move(volumes), std::move(cwd), memory_limit_mb, std::move(entrypoint),
                    std::move(podman_args), std::move(podman_path),
                    containment_args(containment, min_containment));
        o.max_line_size = max_line_size;
        o.stderr_max_output_size = stderr_max_output_size;
        const std::string filename = o.podman_path;
        return open_stream(
            [&](const asio::any_io_executor& ex) { return open_podman_line_stream(ex, argv, o); }, filename);
      },
      py::arg("argv"), py::arg("image"), py::arg("timeout"), py::arg("max_line_size"),
      py::arg("stderr_max_output_size"), py::arg("env"), py::arg("stdin_data"),
      py::arg("stdin_write_timeout"), py::arg("volumes"), py::arg("cwd"), py::arg("memory_limit_mb"),
      py::arg("entrypoint"), py::arg("podman_args"), py::arg("podman_path"), py::arg("containment"),
      py::arg("min_containment"),
      "Starts argv in a podman container with its stdout read as lines; returns a LineStream.");
}

}  // namespace bounded_subprocess::python
