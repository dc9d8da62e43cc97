// A command as execve(2) takes it: the program looked up in the child's
// PATH, and argv and envp as NUL-terminated arrays.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::detail {

class ExecCommand {
 public:
  /// Resolves argv[0] in the PATH the child will have (its own `env`, else
  /// the host's). Throws SpawnError (subject program) when it is not found
  /// or not executable.
  ExecCommand(const std::vector<std::string>& argv, const std::optional<Environment>& env);
  /// A copy that owns every byte the child reads, for a start the caller
  /// does not wait for: the argv, and the environment (the host's as it is
  /// now, when the command has none of its own; a later setenv cannot pull
  /// it away).
  struct OwnAll {};
  ExecCommand(OwnAll, const ExecCommand& from);
  ExecCommand(const ExecCommand&) = delete;
  ExecCommand& operator=(const ExecCommand&) = delete;

  const char* path() const noexcept { return path_.c_str(); }
  char* const* argv() const noexcept { return argv_.data(); }
  /// The given environment, or the host's own (`environ`).
  char* const* envp() const noexcept;

 private:
  std::string path_;
  std::vector<char*> argv_;
  std::vector<std::string> argv_storage_;  ///< OwnAll: the argv's bytes
  std::vector<std::string> env_storage_;
  std::vector<char*> envp_;
  bool own_env_ = false;
};

}  // namespace bounded_subprocess::detail
