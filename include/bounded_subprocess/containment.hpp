// How a run keeps every descendant of its child under control, so that
// nothing it starts outlives the run.
#pragma once

#include <iosfwd>
#include <optional>
#include <string_view>

namespace bounded_subprocess {

/// The mechanisms, from the weakest to the strongest. Each one kills every
/// process of the run when the run ends (the direct child's exit, the
/// deadline, a memory kill, cancellation, `close()` or destruction); they
/// differ in what a hostile descendant can do against them.
enum class Containment {
  /// The child's own process group (the original Python library's behaviour). A descendant that
  /// calls setsid() or setpgid() leaves it and survives the run.
  process_group,
  /// A small init of the library's is the child's parent and a child
  /// subreaper (PR_SET_CHILD_SUBREAPER): every orphaned descendant is
  /// reparented to it, and it kills and reaps them all at the end. A
  /// descendant running as the same user can still SIGKILL or SIGSTOP the
  /// init itself.
  subreaper,
  /// The init is process 1 of a new PID namespace (inside a new user
  /// namespace that maps the caller's own uid and gid when the caller is not
  /// root): no descendant can leave the namespace or signal the init, and
  /// the kernel kills the whole namespace when the init ends.
  pid_namespace,
  /// pid_namespace plus a cgroup v2 of its own (where the caller's cgroup
  /// subtree is writable), ended with `cgroup.kill`, and a cgroup namespace
  /// so that no descendant can move itself out of it.
  cgroup,
};

/// "process_group", "subreaper", "pid_namespace" or "cgroup".
std::string_view to_string(Containment containment) noexcept;
/// The inverse of to_string; nothing for any other text.
std::optional<Containment> containment_from_string(std::string_view name) noexcept;
std::ostream& operator<<(std::ostream& os, Containment containment);

/// The strongest mechanism this process can use now (probed once, then
/// cached). Never throws.
Containment strongest_containment() noexcept;

/// Whether this process can use `containment` now (probed once, then cached).
bool containment_available(Containment containment) noexcept;

/// pid_namespace and cgroup runs use warm sandboxes: namespaces made once
/// and kept by this process (a few idle processes and their fds) for the
/// next runs; isolated runs with limits on a cgroup v1 host keep their v1
/// limit cgroups for the next runs too. This ends the idle ones now and
/// waits until they are gone, and removes the kept cgroups; runs in flight
/// keep theirs. For a host that wants no process, fd or cgroup of the
/// library's left (before a check of its own, or before it daemonizes);
/// the next run makes new ones. Thread-safe; never throws.
void drop_warm_sandboxes() noexcept;

}  // namespace bounded_subprocess
