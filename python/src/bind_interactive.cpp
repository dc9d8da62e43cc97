// `_native.Interactive`: the sync Interactive, with the GIL released while it
// waits and Python's signal handlers run when a signal interrupts a wait (a
// handler that raises abandons the call; the child stays with the object).
// The C++ object lets one write and one read_line proceed at once, and a
// close from another thread wakes both and waits for them. The locks here
// only keep the steps that run with the GIL held (the fast path of
// read_line, the asyncio entry point's steps) from blocking on a C++ call in
// progress. The child is in the registry of live children, so that
// interpreter exit kills it even while a call is in progress.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bounded_subprocess/interactive.hpp"
#include "interactive/interactive_access.hpp"
#include "interrupt.hpp"
#include "live_children.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

namespace {

// The non-blocking steps, which the C++ API does not offer.
using Access = detail::InteractiveAccess;

class InteractiveHandle {
 public:
  InteractiveHandle(std::vector<std::string> argv, Options options)
      : proc_(start(std::move(argv), std::move(options))),
        owner_(::getpid()),
        live_(Access::kill_pidfd(*proc_), proc_->pid(), proc_->containment()) {}
  InteractiveHandle(const InteractiveHandle&) = delete;
  InteractiveHandle& operator=(const InteractiveHandle&) = delete;
  /// The C++ destructor kills the group and reaps the child unless closed;
  /// in a forked copy of the process the child is not ours, so the object
  /// is left as it is (its fds close when the process ends).
  ~InteractiveHandle() {
    live_.reset();
    if (::getpid() != owner_) static_cast<void>(proc_.release());
  }

  /// The original Python library's `write` returns a bool: true once every
  /// byte is written, false for any failure (the C++ result's error).
  bool write(std::string_view data, double timeout) {
    return without_gil([&] {
      std::lock_guard lock(write_mu_);
      return static_cast<bool>(proc_->write(data, Seconds{timeout}));
    });
  }

  py::object read_line(double timeout) {
    {
      // From Python the line is often there already (the child answered
      // while we were writing): take it without a wait or a GIL hand-off,
      // unless a call in progress holds the C++ object's read lock.
      std::unique_lock closing(close_mu_, std::try_to_lock);
      std::unique_lock lock(read_mu_, std::try_to_lock);
      if (closing.owns_lock() && lock.owns_lock()) {
        bool eof = false;
        std::optional<std::string> now = Access::read_line_now(*proc_, eof);
        if (now) return py::bytes(now->data(), now->size());
        if (eof || timeout == 0) return py::none();
      }
    }
    std::optional<std::string> line = without_gil([&] {
      std::lock_guard lock(read_mu_);
      return proc_->read_line(Seconds{timeout});
    });
    if (!line) return py::none();
    return py::bytes(line->data(), line->size());
  }

  /// Takes neither read_mu_ nor write_mu_: the C++ close wakes a pending
  /// write or read_line of another thread (which then returns False/None)
  /// and waits for it, so holding them here would wait for its timeout.
  int close(double nice_timeout) {
    return without_gil([&] {
      std::lock_guard lock(close_mu_);
      const int code = proc_->close(Seconds{nice_timeout});
      live_.reset();
      return code;
    });
  }

  // The non-blocking steps the asyncio entry point drives (interactive_async.py),
  // with the GIL held: they never wait. Called from one thread; a blocking
  // call of the sync entry point in progress makes them raise (RuntimeError).

  /// The new offset, or -1 once no write can work any more.
  long write_some(std::string_view data, std::size_t offset) {
    std::unique_lock closing(close_mu_, std::try_to_lock);
    std::unique_lock lock(write_mu_, std::try_to_lock);
    if (!closing.owns_lock() || !lock.owns_lock())
      throw std::runtime_error("Interactive: a write or close is in progress");
    if (offset > data.size()) throw std::invalid_argument("Interactive.write_some: offset past the data");
    return Access::write_some(*proc_, data, offset) ? static_cast<long>(offset) : -1;
  }

  /// (line or None, eof).
  py::tuple read_line_now(bool read_pipe) {
    std::unique_lock closing(close_mu_, std::try_to_lock);
    std::unique_lock lock(read_mu_, std::try_to_lock);
    if (!closing.owns_lock() || !lock.owns_lock())
      throw std::runtime_error("Interactive: a read_line or close is in progress");
    bool eof = false;
    std::optional<std::string> line = Access::read_line_now(*proc_, eof, read_pipe);
    if (!line) return py::make_tuple(py::none(), eof);
    return py::make_tuple(py::bytes(line->data(), line->size()), eof);
  }

  void close_pipes() {
    std::unique_lock closing(close_mu_, std::try_to_lock);
    std::unique_lock w(write_mu_, std::try_to_lock);
    std::unique_lock r(read_mu_, std::try_to_lock);
    if (!closing.owns_lock() || !w.owns_lock() || !r.owns_lock())
      throw std::runtime_error("Interactive: a call is in progress");
    Access::close_pipes(*proc_);
  }

  std::string containment() const { return std::string(to_string(proc_->containment())); }
  int stdin_fd() const noexcept { return Access::stdin_fd(*proc_); }
  int stdout_fd() const noexcept { return Access::stdout_fd(*proc_); }
  int pidfd() const noexcept { return Access::pidfd(*proc_); }
  pid_t pid() const noexcept { return proc_->pid(); }
  bool is_running() const noexcept { return proc_->is_running(); }
  std::optional<int> exit_code() const noexcept { return proc_->exit_code(); }
  py::object limits_hit() const {
    const auto hit = proc_->limits_hit();
    return hit ? py::object(limit_names(*hit)) : py::object(py::none());
  }

 private:
  static std::unique_ptr<Interactive> start(std::vector<std::string> argv, Options options) {
    options.on_interrupt = run_python_signal_handlers;
    const std::string filename =
        failed_start_filename({argv.empty() ? std::string{} : argv.front()}, options);
    try {
      return without_gil([&] { return std::make_unique<Interactive>(std::move(argv), std::move(options)); });
    } catch (const std::system_error& e) {
      raise_os_error(e, filename);
    }
  }

  std::unique_ptr<Interactive> proc_;
  pid_t owner_;
  LiveChild live_;  // for the at-exit kill, which takes none of the locks below
  // Held, without the GIL, around each blocking C++ call; the steps that
  // hold the GIL only try them.
  std::mutex write_mu_;  // write
  std::mutex read_mu_;   // read_line
  std::mutex close_mu_;  // close
};

}  // namespace

void bind_interactive(py::module_& m) {
  py::class_<InteractiveHandle>(m, "Interactive", "The C++ Interactive: a child spoken to line by line.")
      .def(py::init([](std::vector<std::string> argv, const py::kwargs& options) {
             return std::make_unique<InteractiveHandle>(std::move(argv), to_options(options));
           }),
           py::arg("argv"))
      .def("write", &InteractiveHandle::write, py::arg("data"), py::arg("timeout"))
      .def("read_line", &InteractiveHandle::read_line, py::arg("timeout"))
      .def("close", &InteractiveHandle::close, py::arg("nice_timeout"))
      .def("write_some", &InteractiveHandle::write_some, py::arg("data"), py::arg("offset"))
      .def("read_line_now", &InteractiveHandle::read_line_now, py::arg("read_pipe") = true)
      .def("close_pipes", &InteractiveHandle::close_pipes)
      .def_property_readonly("stdin_fd", &InteractiveHandle::stdin_fd)
      .def_property_readonly("stdout_fd", &InteractiveHandle::stdout_fd)
      .def_property_readonly("pidfd", &InteractiveHandle::pidfd)
      .def_property_readonly("pid", &InteractiveHandle::pid)
      .def_property_readonly("containment", &InteractiveHandle::containment)
      .def_property_readonly("is_running", &InteractiveHandle::is_running)
      .def_property_readonly("exit_code", &InteractiveHandle::exit_code)
      .def_property_readonly("limits_hit", &InteractiveHandle::limits_hit);
}

}  // namespace bounded_subprocess::python
