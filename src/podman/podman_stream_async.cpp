// open_line_stream in a container: a LineStream over the podman client,
// whose end hook removes the container with a host run of `podman rm`
// (async_run's operation) before the stream reports its end.
//
// Asio first: its config decides on aligned_alloc from whether a C++
// standard header came before it, and every TU must decide alike (ODR).
#include "bounded_subprocess/async.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "podman/podman_command.hpp"
#include "podman/podman_stream.hpp"
#include "stream/line_stream_hooks.hpp"

namespace bounded_subprocess::detail {

namespace {

// Owned by the stream's end hook and then by the cleanup's handler: whoever
// drops the last reference without the cleanup having run (the executor's
// context went away) makes PodmanCall's destructor remove the container
// synchronously.
struct StreamCleanup : std::enable_shared_from_this<StreamCleanup> {
  StreamCleanup(const std::vector<std::string>& argv, Options options) : call(argv, std::move(options)) {}

  void on_end(const asio::any_io_executor& ex, std::function<void()> done) {
    remove(ex, cleanup_options(call.options()), false, std::move(done));
  }

  // A `podman rm`, and once more when podman refused the first.
  void remove(const asio::any_io_executor& ex, const Options& options, bool retried,
              std::function<void()> done) {
    try {
      auto rm_run = spawn_async_run(ex, call.rm_command(), options);
      start_async_run(rm_run,
                      make_completion<Result>(
                          [self = shared_from_this(), ex, retried, done](std::error_code ec, Result rm) {
                            if (!ec && !retried) {
                              if (auto retry = cleanup_retry_options(self->call.options(), rm)) {
                                self->remove(ex, *retry, true, done);
                                return;
                              }
                            }
                            // Nowhere to report a failed cleanup once the stream ended;
                            // the folder is deleted either way.
                            (void)self->call.cleanup_done(ec ? ec.message() : std::string(), rm);
                            done();
                          },
                          ex));
    } catch (...) {
      // The `podman rm` could not even be started: clean up here and now.
      call.cleanup_now();
      done();
    }
  }

  PodmanCall call;
};

}  // namespace

LineStream open_container_line_stream(const asio::any_io_executor& ex, const std::vector<std::string>& argv,
                                      const Options& options, EntryPoint entry) {
  const Options client = checked_client_options(argv, options, entry);
  auto cleanup = std::make_shared<StreamCleanup>(argv, options);
  StreamHooks hooks;
  hooks.on_end = [cleanup, ex](Result&, std::function<void()> done) { cleanup->on_end(ex, std::move(done)); };
  cleanup->call.set_client_started(true);
  try {
    return LineStreamAccess::open(ex, cleanup->call.command(), client, std::move(hooks), entry);
  } catch (...) {
    // The client did not start, so nothing was created: no `podman rm`; the
    // folder goes with `cleanup`.
    cleanup->call.set_client_started(false);
    throw;
  }
}

}  // namespace bounded_subprocess::detail
