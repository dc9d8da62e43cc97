// `_native.Interactive`: the sync Interactive, with the GIL released while it
// waits, and locks that make the C++ object's thread rules hold whatever
// Python threads do: one write and one read_line may proceed at once; close
// waits for both.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "bounded_subprocess/interactive.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

namespace {

class InteractiveHandle;

std::mutex g_live_mu;
std::set<InteractiveHandle*> g_live;  // for close_all_interactives

InteractiveOptions make_options(std::size_t read_buffer_size,
                                std::optional<std::map<std::string, std::string>> env,
                                std::optional<std::string> cwd) {
  InteractiveOptions o;
  o.read_buffer_size = read_buffer_size;
  if (env) o.env = Environment(env->begin(), env->end());
  o.cwd = std::move(cwd);
  return o;
}

class InteractiveHandle {
 public:
  InteractiveHandle(std::vector<std::string> argv, InteractiveOptions options)
      : proc_(start(std::move(argv), std::move(options))) {
    std::lock_guard lock(g_live_mu);
    g_live.insert(this);
  }
  InteractiveHandle(const InteractiveHandle&) = delete;
  InteractiveHandle& operator=(const InteractiveHandle&) = delete;
  /// The C++ destructor kills the group and reaps the child unless closed.
  ~InteractiveHandle() {
    std::lock_guard lock(g_live_mu);
    g_live.erase(this);
  }

  bool write(const std::string& data, double timeout) {
    py::gil_scoped_release nogil;
    std::lock_guard lock(write_mu_);
    return proc_.write(data, Seconds{timeout});
  }

  py::object read_line(double timeout) {
    std::optional<std::string> line;
    {
      py::gil_scoped_release nogil;
      std::lock_guard lock(read_mu_);
      line = proc_.read_line(Seconds{timeout});
    }
    if (!line) return py::none();
    return py::bytes(line->data(), line->size());
  }

  int close(double nice_timeout) {
    py::gil_scoped_release nogil;
    std::scoped_lock lock(write_mu_, read_mu_);
    return proc_.close(Seconds{nice_timeout});
  }

  /// At exit: kill the child unless a call is in progress on another thread.
  void close_at_exit() {
    std::unique_lock w(write_mu_, std::try_to_lock);
    std::unique_lock r(read_mu_, std::try_to_lock);
    if (w.owns_lock() && r.owns_lock()) proc_.close(Seconds{0});
  }

  pid_t pid() const noexcept { return proc_.pid(); }
  bool is_running() const noexcept { return proc_.is_running(); }
  std::optional<int> exit_code() const noexcept { return proc_.exit_code(); }

 private:
  static Interactive start(std::vector<std::string> argv, InteractiveOptions options) {
    const std::string program = argv.empty() ? std::string{} : argv.front();
    RunArgs where;
    where.argv = {program};
    where.cwd = options.cwd;
    try {
      py::gil_scoped_release nogil;
      return Interactive(std::move(argv), std::move(options));
    } catch (const std::system_error& e) {
      raise_os_error(e, failed_start_filename(where));
    }
  }

  Interactive proc_;
  std::mutex write_mu_;
  std::mutex read_mu_;
};

}  // namespace

void close_all_interactives() {
  std::lock_guard lock(g_live_mu);
  for (InteractiveHandle* h : g_live) h->close_at_exit();
}

void bind_interactive(py::module_& m) {
  py::class_<InteractiveHandle>(m, "Interactive",
                                "The C++ Interactive: a child spoken to line by line.")
      .def(py::init([](std::vector<std::string> argv, std::size_t read_buffer_size,
                       std::optional<std::map<std::string, std::string>> env,
                       std::optional<std::string> cwd) {
             return std::make_unique<InteractiveHandle>(
                 std::move(argv), make_options(read_buffer_size, std::move(env), std::move(cwd)));
           }),
           py::arg("argv"), py::arg("read_buffer_size"), py::arg("env"), py::arg("cwd"))
      .def("write", &InteractiveHandle::write, py::arg("data"), py::arg("timeout"))
      .def("read_line", &InteractiveHandle::read_line, py::arg("timeout"))
      .def("close", &InteractiveHandle::close, py::arg("nice_timeout"))
      .def_property_readonly("pid", &InteractiveHandle::pid)
      .def_property_readonly("is_running", &InteractiveHandle::is_running)
      .def_property_readonly("exit_code", &InteractiveHandle::exit_code);
}

}  // namespace bounded_subprocess::python
