// Containers: the same bounds around `podman run --rm -i --cidfile FILE`.
//
//   auto r = bounded_subprocess::podman_run(
//       {"cat"}, {.image = "localhost/my-image", .timeout = 5s, .stdin_data = "hi\n"});
//
// Whatever ends a call (normal exit, timeout, a podman error, an exception, a
// stream stopped early), the container is force-removed with a bounded
// `podman rm -f --time 0 --cidfile FILE --ignore`, the podman client is reaped
// and the cidfile (inside a private temporary folder) is deleted.
//
// This header holds the synchronous faces; the async faces (which need Asio)
// are in bounded_subprocess/podman_async.hpp.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess {

/// Options of `podman_run`. The bounds (timeout, output, stdin) apply to the
/// podman client, which relays the container's stdio; the container-side
/// settings become podman flags.
struct PodmanOptions {
  /// The image to run (required: an empty image is std::invalid_argument).
  std::string image{};
  /// Wall-clock deadline from the spawn of the podman client. At the
  /// deadline the client's group is killed and the container force-removed.
  Seconds timeout{15.0};
  std::size_t max_output_size = 2048;
  bool tail = false;
  /// Passed to the container as `-e NAME=VALUE` (not to the podman client,
  /// which always gets the host's environment).
  std::optional<Environment> env{};
  std::optional<std::string> stdin_data{};
  Seconds stdin_write_timeout{15.0};
  /// Each becomes `-v VOLUME`, e.g. "/host/data:/data:ro".
  std::vector<std::string> volumes{};
  /// `-w DIR` inside the container.
  std::optional<std::string> cwd{};
  /// `--memory Nm --memory-swap Nm` (enforced by the container's cgroup, not
  /// by the library's watchdog: an OOM kill shows as exit code 137).
  std::optional<std::size_t> memory_limit_mb{};
  /// `--entrypoint E`; an empty string clears the image's ENTRYPOINT; absent
  /// omits the flag.
  std::optional<std::string> entrypoint{};
  /// Further podman flags, placed before the image (e.g. "--network=none").
  std::vector<std::string> podman_args{};
  /// The podman binary (looked up in PATH when it holds no '/').
  std::string podman_path = "podman";
  /// Bound on the cleanup (`podman rm -f --time 0 ...`), which runs after
  /// the main deadline.
  Seconds cleanup_timeout{10.0};
  /// Where the private folder holding the cidfile is created; $TMPDIR (or
  /// /tmp) when absent.
  std::optional<std::string> temp_dir{};
};

/// Runs `argv` in a container of `options.image`, bounded like `run`:
/// `podman run --rm -i --cidfile FILE --label bounded_subprocess.call=ID
/// [-e N=V]... [-v V]... [-w CWD] [--memory Nm --memory-swap Nm]
/// [--entrypoint E] [podman_args...] IMAGE ARGV...`.
///
/// The result is the podman client's: `exit_code` is the container's exit
/// status as podman reports it (a container killed by signal N shows 128+N),
/// 125 when podman itself failed (for example an image that does not exist;
/// podman's message is then in `err`), -1 on timeout. `elapsed` covers the
/// whole call, cleanup included.
///
/// Whatever ends the call, the container is force-removed with a bounded
/// `podman rm -f --time 0 --cidfile FILE --ignore` (or, if the client died
/// before writing the cidfile, by the call's label), the podman client is
/// reaped and the cidfile and its folder are deleted.
///
/// Errors:
///  - `std::invalid_argument`: empty argv or image, empty volume, empty cwd,
///    bad env names, NUL in a string, bounds that make no sense. Nothing is
///    spawned.
///  - `std::system_error`: the podman binary cannot be started (`what()`
///    names it), or the temporary folder cannot be created.
///  - `std::runtime_error`: the cleanup `podman rm` failed or timed out (the
///    container may be left; `what()` says which and podman's message).
///
/// Thread safety: may be called from many threads at once.
Result podman_run(const std::vector<std::string>& argv, const PodmanOptions& options);

}  // namespace bounded_subprocess
