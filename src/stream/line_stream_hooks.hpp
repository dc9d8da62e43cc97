// Internal: a line stream with an end hook, for the entry points built on one (a
// stream in a container removes its container there before it reports its
// end).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "engine/entry_options.hpp"

namespace bounded_subprocess::detail {

struct StreamHooks {
  /// Called exactly once, on the stream's executor, after the child has been
  /// reaped, whatever ended the
  /// stream (end of output, deadline, memory limit, `close()`, destruction of
  /// the `LineStream`). It may adjust `result` (valid until `done` is called)
  /// and must call `done()` exactly once, from any thread, when its extra
  /// work (which may be asynchronous, e.g. another `async_run`) is over.
  /// Until then the stream does not report its end: `async_next` does not
  /// complete with `asio::error::eof` and `finished()` is false. If the hook
  /// throws (and then `done` must not be called), `async_next` completes once
  /// with an error code before `eof` (a `std::system_error`'s own code, else
  /// `errc::end_hook_failed`).
  std::function<void(Result& result, std::function<void()> done)> on_end;
};

/// Makes LineStreams (their constructor is private).
struct LineStreamAccess {
  /// `open_line_stream` on the host, with `hooks`; the options are checked
  /// for `entry` (open_line_stream or run_stream_lines). `options.container`
  /// must not be set.
  static LineStream open(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                         const Options& options, StreamHooks hooks, EntryPoint entry);
};

}  // namespace bounded_subprocess::detail
