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
// This header holds the synchronous faces (`podman_run`, and
// `podman_run_stream_lines` with a callback per line); the async faces
// (`async_podman_run`, `open_podman_line_stream`), which need Asio, are in
// bounded_subprocess/podman_async.hpp.
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
  /// How the podman client and everything it starts (conmon, the
  /// container's processes) are kept in the run: see
  /// `RunOptions::containment`. When absent: subreaper where the machine
  /// has it (a PID or user namespace around the client confuses podman),
  /// else process_group.
  std::optional<Containment> containment{};
  Containment min_containment = Containment::process_group;
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

/// Options of the podman line streams: those of `PodmanOptions` (same
/// meaning) without the output capture, plus the line bounds of
/// `StreamOptions`. The shared fields are repeated here, not inherited or
/// nested, so that designated initializers can name every one of them:
/// `{.image = "img", .timeout = 5s, .max_line_size = 1024}`.
struct PodmanStreamOptions {
  /// The image to run (required).
  std::string image{};
  Seconds timeout{15.0};
  /// Cap on one line: when a line grows past it before its '\n' arrives, its
  /// older bytes are dropped. Must be at least 1.
  std::size_t max_line_size = 64 * 1024;
  /// stderr (the container's and podman's own) is drained; at most this many
  /// of its last bytes are kept, in `Result::err`.
  std::size_t stderr_max_output_size = 2048;
  std::optional<Environment> env{};
  std::optional<std::string> stdin_data{};
  Seconds stdin_write_timeout{15.0};
  std::vector<std::string> volumes{};
  std::optional<std::string> cwd{};
  std::optional<std::size_t> memory_limit_mb{};
  std::optional<std::string> entrypoint{};
  std::vector<std::string> podman_args{};
  std::string podman_path = "podman";
  Seconds cleanup_timeout{10.0};
  std::optional<std::string> temp_dir{};
  /// How the podman client and everything it starts (conmon, the
  /// container's processes) are kept in the run: see
  /// `RunOptions::containment`. When absent: subreaper where the machine
  /// has it (a PID or user namespace around the client confuses podman),
  /// else process_group.
  std::optional<Containment> containment{};
  Containment min_containment = Containment::process_group;
};

/// The sync stream face: runs `argv` in a container like `podman_run` and
/// calls `on_line` with each stdout line (without its '\n') as it arrives,
/// on the calling thread, until EOF, the deadline, or `on_line` returns
/// false (the podman client's group is then killed: reason `cancelled`,
/// exit_code -1). Then, whatever ended it (an exception from `on_line`
/// included), the container is force-removed as in `podman_run`.
///
/// The result is that of `run_stream_lines` (see stream.hpp: `out.data` is
/// empty, `err` keeps the last `stderr_max_output_size` bytes), with
/// `elapsed` covering the cleanup too.
///
/// Errors: as `podman_run`; an exception thrown by `on_line` is rethrown
/// after the cleanup.
///
/// Thread safety: may be called from many threads at once.
Result podman_run_stream_lines(const std::vector<std::string>& argv,
                               const PodmanStreamOptions& options,
                               const std::function<bool(std::string_view line)>& on_line);

}  // namespace bounded_subprocess
