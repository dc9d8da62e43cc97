// `_native.RunHandle`: a bounded run in flight, for the asyncio face.
//
// The run proceeds on a C++ thread without the GIL; when it ends, an eventfd
// becomes readable, so asyncio can wait for it with loop.add_reader (no
// Python thread per run, no executor limit on how many runs proceed at once).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "bounded_subprocess/run.hpp"
#include "native.hpp"

namespace bounded_subprocess::python {

namespace {

/// What the run's thread and the handle share; outlives whichever goes first.
struct RunState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<Result> result;
  std::exception_ptr error;
  int event_fd = -1;

  RunState() : event_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (event_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;
  ~RunState() { ::close(event_fd); }

  void finish(std::optional<Result> r, std::exception_ptr e) {
    {
      std::lock_guard lock(mu);
      result = std::move(r);
      error = e;
      done = true;
    }
    cv.notify_all();
    const std::uint64_t one = 1;
    // Cannot fail short of a counter overflow; a lost wake-up would be seen by
    // done() anyway.
    [[maybe_unused]] const auto n = ::write(event_fd, &one, sizeof one);
  }
};

class RunHandle {
 public:
  explicit RunHandle(RunArgs args)
      : state_(std::make_shared<RunState>()),
        program_(failed_start_filename(args)) {
    // Bad options raise here, before anything starts.
    RunOptions options = to_run_options(args);
    detail_validate(args.argv, options);
    thread_ = std::thread([state = state_, argv = std::move(args.argv),
                           options = std::move(options)]() mutable {
      try {
        state->finish(run(argv, options), nullptr);
      } catch (...) {
        state->finish(std::nullopt, std::current_exception());
      }
    });
  }
  RunHandle(const RunHandle&) = delete;
  RunHandle& operator=(const RunHandle&) = delete;

  /// The run's thread owns nothing of Python; if the handle is dropped before
  /// the end, the run still ends at its own deadline and frees its state.
  ~RunHandle() {
    if (thread_.joinable()) thread_.detach();
  }

  int fileno() const noexcept { return state_->event_fd; }

  bool done() const {
    std::lock_guard lock(state_->mu);
    return state_->done;
  }

  /// Asks the run to stop early. This build runs the blocking `run` on its
  /// thread, which has no cancel hook: returns false, and the run ends at its
  /// own deadline.
  bool cancel() { return false; }

  void wait() {
    py::gil_scoped_release nogil;
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->done; });
  }

  Result result() {
    std::unique_lock lock(state_->mu);
    if (!state_->done) throw std::logic_error("RunHandle.result() before the run ended");
    if (state_->error) {
      std::exception_ptr e = state_->error;
      lock.unlock();
      try {
        std::rethrow_exception(e);
      } catch (const std::system_error& se) {
        raise_os_error(se, program_);
      }
    }
    return *state_->result;
  }

 private:
  static void detail_validate(const std::vector<std::string>& argv, const RunOptions& options);

  std::shared_ptr<RunState> state_;
  std::string program_;
  std::thread thread_;
};

void RunHandle::detail_validate(const std::vector<std::string>& argv, const RunOptions& options) {
  // The same checks `run` makes first, so that bad input raises ValueError
  // from start_run rather than from the awaited result.
  if (argv.empty()) throw std::invalid_argument("run: argv is empty");
  if (!(options.timeout.count() > 0)) throw std::invalid_argument("run: timeout must be positive");
  if (!(options.stdin_write_timeout.count() > 0))
    throw std::invalid_argument("run: stdin_write_timeout must be positive");
  if (options.memory_limit_mb && *options.memory_limit_mb == 0)
    throw std::invalid_argument("run: memory_limit_mb must be positive");
  if (!(options.memory_watchdog_interval.count() > 0))
    throw std::invalid_argument("run: memory_watchdog_interval must be positive");
}

}  // namespace

void bind_run_handle(py::module_& m) {
  py::class_<RunHandle>(m, "RunHandle",
                        "A bounded run in flight: fileno() becomes readable when it ends.")
      .def(py::init([](std::vector<std::string> argv, double timeout, std::size_t max_output_size,
                       bool tail, std::optional<std::map<std::string, std::string>> env,
                       std::optional<std::string> stdin_data, double stdin_write_timeout,
                       std::optional<std::string> cwd, std::optional<std::size_t> memory_limit_mb,
                       double memory_watchdog_interval) {
             return std::make_unique<RunHandle>(
                 RunArgs{std::move(argv), timeout, max_output_size, tail, std::move(env),
                         std::move(stdin_data), stdin_write_timeout, std::move(cwd),
                         memory_limit_mb, memory_watchdog_interval});
           }),
           py::arg("argv"), py::arg("timeout"), py::arg("max_output_size"), py::arg("tail"),
           py::arg("env"), py::arg("stdin_data"), py::arg("stdin_write_timeout"), py::arg("cwd"),
           py::arg("memory_limit_mb"), py::arg("memory_watchdog_interval"))
      .def("fileno", &RunHandle::fileno)
      .def("done", &RunHandle::done)
      .def("cancel", &RunHandle::cancel)
      .def("wait", &RunHandle::wait)
      .def("result", &RunHandle::result);
}

}  // namespace bounded_subprocess::python
