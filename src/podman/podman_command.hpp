// The podman side of a container call, shared by every podman face: option
// validation, the `podman run` and `podman rm` command lines, the private
// temporary folder that holds the cidfile, and the cleanup: the whole call
// for the sync faces (run_container_sync), PodmanCall for the async ones.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/podman.hpp"

namespace bounded_subprocess::detail {

/// Throws std::invalid_argument for a bad container command (empty argv or
/// image, empty volume or cwd, bad env names, NUL anywhere, a memory limit
/// of 0, a cleanup timeout that is not positive). Reads only the
/// container-side settings, not the client's bounds. Spawns nothing.
void validate_container(const std::vector<std::string>& argv, const PodmanOptions& options);

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
std::vector<std::string> podman_run_command(const std::vector<std::string>& argv,
                                            const PodmanOptions& options, const PodmanScratch& scratch);

/// The cleanup command: `podman rm -f --time 0 --cidfile FILE --ignore` when
/// the cidfile holds an id, else removal by the call's label (the client died
/// between creating the container and writing the cidfile, or never created
/// one). Empty when the client was never spawned (nothing to remove).
std::vector<std::string> podman_rm_command(const PodmanOptions& options, const PodmanScratch& scratch,
                                           bool client_started);

/// RunOptions for the podman client of `podman_run`: the bounds of the call,
/// the host's environment and cwd, no watchdog (the container is not in the
/// client's process group; its memory is bounded by --memory).
/// The containment of podman's own processes: `requested`, else subreaper
/// where the machine has it (namespaces around podman confuse it: its
/// mounts and pids must be the host's), else the strongest at least
/// `at_least`.
std::optional<Containment> client_containment(const std::optional<Containment>& requested,
                                              Containment at_least);

RunOptions client_run_options(const PodmanOptions& options);

/// validate_container, then the client's bounds (validate_run_options);
/// returns the client's RunOptions. Throws std::invalid_argument, before
/// anything is created.
RunOptions checked_client_run_options(const std::vector<std::string>& argv, const PodmanOptions& options);

/// RunOptions for the cleanup command.
RunOptions cleanup_run_options(const PodmanOptions& options);

/// Throws std::runtime_error if the cleanup result says the container may
/// have been left behind.
void check_cleanup_result(const std::vector<std::string>& rm_command, const Result& rm_result);

/// The synchronous cleanup: runs the `podman rm` command (bounded by
/// cleanup_timeout) and deletes the scratch folder. Throws like
/// check_cleanup_result, or std::system_error if podman cannot be started;
/// the folder is deleted in every case.
void remove_container_sync(const PodmanOptions& options, PodmanScratch& scratch, bool client_started);

/// The whole call of a sync face, once its options are checked: creates the
/// scratch folder, calls `run_client` with the `podman run` command, then
/// removes the container (remove_container_sync) whatever happened. If
/// `run_client` throws, the cleanup runs as if the client had started (a
/// spawn failure makes it fail the same way), its own error is dropped and
/// the first one is rethrown. The result's `elapsed` covers the cleanup.
/// Throws like PodmanScratch, remove_container_sync and `run_client`.
Result run_container_sync(const std::vector<std::string>& argv, const PodmanOptions& options,
                          const std::function<Result(const std::vector<std::string>& command)>& run_client);

/// One container call of an async face: an owned copy of the options, the
/// scratch folder and the `podman run` command. The cleanup is normally done
/// asynchronously by the face, which then calls `cleanup_done`; if the call
/// is destroyed before that (its executor went away, say) while the client
/// may have started, the destructor removes the container synchronously
/// (bounded by cleanup_timeout) and never throws.
class PodmanCall {
 public:
  /// Creates the scratch folder (std::system_error if it cannot).
  PodmanCall(const std::vector<std::string>& argv, PodmanOptions options);
  PodmanCall(const PodmanCall&) = delete;
  PodmanCall& operator=(const PodmanCall&) = delete;
  ~PodmanCall();

  const std::vector<std::string>& command() const noexcept { return command_; }
  const PodmanOptions& options() const noexcept { return options_; }
  /// The cleanup command (see podman_rm_command); the client counts as started.
  std::vector<std::string> rm_command() const;
  /// Whether the client may have started: from then on the destructor
  /// cleans up if the face did not.
  void set_client_started(bool started) noexcept { started_ = started; }
  /// The synchronous cleanup, for faces that cannot run the async one;
  /// errors are swallowed. Idempotent.
  void cleanup_now() noexcept;
  /// The face's cleanup ended with `rm_error` / `rm_result`: deletes the
  /// scratch folder and returns the error to report (null when the
  /// container is gone).
  std::exception_ptr cleanup_done(std::exception_ptr rm_error, const Result& rm_result) noexcept;

 private:
  PodmanOptions options_;
  PodmanScratch scratch_;
  std::vector<std::string> command_;
  bool started_ = false;
  bool cleaned_ = false;
};

}  // namespace bounded_subprocess::detail
