// run_stream_lines, the sync face of the line stream: the engine with a line
// sink on stdout, driven by the sync driver (ppoll) on the calling thread.
// No Asio: lines go to `on_line` after each round of events.
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "bounded_subprocess/stream.hpp"
#include "drivers/sync_driver.hpp"
#include "engine/supervisor.hpp"
#include "spawn/child.hpp"
#include "stream/stream_engine.hpp"

namespace bounded_subprocess {

namespace {

// Hands the sink's lines to `on_line` until it says stop (returns false or
// throws): then the group is killed as cancelled, and later lines are taken
// but not passed on.
class LinePump {
 public:
  LinePump(detail::Supervisor& sup, const std::function<bool(std::string_view)>& on_line)
      : sup_(sup), on_line_(on_line) {}

  void operator()() {
    detail::LineSplitter& lines = *sup_.stdout_lines();
    while (auto line = lines.pop_line()) {
      if (stopped_) continue;
      try {
        if (!on_line_(*line)) stop();
      } catch (...) {
        error_ = std::current_exception();
        stop();
      }
    }
  }

  std::exception_ptr& error() noexcept { return error_; }

 private:
  void stop() {
    stopped_ = true;
    sup_.cancel();
  }

  detail::Supervisor& sup_;
  const std::function<bool(std::string_view)>& on_line_;
  bool stopped_ = false;
  std::exception_ptr error_;
};

// The end hook's `done`, which may be called from any thread.
struct HookDone {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;

  void signal() {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return done; });
  }
};

}  // namespace

Result run_stream_lines(const std::vector<std::string>& argv, const StreamOptions& options,
                        const std::function<bool(std::string_view line)>& on_line, StreamHooks hooks) {
  const RunOptions run_options = detail::stream_engine_options(options);
  detail::validate_command(argv, run_options.env, run_options.cwd);
  detail::validate_run_options(run_options);
  detail::Supervisor sup(argv, run_options, detail::stream_stdout_sink(options),
                         detail::stream_stderr_sink(options));
  LinePump pump(sup, on_line);
  std::exception_ptr& error = pump.error();
  Result result;
  try {
    detail::drive_sync(sup, {}, std::ref(pump));
    pump();  // the lines of the drain after the exit, and a last one without '\n'
    result = sup.take_result();
  } catch (...) {
    // ppoll failed, or the child's status could not be known: the run ends
    // here (killed and reaped), and the end hook still runs.
    if (!error) error = std::current_exception();
    sup.abandon();
    result.reason = EndReason::cancelled;
  }
  if (hooks.on_end) {
    auto done = std::make_shared<HookDone>();
    try {
      hooks.on_end(result, [done] { done->signal(); });
      done->wait();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return result;
}

}  // namespace bounded_subprocess
