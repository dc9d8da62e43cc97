// run_stream_lines, the sync face of the line stream: the async stream driven
// to its end on a private io_context, on the calling thread.
#include <asio/error.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <functional>
#include <string>
#include <system_error>
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
    stream->async_next([p = *this](std::error_code ec, std::string line) {
      if (ec == asio::error::eof) return;  // the end
      if (ec) {
        // The engine or the end hook failed (the hook's own exception was
        // kept by run_stream_lines); eof follows.
        if (!*p.error) *p.error = std::make_exception_ptr(std::system_error(ec));
        p();
        return;
      }
      if (!*p.stopped) {
        try {
          if (!(*p.on_line)(line)) {
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
  std::exception_ptr error;
  if (hooks.on_end) {
    // The stream reports a throwing hook as an error code; this face throws
    // the hook's own exception.
    hooks.on_end = [inner = std::move(hooks.on_end), &error](Result& r, std::function<void()> done) {
      try {
        inner(r, std::move(done));
      } catch (...) {
        if (!error) error = std::current_exception();
        throw;
      }
    };
  }
  LineStream stream = open_line_stream(io.get_executor(), argv, options, std::move(hooks));
  bool stopped = false;
  Pump{&stream, &on_line, &error, &stopped}();
  io.run();
  if (error) std::rethrow_exception(error);
  return stream.result();
}

}  // namespace bounded_subprocess
