// run_stream_lines, the sync face of the line stream: the async stream driven
// to its end on a private io_context, on the calling thread; in a container,
// that of the podman client, then the bounded cleanup whatever happened
// (run_container_sync).
#include <asio/io_context.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/stream.hpp"
#include "podman/podman_command.hpp"
#include "stream/line_stream_hooks.hpp"

namespace bounded_subprocess {

namespace {

// Asks for the next line until the stream ends; lines after a stop (or an
// exception from the callback) are taken but not passed on.
struct Pump {
  LineStream* stream;
  const std::function<bool(std::string_view)>* on_line;
  std::exception_ptr* error;
  bool* stopped;

  void operator()() const {
    stream->async_next([p = *this](std::exception_ptr e, std::optional<std::string> line) {
      if (e && !*p.error) *p.error = e;
      if (!line) return;  // the end (or a logic error we keep)
      if (!*p.stopped) {
        try {
          if (!(*p.on_line)(*line)) {
            *p.stopped = true;
            p.stream->close();
          }
        } catch (...) {
          *p.error = std::current_exception();
          *p.stopped = true;
          p.stream->close();
        }
      }
      p();
    });
  }
};

}  // namespace

Result run_stream_lines(const std::vector<std::string>& argv, const Options& options,
                        const std::function<bool(std::string_view line)>& on_line) {
  if (options.container) {
    const Options client = detail::checked_client_options(argv, options, detail::Face::run_stream_lines);
    return detail::run_container_sync(argv, options, [&](const std::vector<std::string>& command) {
      return run_stream_lines(command, client, on_line);
    });
  }
  asio::io_context io(1);
  LineStream stream =
      detail::LineStreamAccess::open(io.get_executor(), argv, options, {}, detail::Face::run_stream_lines);
  std::exception_ptr error;
  bool stopped = false;
  Pump{&stream, &on_line, &error, &stopped}();
  io.run();
  if (error) std::rethrow_exception(error);
  return stream.result();
}

}  // namespace bounded_subprocess
