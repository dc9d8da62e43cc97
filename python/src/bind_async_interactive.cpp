// `_native.AsyncInteractive`: the library's AsyncInteractive on the module's
// reactor. Every call is posted to the reactor's thread (the C++ object must
// not be used concurrently) and returns a `Pending`; cancelling the Pending
// cancels the operation as AsyncInteractive documents (a write completes
// with False, a read with None, a close skips the rest of its nice wait).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "live_children.hpp"
#include "native.hpp"
#include "pending.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

namespace {

/// The C++ object, created on the caller's thread and destroyed on the
/// reactor's (or at interpreter exit, by the reactor's shutdown actions).
struct AsyncInteractiveBox {
  std::optional<AsyncInteractive> proc;
  LiveChild live;  // for the final at-exit kill (see live_children.hpp)
  std::optional<std::uint64_t> shutdown_id;
};
using BoxPtr = std::shared_ptr<AsyncInteractiveBox>;

class AsyncInteractiveHandle {
 public:
  AsyncInteractiveHandle(std::vector<std::string> argv, std::size_t read_buffer_size,
                         std::optional<std::map<std::string, std::string>> env,
                         std::optional<std::string> cwd)
      : reactor_(Reactor::instance()), box_(std::make_shared<AsyncInteractiveBox>()) {
    InteractiveOptions options;
    options.read_buffer_size = read_buffer_size;
    if (env) options.env = Environment(env->begin(), env->end());
    options.cwd = cwd;
    RunArgs where;
    where.argv = {argv.empty() ? std::string{} : argv.front()};
    where.cwd = std::move(cwd);
    try {
      without_gil([&] { box_->proc.emplace(reactor_.executor(), std::move(argv), std::move(options)); });
    } catch (const std::system_error& e) {
      raise_os_error(e, failed_start_filename(where));
    }
    pid_ = box_->proc->pid();
    box_->live = LiveChild(pid_);
    reactor_.post([box = box_, r = &reactor_] {
      std::weak_ptr<AsyncInteractiveBox> weak = box;
      box->shutdown_id = r->remember([weak] {
        if (auto b = weak.lock()) {
          b->shutdown_id.reset();
          b->live.reset();
          b->proc.reset();  // kills the group, reaps the child
        }
      });
    });
  }
  AsyncInteractiveHandle(const AsyncInteractiveHandle&) = delete;
  AsyncInteractiveHandle& operator=(const AsyncInteractiveHandle&) = delete;

  /// Destroys the C++ object on the reactor's thread: unless closed, its
  /// group is killed and its child reaped there. In a forked copy of the
  /// process the child is the parent's: the object is left alone.
  ~AsyncInteractiveHandle() {
    if (!reactor_.owned_by_this_process()) {
      new BoxPtr(std::move(box_));  // never destroyed, on purpose
      return;
    }
    reactor_.post([box = std::move(box_), r = &reactor_] {
      if (box->shutdown_id) r->forget(*box->shutdown_id);
      box->live.reset();
      box->proc.reset();
    });
  }

  PendingPtr write(std::string data, double timeout) {
    return start([data = std::move(data), timeout](AsyncInteractive& p, PendingState& st) mutable {
      p.async_write(std::move(data), Seconds{timeout}, st.handler(ValueOnly{}));
    });
  }
  PendingPtr read_line(double timeout) {
    return start([timeout](AsyncInteractive& p, PendingState& st) {
      p.async_read_line(Seconds{timeout}, st.handler(ValueOnly{}));
    });
  }
  PendingPtr close(double nice_timeout) {
    return start([nice_timeout](AsyncInteractive& p, PendingState& st) {
      p.async_close(Seconds{nice_timeout}, st.handler(ValueOnly{}));
    });
  }

  pid_t pid() const noexcept { return pid_; }

 private:
  template <class F>
  PendingPtr start(F&& initiate) {
    return start_pending(reactor_, std::string{},
                         [box = box_, initiate = std::forward<F>(initiate)](PendingState& p) mutable {
                           if (!box->proc) throw std::logic_error("AsyncInteractive: the child is gone");
                           initiate(*box->proc, p);
                         });
  }

  Reactor& reactor_;
  BoxPtr box_;
  pid_t pid_ = -1;
};

}  // namespace

void bind_async_interactive(py::module_& m) {
  py::class_<AsyncInteractiveHandle>(
      m, "AsyncInteractive",
      "The C++ AsyncInteractive on the module's reactor; each method returns a Pending.")
      .def(py::init<std::vector<std::string>, std::size_t, std::optional<std::map<std::string, std::string>>,
                    std::optional<std::string>>(),
           py::arg("argv"), py::arg("read_buffer_size"), py::arg("env"), py::arg("cwd"))
      .def("write", &AsyncInteractiveHandle::write, py::arg("data"), py::arg("timeout"))
      .def("read_line", &AsyncInteractiveHandle::read_line, py::arg("timeout"))
      .def("close", &AsyncInteractiveHandle::close, py::arg("nice_timeout"))
      .def_property_readonly("pid", &AsyncInteractiveHandle::pid);
}

}  // namespace bounded_subprocess::python
