// The error thrown when a child cannot be started.
#pragma once

#include <string>
#include <system_error>

namespace bounded_subprocess {

/// A program that could not be started. `code()` is the errno; `subject()`
/// says what failed and `path()` names it, so a caller need not guess from
/// the message whether the program or the working directory was at fault.
/// Nothing was left running when this is thrown.
class SpawnError : public std::system_error {
 public:
  enum class Subject {
    program,      ///< the program: not found, not executable, exec failed (path: the program)
    cwd,          ///< the working directory (path: the directory)
    containment,  ///< the requested containment is not available here (path: its name)
    system,       ///< a resource of the host: out of fds, processes, memory (path: the program)
  };

  SpawnError(int err, Subject subject, std::string path, const std::string& what)
      : std::system_error(err, std::generic_category(), what), subject_(subject), path_(std::move(path)) {}

  Subject subject() const noexcept { return subject_; }
  const std::string& path() const noexcept { return path_; }

 private:
  Subject subject_;
  std::string path_;
};

}  // namespace bounded_subprocess
