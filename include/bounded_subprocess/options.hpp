// The options of every entry point: one plain aggregate, so that C++20 designated
// initializers read like the original Python library's keyword arguments:
//
//   bounded_subprocess::run({"echo", "hi"}, {.timeout = 5s, .max_output_size = 1024});
//   bounded_subprocess::run({"cat"}, {.stdin_data = "hi\n",
//                                     .container = Container{.image = "localhost/my-image"}});
//
// Every field is used by every entry point that receives it, or rejected there: the
// entry point throws `std::invalid_argument` naming the field and the entry point,
// before anything is spawned. A field some entry point cannot honour is optional
// (or, for `on_interrupt`, an empty std::function means "not set"), so that
// "set" is visible; its default per entry point is in this table (and in
// docs/cpp-api.md's, which is the same):
//
//   field                     run / async_run     run_stream_lines /      Interactive /
//                                                 open_line_stream        AsyncInteractive
//   timeout                   15 s                15 s                    rejected
//   max_output_size           2048 (each of       2048 (last bytes        rejected
//                             stdout, stderr)     of stderr)
//   tail                      false               true (false rejected)   rejected
//   max_line_size             rejected            65536                   4096
//   env, cwd                  host's              host's                  host's
//   stdin_data                /dev/null           /dev/null               rejected
//   stdin_write_timeout       15 s                15 s                    rejected
//   memory_limit_mb           none                none                    rejected
//   memory_watchdog_interval  1 s                 1 s                     rejected
//   containment               strongest           strongest               strongest
//   min_containment           process_group       process_group           process_group
//   on_interrupt              run: none;          rejected                Interactive: none;
//                             async_run: rejected                         AsyncInteractive: rejected
//   container                 local               local                   rejected
//   isolation                 none                none                    none
//
// With a `container`: `env` and `cwd` are the container's (`-e`, `-w`), not
// the podman client's; `memory_limit_mb` and `memory_watchdog_interval` are
// rejected (the watchdog would count the podman client, not the container:
// use `Container::cgroup_memory_limit_mb`); `containment` is that of the
// podman client and everything it starts, and defaults to subreaper where
// the machine has it (a PID or user namespace around podman confuses it),
// else process_group.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/containment.hpp"

namespace bounded_subprocess {

/// Durations are seconds as a double, so `5s`, `250ms` and `1.5s` all work.
using Seconds = std::chrono::duration<double>;

/// The child's environment: NAME -> VALUE. When given it *replaces* the
/// inherited environment (as Python's `env=` does); see `inherited_env()`.
using Environment = std::map<std::string, std::string>;

/// The defaults of the table above, written once: the entry points fill an
/// unset field from them, and the `bounded-run` command's flags start from
/// them.
namespace defaults {
inline constexpr Seconds timeout{15.0};
/// Bytes kept of stdout and of stderr (run, async_run), of stderr (streams).
inline constexpr std::size_t max_output_size = 2048;
inline constexpr std::size_t stream_max_line_size = 64 * 1024;
inline constexpr std::size_t interactive_max_line_size = 4096;
inline constexpr Seconds stdin_write_timeout{15.0};
inline constexpr Seconds memory_watchdog_interval{1.0};
}  // namespace defaults

/// A container to run the program in: `podman run --rm -i --cidfile FILE
/// --label bounded_subprocess.call=ID --log-driver=none [-e N=V]... [-v V]...
/// [-w CWD] [--memory Nm --memory-swap Nm] [--entrypoint E] [podman_args...]
/// IMAGE ARGV...`. The bounds (deadline, output, stdin) apply to the podman
/// client, which relays the container's stdio. Whatever ends the call, the
/// container is force-removed with a bounded `podman rm -f --time 0
/// --cidfile FILE --ignore` (or by the call's label when the client died
/// before writing the cidfile), the client is reaped and the cidfile (in a
/// private temporary folder) deleted.
struct Container {
  /// The image to run (required: an empty image is std::invalid_argument).
  std::string image{};
  /// Each becomes `-v VOLUME`, e.g. "/host/data:/data:ro".
  std::vector<std::string> volumes{};
  /// `--entrypoint E`; an empty string clears the image's ENTRYPOINT; absent
  /// omits the flag.
  std::optional<std::string> entrypoint{};
  /// Further podman flags, placed before the image (e.g. "--network=none").
  std::vector<std::string> podman_args{};
  /// The container's own cgroup memory limit: `--memory Nm --memory-swap Nm`
  /// (enforced by the kernel in the container, not by the library's
  /// watchdog: an OOM kill shows as exit code 137). At least 1.
  std::optional<std::size_t> cgroup_memory_limit_mb{};
  /// The podman binary (looked up in PATH when it holds no '/').
  std::string podman_path = "podman";
  /// Bound on the cleanup (`podman rm -f --time 0 ...`), which runs after
  /// the main deadline. A `podman rm` that podman refuses (a non-zero exit:
  /// podman 4.3 does so under load while the client's own `--rm` cleanup
  /// holds the container) is run once more within the same bound.
  Seconds cleanup_timeout{10.0};
  /// Where the private folder holding the cidfile is created; $TMPDIR (or
  /// /tmp) when absent.
  std::optional<std::string> temp_dir{};
};

/// The program's network: the host's, or none at all.
enum class Network {
  host,  ///< the host's network namespace (no change)
  /// A new, empty network namespace of the run's own, with only its own
  /// loopback (up): nothing outside the run is reachable, not even the
  /// host's 127.0.0.1, and no other run's loopback either.
  none,
};

/// A host path bound into the run's view of the files (podman's
/// `-v HOST:INSIDE[:ro]`).
struct Volume {
  /// The host's file or folder (must exist: std::invalid_argument otherwise).
  std::string source{};
  /// Where the run sees it: an absolute path that exists on the host, or
  /// lies inside the scratch (`/tmp/...` with `scratch_mb`), where it is made.
  std::string target{};
  /// Read-only inside the run (even where the host's user may write).
  bool read_only = false;
};

/// Isolation of one run, in the program's own namespaces, set up in the
/// program's process before it starts. Any field set here also sets the
/// program's no_new_privs, and a root caller's program keeps only podman's
/// default capabilities (no CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE,
/// ...), so that it cannot undo what was set up. Needs containment
/// pid_namespace or cgroup (process_group and subreaper have no namespaces:
/// SpawnError). What the machine cannot give is a SpawnError naming what is
/// missing, never a weaker run; bad values are std::invalid_argument, before
/// anything starts.
struct Isolation {
  Network network = Network::host;
  /// The host's files are seen read-only (every mount, recursively): only
  /// the scratch and the writable volumes can be written.
  bool read_only = false;
  /// A fresh private tmpfs of this many MiB at /tmp (and TMPDIR=/tmp), gone
  /// when the run ends. At least 1.
  std::optional<std::size_t> scratch_mb{};
  std::vector<Volume> volumes{};
  /// The kernel's memory limit of the run's cgroup (memory.max with
  /// memory.swap.max 0, or the v1 memory controller as root): the kernel
  /// kills inside the run at the limit (reason memory_limit). Needs a memory
  /// controller for the run's cgroup (SpawnError otherwise; the watchdog,
  /// `Options::memory_limit_mb`, needs none). At least 1.
  std::optional<std::size_t> memory_limit_mb{};
  /// At most this many processes and threads in the run (pids.max; where
  /// the caller has no pids controller but the run has a user namespace of
  /// its own, RLIMIT_NPROC in that namespace, which counts the run's init
  /// too). At least 1.
  std::optional<std::size_t> pids_limit{};
  /// CPU time of the whole run, all its processes together (the run's
  /// cgroup cpu.stat); past it the run is killed, reason cpu_limit. Needs
  /// containment cgroup. Positive.
  std::optional<Seconds> cpu_limit{};
  /// The largest file the program may write (RLIMIT_FSIZE), in MiB. At
  /// least 1.
  std::optional<std::size_t> file_size_limit_mb{};
};

/// The options of every entry point (see the table above for which entry point uses
/// which field, and its default there). Bounds that make no sense (a timeout
/// that is not positive, a memory limit of 0 MiB, a max_line_size of 0, ...)
/// are `std::invalid_argument` too, before anything is spawned.
struct Options {
  /// One wall-clock deadline, measured from the spawn, bounding the whole run
  /// (stdin phase included). At the deadline everything the run contains
  /// gets SIGKILL.
  std::optional<Seconds> timeout{};
  /// Bytes kept of stdout and of stderr, each (line streams: of stderr
  /// only, whose last bytes they keep). Bytes past the bound are drained and
  /// thrown away. 0 keeps nothing.
  std::optional<std::size_t> max_output_size{};
  /// Keep the last `max_output_size` bytes instead of the first.
  std::optional<bool> tail{};
  /// Cap on one line (line streams, Interactive): when a line grows past it
  /// before its '\n' arrives, its older bytes are dropped, so a line holds
  /// at most this many bytes (its last ones). At least 1.
  std::optional<std::size_t> max_line_size{};
  /// Replaces the child's environment when set; inherits the host's when not.
  std::optional<Environment> env{};
  /// Data written to the child's stdin while its output is read, then
  /// stdin is closed. When absent the child's stdin is /dev/null.
  std::optional<std::string> stdin_data{};
  /// Bound on writing `stdin_data`. If not all of it is written in time (or
  /// the child closes its stdin first), stdin is closed, the result's
  /// `stdin_write_failed` is set and `exit_code` is -1.
  std::optional<Seconds> stdin_write_timeout{};
  /// Working directory of the child; the host's when absent.
  std::optional<std::string> cwd{};
  /// The library's memory watchdog: the summed peak RSS (VmHWM) of every
  /// process of the run is sampled every `memory_watchdog_interval` and the
  /// run is killed once it exceeds this many MiB.
  std::optional<std::size_t> memory_limit_mb{};
  /// At least 10 ms (each tick reads /proc). Read only when
  /// `memory_limit_mb` is set.
  std::optional<Seconds> memory_watchdog_interval{};
  /// How every descendant is kept in the run (see Containment): exactly this
  /// mechanism, or an error (SpawnError) when the machine lacks it. When
  /// absent, the strongest the machine allows...
  std::optional<Containment> containment{};
  /// ...and never one weaker than this (an error instead).
  Containment min_containment = Containment::process_group;
  /// Blocking entry points (`run`, `Interactive`) only: called in the waiting
  /// thread each time a wait of the call is interrupted by a signal handler
  /// (EINTR). It may throw to abandon the call (`run`: the run is killed and
  /// reaped, then the exception propagates; `Interactive`: the child keeps
  /// running, the object still owns it). The Python bindings run Python's
  /// signal handlers here, so that Ctrl-C raises KeyboardInterrupt at once.
  /// Empty means not set.
  std::function<void()> on_interrupt{};
  /// Run the program in this container instead of on the host.
  std::optional<Container> container{};
  /// Isolate the run (host runs only: rejected with a container, whose
  /// podman flags do the same).
  std::optional<Isolation> isolation{};
};

/// Whether runs of this process can have a kernel memory limit
/// (`Isolation::memory_limit_mb`): a memory controller for the run's cgroup.
/// Probed once. Never throws.
bool kernel_memory_limit_available() noexcept;

/// A copy of the host process's environment, to start from when a few
/// variables must be added or overridden:
///
///   auto env = inherited_env(); env["LANG"] = "C";
///   run(argv, {.env = std::move(env)});
Environment inherited_env();

}  // namespace bounded_subprocess
