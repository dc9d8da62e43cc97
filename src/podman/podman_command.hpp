// The podman side of a call with `Options::container` set, shared by every
// entry point: option validation, the podman client's options, the `podman run` and
// `podman rm` command lines, the private temporary folder that holds the
// cidfile, and the cleanup: the whole call for the sync entry points
// (run_container_sync), PodmanCall for the async ones.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "engine/entry_options.hpp"

namespace bounded_subprocess::detail {

/// Throws std::invalid_argument for a bad container command (no container,
/// empty argv or image, empty volume or cwd, bad env names, NUL anywhere, a
/// cgroup memory limit of 0, a cleanup timeout that is not positive). Reads
/// only the container-side settings (`container`, `env`, `cwd`), not the
/// client's bounds. Spawns nothing.
void validate_container(const std::vector<std::string>& argv, const Options& options);

/// The options of the podman client, for the same entry point on the host: the
/// bounds of the call (timeout, output, lines, stdin, on_interrupt), the
/// host's environment and cwd (`env` and `cwd` are the container's), no
/// watchdog, and the client's containment (client_containment).
Options client_options(const Options& options);

/// For `entry` (run, async_run or a line stream) with `options.container`
/// set: the entry point's rejections (run_settings / stream_settings),
/// validate_container, then the client's options, checked as the entry point will
/// check them. Throws std::invalid_argument, before anything is created.
Options checked_client_options(const std::vector<std::string>& argv, const Options& options,
                               EntryPoint entry);

/// `run` in the container `options.container` (run_container_sync around
/// the host's run of the client).
Result run_in_container(const std::vector<std::string>& argv, const Options& options);

/// `run_stream_lines` in the container `options.container` (run_container_sync
/// around the host's stream of the client).
Result run_stream_lines_in_container(const std::vector<std::string>& argv, const Options& options,
                                     const std::function<bool(std::string_view line)>& on_line);

/// A private folder (mkdtemp, mode 0700) holding the path of the cidfile,
/// which podman creates itself (podman 4.3 refuses an existing cidfile).
/// The destructor deletes the cidfile and the folder; it never throws.
class PodmanScratch {
 public:
  /// Throws std::system_error when the folder cannot be created.
  explicit PodmanScratch(const std::optional<std::string>& parent);
  PodmanScratch(const PodmanScratch&) = delete;
  PodmanScratch& operator=(const PodmanScratch&) = delete;
  ~PodmanScratch();

  const std::string& dir() const noexcept { return dir_; }
  const std::string& cidfile() const noexcept { return cidfile_; }
  /// A value unique to this call on this host, for the container's label.
  const std::string& call_id() const noexcept { return call_id_; }
  /// The container id podman wrote, if the cidfile holds a whole one.
  std::optional<std::string> container_id() const;
  /// Deletes the cidfile and the folder now (idempotent).
  void remove() noexcept;

 private:
  std::string dir_;
  std::string cidfile_;
  std::string call_id_;
  bool removed_ = false;
};

/// The label key put on every container this library starts.
inline constexpr const char* kCallLabel = "bounded_subprocess.call";

/// `podman run --rm -i --cidfile FILE --label ... [flags] IMAGE ARGV...`.
std::vector<std::string> podman_run_command(const std::vector<std::string>& argv, const Options& options,
                                            const PodmanScratch& scratch);

/// The cleanup command: `podman rm -f --time 0 --cidfile FILE --ignore` when
/// the cidfile holds an id, else removal by the call's label (the client died
/// between creating the container and writing the cidfile, or never created
/// one). Empty when the client was never spawned (nothing to remove).
std::vector<std::string> podman_rm_command(const Container& container, const PodmanScratch& scratch,
                                           bool client_started);

/// The containment of podman's own processes: `requested`, else subreaper
/// where the machine has it (namespaces around podman confuse it: its
/// mounts and pids must be the host's), else the strongest at least
/// `at_least`.
std::optional<Containment> client_containment(const std::optional<Containment>& requested,
                                              Containment at_least);

/// The options of the cleanup command (a `run` on the host).
Options cleanup_options(const Options& options);

/// The options of a second `podman rm` when the first one (`first`) was
/// refused by podman (a non-zero exit, not a timeout): podman 4.3 refuses
/// ("device or resource busy") while the client's own `--rm` cleanup holds
/// the container, under load, and removed it a moment later. Its timeout
/// is what is left of cleanup_timeout; nullopt when no retry is due. Every
/// entry point tries once more before it reports a failed cleanup.
std::optional<Options> cleanup_retry_options(const Options& options, const Result& first);

/// Throws std::runtime_error if the cleanup result says the container may
/// have been left behind.
void check_cleanup_result(const std::vector<std::string>& rm_command, const Result& rm_result);

/// The synchronous cleanup: runs the `podman rm` command (bounded by
/// cleanup_timeout, a refusal tried once more within it) and deletes the
/// scratch folder (in every case). Returns why the container may be left
/// behind (check_cleanup_result's message, or that podman could not be
/// started), nullopt when it is gone; never throws.
std::optional<std::string> remove_container_sync(const Options& options, PodmanScratch& scratch,
                                                 bool client_started) noexcept;

/// The whole call of a sync entry point, once its options are checked: creates the
/// scratch folder, calls `run_client` with the `podman run` command, then
/// removes the container (remove_container_sync) whatever happened. A failed
/// cleanup is reported in the result's `cleanup_error`, as the async entry
/// points report it. If `run_client` throws, the cleanup runs as if the
/// client had started (a spawn failure makes it fail the same way), its own
/// error is dropped and the first one is rethrown. The result's `elapsed`
/// covers the cleanup. Throws like PodmanScratch and `run_client`.
Result run_container_sync(const std::vector<std::string>& argv, const Options& options,
                          const std::function<Result(const std::vector<std::string>& command)>& run_client);

/// One container call of an async entry point: an owned copy of the options, the
/// scratch folder and the `podman run` command. The cleanup is normally done
/// asynchronously by the entry point, which then calls `cleanup_done`; if the call
/// is destroyed before that (its executor went away, say) while the client
/// may have started, the destructor removes the container synchronously
/// (bounded by cleanup_timeout) and never throws.
class PodmanCall {
 public:
  /// Creates the scratch folder (std::system_error if it cannot).
  /// `options.container` must be set.
  PodmanCall(const std::vector<std::string>& argv, Options options);
  PodmanCall(const PodmanCall&) = delete;
  PodmanCall& operator=(const PodmanCall&) = delete;
  ~PodmanCall();

  const std::vector<std::string>& command() const noexcept { return command_; }
  const Options& options() const noexcept { return options_; }
  /// The cleanup command (see podman_rm_command); the client counts as started.
  std::vector<std::string> rm_command() const;
  /// Whether the client may have started: from then on the destructor
  /// cleans up if the entry point did not.
  void set_client_started(bool started) noexcept { started_ = started; }
  /// The synchronous cleanup, for entry points that cannot run the async one;
  /// errors are swallowed. Idempotent.
  void cleanup_now() noexcept;
  /// The entry point's cleanup ended: `rm_error` says why the `podman rm` could not
  /// run (empty when it ran), `rm_result` is what it did. Deletes the
  /// scratch folder and returns why the container may be left behind
  /// (nullopt when it is gone).
  std::optional<std::string> cleanup_done(const std::string& rm_error, const Result& rm_result) noexcept;

 private:
  Options options_;
  PodmanScratch scratch_;
  std::vector<std::string> command_;
  bool started_ = false;
  bool cleaned_ = false;
};

}  // namespace bounded_subprocess::detail
