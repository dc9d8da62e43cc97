// The host's side of run_stream_lines, the sync entry point of the line
// stream: the engine with a line sink on stdout, driven by the sync driver
// (ppoll) on the calling thread. No Asio: lines go to `on_line` after each
// round of events. In a container the podman layer calls this for its client
// (podman/podman_command.cpp); entry/run.cpp picks one or the other.
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/stream.hpp"
#include "drivers/sync_driver.hpp"
#include "engine/entry_options.hpp"
#include "engine/supervisor.hpp"
#include "stream/stream_engine.hpp"
#include "stream/stream_sync.hpp"

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

}  // namespace

Result detail::run_stream_lines_on_host(const std::vector<std::string>& argv, const Options& options,
                                        const std::function<bool(std::string_view line)>& on_line) {
  const detail::StreamSettings settings =
      detail::stream_engine_options(options, detail::EntryPoint::run_stream_lines);
  detail::Supervisor sup(argv, settings.engine, detail::stream_stdout_sink(settings),
                         detail::stream_stderr_sink(settings));
  LinePump pump(sup, on_line);
  Result result;
  try {
    detail::drive_sync(sup, {}, std::ref(pump));
    pump();  // the lines of the drain after the exit, and a last one without '\n'
    result = sup.take_result();
  } catch (...) {
    // ppoll failed, or the child's status could not be known: the run ends
    // here (killed and reaped). An error of `on_line` came first.
    sup.abandon();
    if (pump.error()) std::rethrow_exception(pump.error());
    throw;
  }
  if (pump.error()) std::rethrow_exception(pump.error());
  return result;
}

}  // namespace bounded_subprocess
