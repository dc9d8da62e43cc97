// run_stream_lines, the sync face of the line stream: the async stream driven
// to its end on a private io_context, on the calling thread.
#include <asio/io_context.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/stream.hpp"

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

Result run_stream_lines(const std::vector<std::string>& argv, const StreamOptions& options,
                        const std::function<bool(std::string_view line)>& on_line, StreamHooks hooks) {
  asio::io_context io(1);
  LineStream stream = open_line_stream(io.get_executor(), argv, options, std::move(hooks));
  std::exception_ptr error;
  bool stopped = false;
  Pump{&stream, &on_line, &error, &stopped}();
  io.run();
  if (error) std::rethrow_exception(error);
  return stream.result();
}

}  // namespace bounded_subprocess
